"""The Evaluate page's logic: the leaderboard, its curves, the survey's conclusions checked on the
models at hand, and the failure finder (worst queries, per-class AP, retrieval confusion, cross-class
collisions). Everything returns data (pandas DataFrames, numpy arrays, dataclasses) or plotly
figures; nothing here imports streamlit.

Comparisons only ever put side by side models trained on the same dataset, protocol and code
length ("a setting"), and read the stored query metrics (mAP@all unless said otherwise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from hashviz import plots
from hashviz.data import describe_protocol
from hashviz.errors import HashvizError
from hashviz.methods.registry import family_info
from hashviz.metrics import MAP_K, PRECISION_KS, LOOKUP_RADIUS
from hashviz.zoo import ModelDir

__all__ = [
    "LEADERBOARD_COLUMNS", "HAMMING_ONLY_COLUMNS", "protocol_statement", "leaderboard_table",
    "leaderboard_csv", "not_applicable_note", "pr_curves", "precision_at_k_curves", "map_vs_bits_rows",
    "pr_figure", "precision_at_k_curve_figure", "map_vs_bits_curve_figure",
    "Conclusion", "check_conclusions", "HOLDS", "DOES_NOT_HOLD", "CANNOT_CHECK",
    "FailureReport", "failure_report", "per_query_ap", "worst_queries", "per_class_ap",
    "retrieval_confusion", "confusion_figure", "cross_class_collisions", "class_names_of", "top_n",
    "regularisers_text",
]

# ---------------------------------------------------------------------------------- leaderboard

LEADERBOARD_COLUMNS = ["model", "method", "family", "bits", "code type", "dataset", "protocol",
                       "regularisers", "mAP@all", f"mAP@{MAP_K}", "tie-aware mAP",
                       f"P@H<={LOOKUP_RADIUS}", "empty-ball share", "train s"]
#: columns that need Hamming distances: NaN (shown "n/a") for product-quantised models.
HAMMING_ONLY_COLUMNS = ["tie-aware mAP", f"P@H<={LOOKUP_RADIUS}", "empty-ball share"]
_METRIC_OF = {"mAP@all": "map_all", f"mAP@{MAP_K}": "map_1000", "tie-aware mAP": "map_tie_aware",
              f"P@H<={LOOKUP_RADIUS}": "p_h2", "empty-ball share": "p_h2_empty"}


def _number(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def regularisers_text(config: dict) -> str:
    """"balance=0.1, quantization=0.1" (empty string for none)."""
    regs = config.get("regularizers") or {}
    return ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in sorted(regs.items()))


def protocol_statement(models: Sequence[ModelDir] = ()) -> str:
    """The evaluation protocol in words (markdown), naming the protocols of the given models."""
    protocols = sorted({m.protocol for m in models})
    named = "; ".join(describe_protocol(p) for p in protocols) or "no models yet"
    ks = ", ".join(str(k) for k in PRECISION_KS)
    return (
        f"**Protocol.** {named}. Each query ranks the whole database by **Hamming distance, ties "
        f"broken by database index** (product-quantised models rank by asymmetric distance to their "
        f"codewords, ties by index too). **mAP@all** averages AP over the full ranking, "
        f"**mAP@{MAP_K}** over the top {MAP_K}; AP@k divides by the relevant items found in the top "
        f"k, and **a query with no relevant item there scores 0** (it is not dropped). **Tie-aware "
        f"mAP** (He et al., arXiv:1705.08562) is the expected AP when the items at one Hamming distance "
        f"come in random order, so it does not reward lucky index order. **P@H<={LOOKUP_RADIUS}** is the "
        f"precision of the Hamming ball of radius {LOOKUP_RADIUS}, where **an empty ball counts as "
        f"precision 0**; the empty-ball share says how often that happened. Precision@k uses k = {ks}. "
        f"**Model selection**: a deep model keeps the epoch with the best validation mAP@all "
        f"(validation queries against the training images); the query set is never used before "
        f"these numbers. One seed per model."
    )


def leaderboard_table(models: Iterable[ModelDir]) -> pd.DataFrame:
    """One row per model with LEADERBOARD_COLUMNS; metric columns are floats (NaN when a model has
    no such number, e.g. Hamming-only metrics of pq models), sorted by mAP@all descending."""
    rows = []
    for m in models:
        metrics = m.metrics
        row = {"model": m.name, "method": m.method, "family": m.family, "bits": int(m.bits),
               "code type": m.code_type, "dataset": m.dataset, "protocol": m.protocol,
               "regularisers": regularisers_text(m.config)}
        row.update({col: _number(metrics.get(key)) for col, key in _METRIC_OF.items()})
        row["train s"] = _number(m.config.get("train_seconds"))
        rows.append(row)
    table = pd.DataFrame(rows, columns=LEADERBOARD_COLUMNS)
    for col in [*_METRIC_OF, "train s"]:
        table[col] = table[col].astype(float)
    return table.sort_values("mAP@all", ascending=False, na_position="last", kind="stable") \
        .reset_index(drop=True)


def leaderboard_csv(table: pd.DataFrame) -> str:
    """The table as CSV text; missing numbers are written "n/a" (as on screen)."""
    return table.to_csv(index=False, na_rep="n/a", float_format="%.4f")


def not_applicable_note(table: pd.DataFrame) -> str | None:
    """Why some cells read "n/a" (None when none do)."""
    pq = table.loc[table["code type"] == "pq", "model"].tolist()
    missing = table.loc[(table["code type"] != "pq") & table[list(_METRIC_OF)].isna().any(axis=1), "model"].tolist()
    parts = []
    if pq:
        parts.append(f"{', '.join(pq)}: product-quantised codes are codeword indices ranked by asymmetric "
                     "distance, not bit strings, so they have no Hamming distance, no Hamming ties and "
                     "no Hamming ball: " + ", ".join(HAMMING_ONLY_COLUMNS) + " are n/a.")
    if missing:
        parts.append(f"{', '.join(missing)}: the model directory stores no such metric (re-evaluate it).")
    return " ".join(parts) or None


# ---------------------------------------------------------------------------------- curves

def pr_curves(models: Iterable[ModelDir]) -> tuple[dict, list[str]]:
    """({name: {"precision", "recall", "radius"}}, names without a Hamming PR curve (pq models))."""
    curves, skipped = {}, []
    for m in models:
        pr = m.metrics.get("pr_curve")
        if not isinstance(pr, dict) or not pr.get("precision"):
            skipped.append(m.name)
            continue
        curves[m.name] = {"precision": pr["precision"], "recall": pr["recall"],
                          "radius": pr.get("radius", list(range(len(pr["precision"]))))}
    return curves, skipped


def precision_at_k_curves(models: Iterable[ModelDir]) -> dict[str, dict[int, float]]:
    """{name: {k: precision@k}} for the models that store precision@k."""
    out = {}
    for m in models:
        pk = m.metrics.get("precision_at_k")
        if isinstance(pk, dict) and pk:
            out[m.name] = {int(k): float(v) for k, v in pk.items()}
    return out


def map_vs_bits_rows(models: Iterable[ModelDir]) -> list[tuple[str, int, float]]:
    """(series, bits, mAP@all) of the models without regularisers, one series per method (and
    dataset, when the models span several). Only series with at least two code lengths are kept."""
    models = [m for m in models if not (m.config.get("regularizers") or {})]
    several = len({(m.dataset, m.protocol) for m in models}) > 1
    series: dict[str, dict[int, float]] = {}
    for m in models:
        value = _number(m.metrics.get("map_all"))
        if math.isnan(value):
            continue
        name = f"{m.method} ({m.dataset})" if several else m.method
        series.setdefault(name, {})[int(m.bits)] = value
    return [(name, b, v) for name, pts in sorted(series.items()) if len(pts) >= 2
            for b, v in sorted(pts.items())]


def pr_figure(models: Iterable[ModelDir]) -> go.Figure:
    curves, _ = pr_curves(models)
    return plots.pr_curve_figure(curves, title="Precision-recall over Hamming radius (radius 0 .. bits)")


def precision_at_k_curve_figure(models: Iterable[ModelDir]) -> go.Figure:
    fig = plots.precision_at_k_figure(precision_at_k_curves(models))
    fig.update_xaxes(type="log", tickvals=list(PRECISION_KS), ticktext=[str(k) for k in PRECISION_KS])
    return fig


def map_vs_bits_curve_figure(models: Iterable[ModelDir]) -> go.Figure:
    return plots.map_vs_bits_figure(map_vs_bits_rows(models), title="mAP@all vs code length, per method")


# ---------------------------------------------------------------------------------- conclusions

HOLDS = "holds"
DOES_NOT_HOLD = "does not hold here"
CANNOT_CHECK = "cannot check here (missing models)"


@dataclass
class Conclusion:
    """One of the survey's conclusions checked on the models at hand.

    evidence: one row per comparison (setting, the two sides' best models and mAPs, the gap and
    whether the claim held there). verdict: HOLDS when it held in more than half the comparisons,
    DOES_NOT_HOLD otherwise, CANNOT_CHECK when no comparison was possible."""

    key: str
    claim: str
    test: str
    verdict: str
    summary: str
    evidence: pd.DataFrame = field(repr=False)
    needs: str = ""


def _setting(m: ModelDir) -> tuple:
    return (m.dataset, m.protocol, int(m.bits))


def _setting_text(setting: tuple) -> str:
    return f"{setting[0]} · {setting[1]} · {setting[2]} bits"


def _map(m: ModelDir) -> float:
    return _number(m.metrics.get("map_all"))


def _plain(models) -> list[ModelDir]:
    return [m for m in models if not (m.config.get("regularizers") or {}) and not math.isnan(_map(m))]


def _verdict(evidence: pd.DataFrame) -> str:
    if evidence.empty:
        return CANNOT_CHECK
    return HOLDS if evidence["holds"].sum() * 2 > len(evidence) else DOES_NOT_HOLD


def _best_vs_best(models, side_a, side_b, name_a: str, name_b: str) -> pd.DataFrame:
    """Per setting holding both sides: the best model of each side by mAP@all."""
    rows = []
    for setting in sorted({_setting(m) for m in models}):
        here = [m for m in models if _setting(m) == setting]
        a = [m for m in here if side_a(m)]
        b = [m for m in here if side_b(m)]
        if not a or not b:
            continue
        best_a, best_b = max(a, key=_map), max(b, key=_map)
        rows.append({"setting": _setting_text(setting), f"best {name_a}": best_a.name,
                     f"{name_a} mAP": _map(best_a), f"best {name_b}": best_b.name,
                     f"{name_b} mAP": _map(best_b), "gap": _map(best_a) - _map(best_b),
                     "holds": bool(_map(best_a) > _map(best_b))})
    columns = ["setting", f"best {name_a}", f"{name_a} mAP", f"best {name_b}", f"{name_b} mAP", "gap", "holds"]
    return pd.DataFrame(rows, columns=columns)


def _summary(evidence: pd.DataFrame, name_a: str, name_b: str) -> str:
    if evidence.empty:
        return ""
    wins = int(evidence["holds"].sum())
    return (f"{name_a} ahead in {wins} of {len(evidence)} setting(s); mean gap "
            f"{evidence['gap'].mean():+.3f} mAP@all.")


def _conclusion(key, claim, test, models, side_a, side_b, name_a, name_b, needs) -> Conclusion:
    evidence = _best_vs_best(models, side_a, side_b, name_a, name_b)
    return Conclusion(key, claim, test, _verdict(evidence), _summary(evidence, name_a, name_b), evidence,
                      needs if evidence.empty else "")


def _ablation_evidence(models: Sequence[ModelDir]) -> pd.DataFrame:
    plain = {(m.method, *_setting(m)): m for m in _plain(models)}
    rows = []
    for m in models:
        regs = m.config.get("regularizers") or {}
        base = plain.get((m.method, *_setting(m)))
        if not regs or base is None or math.isnan(_map(m)):
            continue
        rows.append({"setting": _setting_text(_setting(m)), "method": m.method,
                     "tricks": regularisers_text(m.config), "with tricks": m.name, "with mAP": _map(m),
                     "without tricks": base.name, "without mAP": _map(base), "gap": _map(m) - _map(base),
                     "holds": bool(_map(m) > _map(base))})
    columns = ["setting", "method", "tricks", "with tricks", "with mAP", "without tricks", "without mAP",
               "gap", "holds"]
    return pd.DataFrame(rows, columns=columns)


def check_conclusions(models: Sequence[ModelDir]) -> list[Conclusion]:
    """The survey's four conclusions, each checked on the models at hand (same dataset, protocol and
    code length compared only; models with regularisers only enter the tricks check)."""
    models = list(models)
    plain = _plain(models)
    def family_is(test):                         # what the registry says of the model's family
        return lambda m: (f := family_info(m.family)) is not None and test(f)
    deep, shallow = family_is(lambda f: f.deep), family_is(lambda f: not f.deep)
    similarity_only = family_is(lambda f: f.similarity_only)
    out = [
        _conclusion(
            "deep_beats_shallow", "Deep hashing methods are far ahead of shallow ones (LSH, PCAH, ITQ, SH).",
            "Per setting, the best deep model's mAP@all against the best shallow model's.",
            plain, deep, shallow, "deep", "shallow",
            "a deep model and a shallow baseline (LSH, PCAH, ITQ or SH) trained on the same dataset, "
            "protocol and code length"),
        _conclusion(
            "similarity_matters", "Similarity information is needed: codes learned to preserve "
            "label-derived similarity beat codes that never see it.",
            "Per setting, the best model trained on supervised similarity (pairwise, multiwise, implicit "
            "or classification family) against the best unsupervised shallow model (which sees only "
            "pixels).", plain,
            family_is(lambda f: f.similarity_only or f.uses_labels), shallow,
            "similarity-supervised", "unsupervised",
            "a pairwise, multiwise, implicit or classification model and a shallow baseline on the "
            "same dataset, protocol and code length"),
        _conclusion(
            "labels_help", "Labels help: methods that use the class labels directly do better than "
            "those that only see pairwise or ranking similarity.",
            "Per setting, the best classification-oriented model (class labels / class centres) against "
            "the best similarity-only deep model (pairwise, multiwise or implicit family).", plain,
            family_is(lambda f: f.uses_labels), similarity_only,
            "label-using", "similarity-only",
            "a classification-oriented model (CSQ, GreedyHash, SSDH) and a pairwise, multiwise or "
            "implicit one on the same dataset, protocol and code length"),
    ]
    evidence = _ablation_evidence(models)
    wins = int(evidence["holds"].sum()) if not evidence.empty else 0
    out.append(Conclusion(
        "tricks_help", "The tricks (bit balance, bit independence / decorrelation, quantization "
        "penalties) make the codes better.",
        "Each ablation model (trained with regularisers) against the same method, code length and "
        "setting trained without them.",
        _verdict(evidence),
        "" if evidence.empty else f"the tricks helped in {wins} of {len(evidence)} ablation(s); mean gap "
                                  f"{evidence['gap'].mean():+.3f} mAP@all.",
        evidence,
        "" if not evidence.empty else
        "ablation models (trained with regularisers, e.g. `hashviz zoo results` builds dpsh-32-balance) "
        "next to the same method and code length trained without them"))
    return out


# ---------------------------------------------------------------------------------- failure finder

def class_names_of(model: ModelDir) -> list[str]:
    """Class names from the config, else "0", "1", ... up to the largest label."""
    names = model.config.get("class_names")
    labels = np.concatenate([np.ravel(model.query_labels), np.ravel(model.database_labels)])
    n = int(labels.max()) + 1 if model.query_labels.ndim == 1 and labels.size else model.query_labels.shape[-1]
    if isinstance(names, list) and len(names) >= n:
        return [str(c) for c in names]
    return [str(i) for i in range(n)]


def _single_label(model: ModelDir) -> None:
    if model.query_labels.ndim != 1:
        raise HashvizError(f"{model.name} has multi-label codes; per-class tables need one label per image")


def _pq_index(model: ModelDir):
    from hashviz.search import PQIndex
    return PQIndex(model.database_codes, model.codebooks, metric=(model.config.get("pq") or {}).get("metric", "l2"))


def per_query_ap(model: ModelDir) -> np.ndarray:
    """float64 (n_queries,): AP@all of every query (hashviz.metrics definitions; pq models by
    asymmetric distance, the same ranking and zero-relevant rule)."""
    from hashviz.metrics import average_precision_per_query, relevance
    if model.code_type != "pq":
        return average_precision_per_query(model.query_codes, model.database_codes, model.query_labels,
                                           model.database_labels)
    index = _pq_index(model)
    out = np.zeros(len(model.query_codes))
    for start in range(0, len(out), 64):
        stop = min(start + 64, len(out))
        dist = index.distances(model.query_vectors[start:stop])
        rel = relevance(model.query_labels[start:stop], model.database_labels)
        for i in range(stop - start):
            r = rel[i][np.argsort(dist[i], kind="stable")]
            cum = np.cumsum(r)
            if cum[-1]:
                out[start + i] = (cum[r] / (np.flatnonzero(r) + 1)).sum() / cum[-1]
    return out


def top_n(model: ModelDir, rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(distances, database rows int64 (len(rows), n)) of the given query rows, in ranking order."""
    rows = np.asarray(rows, dtype=np.int64)
    if model.code_type == "pq":
        return _pq_index(model).knn(model.query_vectors[rows], n)
    from hashviz.search import HammingIndex
    return HammingIndex(model.database_codes, kind="flat").knn(model.query_codes[rows], n)


def worst_queries(model: ModelDir, ap: np.ndarray, count: int = 10, n: int = 10) -> pd.DataFrame:
    """The `count` queries with the lowest AP (ties by query row), with their top-n retrievals.

    Columns: query row, class, AP, relevant in top n, top-n database rows (list), top-n classes (list)."""
    names = class_names_of(model)
    order = np.lexsort((np.arange(len(ap)), ap))[:count]
    _, ids = top_n(model, order, n)
    rows = []
    for q, retrieved in zip(order, ids):
        q_label = int(model.query_labels[q]) if model.query_labels.ndim == 1 else -1
        got = model.database_labels[retrieved]
        relevant = int((got == q_label).sum()) if model.query_labels.ndim == 1 else \
            int(((got & model.query_labels[q]) > 0).any(axis=1).sum())
        rows.append({"query row": int(q), "class": names[q_label] if q_label >= 0 else "multi-label",
                     "AP": float(ap[q]), f"relevant in top {n}": relevant,
                     f"top {n} database rows": [int(i) for i in retrieved],
                     f"top {n} classes": [names[int(c)] if np.ndim(c) == 0 else "multi" for c in got]})
    return pd.DataFrame(rows)


def per_class_ap(model: ModelDir, ap: np.ndarray) -> pd.DataFrame:
    """Per query class: number of queries, mean AP (the class's share of mAP@all), its worst query."""
    _single_label(model)
    names = class_names_of(model)
    labels = np.asarray(model.query_labels)
    rows = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        worst = members[np.argmin(ap[members])]
        rows.append({"class": names[int(c)], "label": int(c), "queries": int(len(members)),
                     "mAP": float(ap[members].mean()), "worst query row": int(worst),
                     "worst AP": float(ap[worst])})
    return pd.DataFrame(rows).sort_values(["mAP", "label"]).reset_index(drop=True)


def retrieval_confusion(model: ModelDir, n: int = 10, retrieved: np.ndarray | None = None) -> np.ndarray:
    """float64 (C, C): row = query class, column = class of a retrieved item, value = share of that
    class in the top-n retrievals of the row's queries (each row sums to 1). `retrieved` may pass
    precomputed top-n database rows (n_queries, n)."""
    _single_label(model)
    c = len(class_names_of(model))
    if retrieved is None:
        _, retrieved = top_n(model, np.arange(len(model.query_codes)), n)
    got = np.asarray(model.database_labels)[retrieved].astype(np.int64)
    q = np.repeat(np.asarray(model.query_labels, dtype=np.int64), got.shape[1])
    counts = np.bincount(q * c + got.ravel(), minlength=c * c).reshape(c, c).astype(np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def confusion_figure(matrix: np.ndarray, names: Sequence[str], n: int) -> go.Figure:
    return plots.confusion_heatmap(np.round(matrix, 2), names,
                                   title=f"Which classes the top {n} retrievals come from (share per query class)")


def cross_class_collisions(model: ModelDir, limit: int = 50) -> pd.DataFrame:
    """Database buckets of identical codes holding more than one class, largest first.

    One row per (bucket, class): code, bucket size, classes in the bucket, the class, how many of its
    items share the code, and its first database row. Empty when no code is shared across classes."""
    from hashviz.codes import bit_strip
    from hashviz.diagnostics import bucket_occupancy
    _single_label(model)
    names = class_names_of(model)
    stats = bucket_occupancy(model.database_codes, model.database_labels, code_type=model.code_type, top=0)
    bucket = stats.bucket_of_row
    labels = np.asarray(model.database_labels, dtype=np.int64)
    n_classes = np.bincount(np.unique(bucket * (labels.max() + 1) + labels) // (labels.max() + 1),
                            minlength=len(stats.bucket_sizes))
    first_row = np.full(len(stats.bucket_sizes), len(bucket), dtype=np.int64)
    np.minimum.at(first_row, bucket, np.arange(len(bucket)))
    mixed = np.flatnonzero(n_classes > 1)
    mixed = mixed[np.lexsort((first_row[mixed], -stats.bucket_sizes[mixed]))]
    rows = []
    for b in mixed:
        members = np.flatnonzero(bucket == b)
        code_row = model.database_codes[members[0]]
        code = bit_strip(code_row) if model.code_type != "pq" else "-".join(str(int(v)) for v in code_row)
        for c in np.unique(labels[members]):
            mine = members[labels[members] == c]
            rows.append({"code": code, "bucket size": int(len(members)), "classes in bucket": int(n_classes[b]),
                         "class": names[int(c)], "items of class": int(len(mine)),
                         "database row": int(mine[0])})
            if len(rows) >= limit:
                break
        if len(rows) >= limit:
            break
    return pd.DataFrame(rows, columns=["code", "bucket size", "classes in bucket", "class",
                                       "items of class", "database row"])


@dataclass
class FailureReport:
    """Everything the failure finder shows for one model."""

    model: str
    n: int
    mean_ap: float
    worst: pd.DataFrame
    per_class: pd.DataFrame
    confusion: np.ndarray
    class_names: list[str]
    collisions: pd.DataFrame
    single_label: bool


def failure_report(model: ModelDir, n: int = 10, worst: int = 10, collisions: int = 50) -> FailureReport:
    """Per-query AP once, then the worst queries, per-class AP, the top-n confusion matrix and the
    cross-class collisions (the last three need single-label data and are empty otherwise)."""
    if n < 1 or worst < 1:
        raise HashvizError("the number of retrievals and of worst queries must be at least 1")
    ap = per_query_ap(model)
    single = model.query_labels.ndim == 1
    names = class_names_of(model)
    if single:
        per_class = per_class_ap(model, ap)
        confusion = retrieval_confusion(model, n)
        coll = cross_class_collisions(model, collisions)
    else:
        per_class, confusion, coll = pd.DataFrame(), np.zeros((0, 0)), pd.DataFrame()
    return FailureReport(model.name, n, float(ap.mean()), worst_queries(model, ap, worst, n), per_class,
                         confusion, names, coll, single)
