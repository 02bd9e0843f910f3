"""Seen and unseen classes: how a model's codes fare on classes its training never saw.

A model trained on a protocol that holds classes out (hashviz.data.protocols, e.g. fmnist-unseen2,
config.json's ``unseen_classes``) is scored in four settings, after Sablayrolles et al. (arXiv
1609.06753) and aassxun/DSH_Analysis; ``query@database`` names which queries search which database:

    seen@seen       queries of the seen classes, database items of the seen classes only
    seen@all        queries of the seen classes, the whole database
    unseen@unseen   queries of the held-out classes, database items of the held-out classes only
    unseen@all      queries of the held-out classes, the whole database

Each setting is the plain metric set (hashviz.metrics: same ranking, relevance and tie rules) on
those rows, stored as ``metrics.settings[<setting>]`` beside the model's usual metrics (every
query against the whole database). An imported model is judged the same way when the user names
its held-out classes; that needs one label per item (a multi-label item has no single class).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from hashviz.errors import HashvizError
from hashviz.model_checks import SETTINGS

__all__ = ["SETTINGS", "SETTINGS_TEXT", "setting_rows", "settings_metrics", "unseen_classes_of",
           "model_settings", "parse_classes", "unseen_query_rows", "settings_lines", "settings_table",
           "held_out_table"]

SETTINGS_TEXT = (
    "The model never saw the held-out classes in training or validation. **seen@seen** asks the usual "
    "closed-set question: do queries of the trained classes find their class among trained classes only? "
    "**seen@all** adds the held-out classes' images to the database: do images of classes never seen "
    "crowd into the codes of known ones and push true matches down? **unseen@unseen** asks whether codes "
    "still separate classes the model never saw when only those classes compete. **unseen@all** is the "
    "hardest and most realistic test: can a never-seen class be found among everything else, when its "
    "images may share codes with the trained classes?")

Score = Callable[[np.ndarray, np.ndarray], dict]


def _check(unseen: Sequence[int], query_labels: np.ndarray, database_labels: np.ndarray) -> np.ndarray:
    if np.asarray(query_labels).ndim != 1 or np.asarray(database_labels).ndim != 1:
        raise HashvizError("seen/unseen settings need one class per item; these labels are multi-label")
    unseen = np.unique(np.asarray(list(unseen), dtype=np.int64))
    present = np.union1d(query_labels, database_labels)
    if not len(unseen):
        raise HashvizError("name at least one held-out class")
    missing = np.setdiff1d(unseen, query_labels)
    if len(missing):
        raise HashvizError(f"no query is of class {', '.join(map(str, missing))}; the held-out classes must "
                           f"be among the query labels ({', '.join(map(str, np.unique(query_labels)))})")
    if not len(np.setdiff1d(present, unseen)):
        raise HashvizError("every class is held out; at least one class must stay seen")
    return unseen


def setting_rows(query_labels: np.ndarray, database_labels: np.ndarray,
                 unseen: Sequence[int]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{setting: (query rows, database rows)} (int64, ascending) for single-label data."""
    unseen = _check(unseen, query_labels, database_labels)
    q_unseen, db_unseen = np.isin(query_labels, unseen), np.isin(database_labels, unseen)
    everything = np.arange(len(database_labels))
    return {"seen@seen": (np.flatnonzero(~q_unseen), np.flatnonzero(~db_unseen)),
            "seen@all": (np.flatnonzero(~q_unseen), everything),
            "unseen@unseen": (np.flatnonzero(q_unseen), np.flatnonzero(db_unseen)),
            "unseen@all": (np.flatnonzero(q_unseen), everything)}


def settings_metrics(score: Score, query_labels: np.ndarray, database_labels: np.ndarray,
                     unseen: Sequence[int]) -> dict[str, dict]:
    """{setting: the reported metrics and precision@k} where score(query rows, database rows) returns
    hashviz.metrics' dict for those rows (the PR curve is left out: one per model is enough)."""
    from hashviz.evaluation import metric_keys
    out = {}
    for name, (q, db) in setting_rows(query_labels, database_labels, unseen).items():
        if not len(q) or not len(db):
            raise HashvizError(f"{name} has no {'queries' if not len(q) else 'database items'}")
        metrics = score(q, db)
        out[name] = {k: metrics[k] for k in metric_keys()}
    return out


def unseen_classes_of(model) -> tuple[int, ...]:
    """The classes the model's training held out (config.json), () for a model that saw every class."""
    return tuple(int(c) for c in model.config.get("unseen_classes") or ())


def unseen_query_rows(model, unseen: Sequence[int] | None = None) -> np.ndarray:
    """Query rows of the held-out classes (the recorded ones unless `unseen` names others)."""
    unseen = unseen_classes_of(model) if unseen is None else unseen
    if not len(unseen):
        raise HashvizError(f"{model.name} holds no class out; name the held-out classes")
    _check(unseen, model.query_labels, model.database_labels)
    return np.flatnonzero(np.isin(model.query_labels, list(unseen)))


def model_settings(model, unseen: Sequence[int] | None = None) -> tuple[tuple[int, ...], dict[str, dict]]:
    """(held-out classes, {setting: metrics}) of a model directory: the stored settings for its recorded
    classes, else recomputed from its codes for the classes named (an import, or a what-if)."""
    recorded = unseen_classes_of(model)
    chosen = tuple(sorted({int(c) for c in unseen})) if unseen is not None else recorded
    if not chosen:
        raise HashvizError(f"{model.name} was trained on every class; name the held-out classes "
                           "(--unseen-classes 3,7) to score its codes as if those were never seen")
    stored = (model.config.get("metrics") or {}).get("settings")
    if chosen == recorded and stored and set(stored) == set(SETTINGS):
        return chosen, {name: {**m, "precision_at_k": {int(k): v for k, v in m.get("precision_at_k", {}).items()}}
                        for name, m in ((s, stored[s]) for s in SETTINGS)}
    return chosen, settings_metrics(_codes_scorer(model), model.query_labels, model.database_labels, chosen)


def _codes_scorer(model) -> Score:
    """Score query rows against database rows from a model directory's stored codes."""
    from hashviz.code_space import code_space
    space = code_space(model)
    return lambda q, db: space.subset(q, db).evaluate()


def parse_classes(text: str, class_names: Sequence[str]) -> tuple[int, ...]:
    """'3,7' or 'Shirt,Sneaker' (ids or names, comma-separated) -> sorted class ids."""
    ids = []
    names = [str(n).lower() for n in class_names]
    for part in (p.strip() for p in str(text).split(",")):
        if part.isdigit() and int(part) < len(names):
            ids.append(int(part))
        elif part.lower() in names:
            ids.append(names.index(part.lower()))
        else:
            raise HashvizError(f"--unseen-classes: {part!r} is neither a class id (0..{len(names) - 1}) nor a "
                               f"class name ({', '.join(map(str, class_names))})")
    return tuple(sorted(set(ids)))


def settings_lines(model, unseen: Sequence[int], settings: dict[str, dict], recorded: bool) -> list[str]:
    """`hashviz eval`'s text: the held-out classes, then one line per setting with its query and
    database counts and the reported metrics (the schema's labels and formats)."""
    from hashviz.metrics import format_metric, reported_metrics
    from hashviz.zoo import class_names_of
    names = class_names_of(model)
    held = ", ".join(f"{c} ({names[c]})" if c < len(names) else str(c) for c in unseen)
    source = "held out of training (config.json)" if recorded else "named with --unseen-classes"
    rows = setting_rows(model.query_labels, model.database_labels, unseen)
    schema = reported_metrics()
    lines = [f"seen and unseen classes: {held}, {source}",
             f"  {'setting':<14} {'queries':>7} {'database':>8}  " + "  ".join(f"{m.label:>{max(8, len(m.label))}}" for m in schema)]
    for name in SETTINGS:
        q, db = rows[name]
        lines.append(f"  {name:<14} {len(q):>7} {len(db):>8}  "
                     + "  ".join(f"{format_metric(m, settings[name].get(m.key)):>{max(8, len(m.label))}}"
                                 for m in schema))
    return lines


def settings_table(model, unseen: Sequence[int], settings: dict[str, dict]):
    """The four settings side by side for one model: one row per setting with its query and database
    counts and every reported metric (the schema's labels as columns; NaN where n/a)."""
    import pandas as pd
    from hashviz.metrics import reported_metrics
    rows = setting_rows(model.query_labels, model.database_labels, unseen)
    return pd.DataFrame([{"setting": name, "queries": len(rows[name][0]), "database": len(rows[name][1]),
                          **{m.label: float(settings[name].get(m.key, np.nan)) for m in reported_metrics()}}
                         for name in SETTINGS])


def held_out_table(models):
    """Every model trained with held-out classes: its classes and mAP@all in each setting, side by side."""
    import pandas as pd
    from hashviz.metrics import metric_of
    from hashviz.zoo import class_names_of
    rows, label = [], metric_of("map_all").label
    for model in models:
        held = unseen_classes_of(model)
        if not held:
            continue
        names = class_names_of(model)
        settings = model_settings(model)[1]
        rows.append({"model": model.name, "method": model.method, "bits": model.bits, "protocol": model.protocol,
                     "held out": ", ".join(names[c] for c in held),
                     **{f"{s} {label}": float(settings[s]["map_all"]) for s in SETTINGS}})
    return pd.DataFrame(rows)
