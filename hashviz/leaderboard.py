"""The Evaluate page's logic: the leaderboard, its curves and the survey's conclusions checked on the
models at hand (the failure finder is hashviz.failures). Everything returns data (pandas DataFrames, numpy arrays, dataclasses) or plotly
figures; nothing here imports streamlit.

Comparisons only ever put side by side models trained on the same dataset, protocol and code
length ("a setting"), and read the stored query metrics (mAP@all unless said otherwise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import pandas as pd
import plotly.graph_objects as go

from hashviz import plots
from hashviz.data import describe_protocol
from hashviz import metrics as M
from hashviz.methods.registry import family_info
from hashviz.zoo import ModelDir

__all__ = [
    "leaderboard_columns", "metric_columns", "column_formats", "hamming_only_columns", "protocol_statement", "leaderboard_table",
    "leaderboard_csv", "not_applicable_note", "pr_curves", "precision_at_k_curves", "map_vs_bits_rows",
    "pr_figure", "precision_at_k_curve_figure", "map_vs_bits_curve_figure",
    "Conclusion", "check_conclusions", "HOLDS", "DOES_NOT_HOLD", "CANNOT_CHECK", "regularisers_text",
]

# ---------------------------------------------------------------------------------- leaderboard

_MODEL_COLUMNS = ["model", "method", "family", "bits", "code type", "dataset", "protocol", "regularisers"]


def metric_columns() -> list[str]:
    """The metric columns (labels of hashviz.metrics.reported_metrics) and the training time."""
    return [m.label for m in M.reported_metrics()] + ["train s"]


def leaderboard_columns() -> list[str]:
    return _MODEL_COLUMNS + metric_columns()


def column_formats() -> dict[str, str]:
    """printf formats of the numeric columns (the schema's, and one decimal for seconds)."""
    return {**{m.label: "%" + m.fmt for m in M.reported_metrics()}, "train s": "%.1f"}


def hamming_only_columns() -> list[str]:
    """Columns that need Hamming distances: NaN (shown "n/a") for product-quantised models."""
    return [m.label for m in M.reported_metrics() if m.hamming_only]


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
    ks = ", ".join(str(k) for k in M.PRECISION_KS)
    map_k, radius = M.MAP_K, M.LOOKUP_RADIUS
    return (
        f"**Protocol.** {named}. **Relevant** = same class as the query; for multi-label data "
        f"(several labels per image) **relevant = shares at least one label with the query**. "
        f"Each query ranks the whole database by **Hamming distance, ties "
        f"broken by database index** (product-quantised models rank by asymmetric distance to their "
        f"codewords, ties by index too). **mAP@all** averages AP over the full ranking, "
        f"**mAP@{map_k}** over the top {map_k}; AP@k divides by the relevant items found in the top "
        f"k, and **a query with no relevant item there scores 0** (it is not dropped). **Tie-aware "
        f"mAP** (He et al., arXiv:1705.08562) is the expected AP when the items at one Hamming distance "
        f"come in random order, so it does not reward lucky index order; **mAP tie min / max** are the lowest "
        f"and highest mAP@all any order inside the ties can give (relevant items last / first in every "
        f"group at equal distance): a gap between two models smaller than this range is decided by tie "
        f"order, not by the codes. **P@H<={radius}** is the "
        f"precision of the Hamming ball of radius {radius}, where **an empty ball counts as "
        f"precision 0**; the empty-ball share says how often that happened. Precision@k uses k = {ks}. "
        f"**Model selection**: a deep model keeps the epoch with the best validation mAP@all "
        f"(validation queries against the training images); the query set is never used before "
        f"these numbers. One seed per model."
    )


def leaderboard_table(models: Iterable[ModelDir]) -> pd.DataFrame:
    """One row per model with leaderboard_columns(); metric columns are floats (NaN when a model has
    no such number, e.g. Hamming-only metrics of pq models), sorted by mAP@all descending."""
    rows = []
    for m in models:
        metrics = m.metrics
        row = {"model": m.name, "method": m.method, "family": m.family, "bits": int(m.bits),
               "code type": m.code_type, "dataset": m.dataset, "protocol": m.protocol,
               "regularisers": regularisers_text(m.config)}
        row.update({c.label: _number(metrics.get(c.key)) for c in M.reported_metrics()})
        row["train s"] = _number(m.config.get("train_seconds"))
        rows.append(row)
    table = pd.DataFrame(rows, columns=leaderboard_columns())
    for col in metric_columns():
        table[col] = table[col].astype(float)
    return table.sort_values("mAP@all", ascending=False, na_position="last", kind="stable") \
        .reset_index(drop=True)


def leaderboard_csv(table: pd.DataFrame) -> str:
    """The table as CSV text; missing numbers are written "n/a" (as on screen)."""
    return table.to_csv(index=False, na_rep="n/a", float_format="%.4f")


def not_applicable_note(table: pd.DataFrame) -> str | None:
    """Why some cells read "n/a" (None when none do)."""
    pq = table.loc[table["code type"] == "pq", "model"].tolist()
    reported = [m.label for m in M.reported_metrics()]
    missing = table.loc[(table["code type"] != "pq") & table[reported].isna().any(axis=1), "model"].tolist()
    parts = []
    if pq:
        parts.append(f"{', '.join(pq)}: product-quantised codes are codeword indices ranked by asymmetric "
                     "distance, not bit strings, so they have no Hamming distance, no Hamming ties and "
                     "no Hamming ball: " + ", ".join(hamming_only_columns()) + " are n/a.")
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
    fig.update_xaxes(type="log", tickvals=list(M.PRECISION_KS), ticktext=[str(k) for k in M.PRECISION_KS])
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
