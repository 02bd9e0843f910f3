"""The Evaluate page's logic: the leaderboard, its curves and the survey's conclusions checked on the
models at hand (the failure finder is hashviz.failures). Everything returns data (pandas DataFrames, numpy arrays, dataclasses) or plotly
figures; nothing here imports streamlit.

Comparisons only ever put side by side models trained on the same dataset, protocol and code
length ("a setting"), and read the stored query metrics (mAP@all unless said otherwise). Models that
differ only by seed are one group (hashviz.seeds): the leaderboard shows its mean ± sd, and the
conclusions judge gaps between group means against the seed-to-seed noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import pandas as pd
import plotly.graph_objects as go

from hashviz import plots
from hashviz.ablations import ABLATIONS, Ablation
from hashviz.code_kinds import code_kind
from hashviz.data import describe_protocol
from hashviz.exports import csv_bytes, models_context
from hashviz import metrics as M
from hashviz.methods.registry import family_info, is_calibration
from hashviz.safe_text import escape, escape_all
from hashviz.seeds import (DOES_NOT_HOLD, HOLDS, INSIDE_NOISE, PAIRED, Gap, GroupKey, SeedGroup, compare, group_by_seed,
                           mean_sd_text, noise_rule_text, pooled_noise, regularisers_text)
from hashviz.zoo import ModelDir

__all__ = [
    "leaderboard_columns", "metric_columns", "column_formats", "protocol_statement", "leaderboard_table",
    "leaderboard_csv", "seed_table", "not_applicable_note", "calibration_note", "CALIBRATION_READING",
    "pr_curves", "precision_at_k_curves", "map_vs_bits_rows",
    "pr_figure", "precision_at_k_curve_figure", "map_vs_bits_curve_figure",
    "Conclusion", "check_conclusions", "conclusions_rule", "conclusion_lines", "evidence_number_columns", "HOLDS", "DOES_NOT_HOLD", "INSIDE_NOISE",
    "CANNOT_CHECK", "regularisers_text",
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


def _label(quantity: str) -> str:
    """The schema's label of the metric computed as `quantity` (hashviz.metrics.Metric.quantity), so
    every sentence names a metric as its column does."""
    return M.metric_of(quantity).label


def _number(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def protocol_statement(models: Sequence[ModelDir] = ()) -> str:
    """The evaluation protocol in words (markdown), naming the protocols of the given models."""
    protocols = sorted({m.protocol for m in models})
    named = "; ".join(escape(describe_protocol(p)) for p in protocols) or "no models yet"
    ks = ", ".join(str(k) for k in M.PRECISION_KS)
    map_k, radius = M.MAP_K, M.LOOKUP_RADIUS
    label = {q: _label(q) for q in ("map_all", "map_k", "map_tie_aware", "map_tie_min", "map_tie_max", "p_ball",
                                    "p_ball_empty")}
    return (
        f"**Protocol.** {named}. **Relevant** = same class as the query; for multi-label data "
        f"(several labels per image) **relevant = shares at least one label with the query**. "
        f"Each query ranks the whole database by **Hamming distance, ties "
        f"broken by database index** (product-quantised models rank by asymmetric distance to their "
        f"codewords, ties by index too). **{label['map_all']}** averages AP over the full ranking, "
        f"**{label['map_k']}** over the top {map_k}; AP@k divides by the relevant items found in the top "
        f"k, and **a query with no relevant item there scores 0** (it is not dropped). The "
        f"**{label['map_tie_aware']}** (He et al., arXiv:1705.08562) is the expected AP when the items at "
        f"one Hamming distance come in random order, so it does not reward lucky index order; "
        f"**{label['map_tie_min']}** and **{label['map_tie_max']}** are the lowest and highest "
        f"{label['map_all']} any order inside the ties can give (relevant items last / first in every "
        f"group at equal distance): a gap between two models smaller than this range is decided by tie "
        f"order, not by the codes. **{label['p_ball']}** is the "
        f"precision of the Hamming ball of radius {radius}, where **an empty ball counts as "
        f"precision 0**; the {label['p_ball_empty']} says how often that happened. Precision@k uses k = {ks}. "
        f"**Model selection**: a deep model keeps the epoch with the best validation {label['map_all']} "
        f"(validation queries against the training images); the query set is never used before "
        f"these numbers. **Seeds**: models that differ only by seed (which also draws the protocol's "
        f"sample) form a group, shown as mean ± sample sd over its n seeds."
    )


def _family_text(method: str, family: str) -> str:
    """The family cell: calibration entries (the registry's is_calibration) say so."""
    return f"{family} (calibration)" if is_calibration(method) else family


def leaderboard_table(models: Iterable[ModelDir]) -> pd.DataFrame:
    """One row per model with leaderboard_columns(); metric columns are floats (NaN when a model has
    no such number, e.g. Hamming-only metrics of pq models), sorted by mAP@all descending."""
    rows = []
    for m in models:
        metrics = m.metrics
        row = {"model": m.name, "method": m.method, "family": _family_text(m.method, m.family), "bits": int(m.bits),
               "code type": m.code_type, "dataset": m.dataset, "protocol": m.protocol,
               "regularisers": regularisers_text(m.config)}
        row.update({c.label: _number(metrics.get(c.key)) for c in M.reported_metrics()})
        row["train s"] = _number(m.config.get("train_seconds"))
        rows.append(row)
    table = pd.DataFrame(rows, columns=leaderboard_columns())
    for col in metric_columns():
        table[col] = table[col].astype(float)
    return table.sort_values(_label("map_all"), ascending=False, na_position="last", kind="stable") \
        .reset_index(drop=True)


_GROUP_COLUMNS = ["method", "family", "bits", "code type", "dataset", "protocol", "regularisers", "backbone",
                  "n", "models"]


def seed_table(models: Iterable[ModelDir]) -> pd.DataFrame:
    """One row per group of models that differ only by seed (hashviz.seeds): each reported metric as
    "mean ± sd" text (sample sd; the value alone for n = 1, "n/a" when missing), the mean training
    seconds, n and the models; sorted by mean mAP@all, best first."""
    rows = []
    for g in group_by_seed(models):
        k = g.key
        row = {"method": k.method, "family": _family_text(k.method, k.family), "bits": k.bits, "code type": k.code_type,
               "dataset": k.dataset, "protocol": k.protocol, "regularisers": k.regularisers,
               "backbone": k.backbone, "n": len(g.models), "models": g.names}
        row.update({c.label: mean_sd_text(*g.stats(c.key)[:2], c.fmt) for c in M.reported_metrics()})
        seconds = [_number(m.config.get("train_seconds")) for m in g.models]
        row["train s"] = float(pd.Series(seconds, dtype=float).mean())
        row["_sort"] = g.mean
        rows.append(row)
    table = pd.DataFrame(rows, columns=_GROUP_COLUMNS + metric_columns() + ["_sort"])
    table = table.sort_values("_sort", ascending=False, na_position="last", kind="stable")
    return table.drop(columns="_sort").reset_index(drop=True)


def leaderboard_csv(table: pd.DataFrame, models: Sequence[ModelDir]) -> bytes:
    """The table of `models` as a hashviz CSV export (hashviz.exports: models, protocols and rule in its
    first lines); numbers to four decimals, missing ones written "n/a" (as on screen)."""
    return csv_bytes(table, models_context(models), title="leaderboard", decimals=4, na_rep="n/a")


def not_applicable_note(table: pd.DataFrame) -> str | None:
    """Why some cells read "n/a" (None when none do): the metrics a model's kind of code leaves
    undefined (hashviz.code_kinds), and the defined ones its directory does not store."""
    schema = M.reported_metrics()
    undefined: dict = {}                  # kind -> its models in the table
    missing = []
    for _, row in table.iterrows():
        kind = code_kind(row["code type"])
        defined = [m.label for m in schema if kind.defines(m)]
        if len(defined) < len(schema):
            undefined.setdefault(kind, []).append(row["model"])
        if row[defined].isna().any():
            missing.append(row["model"])
    parts = [f"{', '.join(escape_all(names))}: {kind.undefined_metrics_reason}: "
             + ", ".join(m.label for m in schema if not kind.defines(m)) + " are n/a."
             for kind, names in undefined.items()]
    if missing:
        parts.append(f"{', '.join(escape_all(missing))}: the model directory stores no such metric (re-evaluate it).")
    return " ".join(parts) or None


# What a calibration row (hashviz.methods.classification.ClassifierCode) means for the table.
CALIBRATION_READING = (
    "a plain classifier that emits its predicted class's codeword (Sablayrolles et al., arXiv:1609.06753): "
    "a method that does not beat it has not shown its codes hold more than the class; all images "
    "predicted in one class share one code, so its ranking is nearly all ties, which hashviz orders by "
    f"database index (unrelated to relevance): its {_label('map_all')} therefore sits near its "
    f"{_label('map_tie_aware')}, and {_label('map_tie_min')} / {_label('map_tie_max')} show how far tie "
    "order alone could move it.")


def calibration_note(table: pd.DataFrame) -> str | None:
    """One line naming the table's calibration rows (leaderboard_table's models or seed_table's methods)
    and how to read them; None when there are none."""
    rows = table.loc[table["method"].map(is_calibration).astype(bool)]
    names = sorted(set(rows["model"] if "model" in rows else rows["method"]))
    return f"Calibration row ({', '.join(escape_all(names))}): {CALIBRATION_READING}" if names else None


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
    """(series, bits, mean mAP@all over seeds) of the models without regularisers, one series per method
    (and dataset, when the models span several). Only series with at least two code lengths are kept."""
    models = [m for m in models if not (m.config.get("regularizers") or {})]
    several = len({(m.dataset, m.protocol) for m in models}) > 1
    series: dict[str, dict[int, list[float]]] = {}
    for m in models:
        value = _number(m.metrics.get("map_all"))
        if math.isnan(value):
            continue
        name = f"{m.method} ({m.dataset})" if several else m.method
        series.setdefault(name, {}).setdefault(int(m.bits), []).append(value)
    return [(name, b, sum(v) / len(v)) for name, pts in sorted(series.items()) if len(pts) >= 2
            for b, v in sorted(pts.items())]


def pr_figure(models: Iterable[ModelDir]) -> go.Figure:
    curves, _ = pr_curves(models)
    return plots.pr_curve_figure(curves, title="Precision-recall over Hamming radius (radius 0 .. bits)")


def precision_at_k_curve_figure(models: Iterable[ModelDir]) -> go.Figure:
    fig = plots.precision_at_k_figure(precision_at_k_curves(models))
    fig.update_xaxes(type="log", tickvals=list(M.PRECISION_KS), ticktext=[str(k) for k in M.PRECISION_KS])
    return fig


def map_vs_bits_curve_figure(models: Iterable[ModelDir]) -> go.Figure:
    return plots.map_vs_bits_figure(map_vs_bits_rows(models), title=f"{_label('map_all')} vs code length, per method")


# ---------------------------------------------------------------------------------- conclusions

CANNOT_CHECK = "cannot check here (missing models)"
UNSUPERVISED = "unsupervised"      # the family of deep methods that never see labels


@dataclass
class Conclusion:
    """One of the survey's conclusions, or one ablation, judged on the models at hand.

    evidence: one row per comparison (setting, the two sides' groups of seeds with mean mAP@all and n,
    the gap with its 95% interval, n, the pairing and the row's verdict). comparison: the mean of the
    rows' gaps with its interval (hashviz.seeds.compare; None without rows); verdict: from that
    interval, CANNOT_CHECK without rows."""

    key: str
    claim: str
    test: str
    verdict: str
    summary: str
    evidence: pd.DataFrame = field(repr=False)
    needs: str = ""
    comparison: Gap | None = None

    @property
    def gap(self) -> float:
        return self.comparison.gap if self.comparison else math.nan

    @property
    def se(self) -> float:
        return self.comparison.se if self.comparison else math.nan


def _setting(key: GroupKey, same_backbone: bool = False) -> tuple:
    return (key.dataset, key.protocol, key.bits) + ((key.backbone,) if same_backbone else ())


def _setting_text(key: GroupKey, same_backbone: bool = False) -> str:
    text = f"{key.dataset} · {key.protocol} · {key.bits} bits"
    return f"{text} · {key.backbone}" if same_backbone and key.backbone else text


_JUDGEMENT = ["gap", "95% low", "95% high", "n", "pairing", "verdict"]


def _row(a: SeedGroup, b: SeedGroup, name_a: str, name_b: str, noise) -> dict:
    gap = compare([(1.0, a), (-1.0, b)], noise)
    return {name_a: a.names, f"{name_a} mAP": a.mean, f"{name_a} n": a.n,
            name_b: b.names, f"{name_b} mAP": b.mean, f"{name_b} n": b.n,
            "gap": gap.gap, "95% low": gap.low, "95% high": gap.high, "n": gap.n_label,
            "pairing": gap.pairing, "verdict": gap.verdict}


def _judged(key, claim, test, needs, rows: list[dict], pairs, columns, name_a, name_b, noise) -> Conclusion:
    """The conclusion over its rows: the mean of the rows' gaps with its 95% interval."""
    evidence = pd.DataFrame(rows, columns=columns + _JUDGEMENT)
    if not rows:
        return Conclusion(key, claim, test, CANNOT_CHECK, "", evidence, needs)
    k = len(pairs)
    gap = compare([t for a, b in pairs for t in ((1 / k, a), (-1 / k, b))], noise)
    summary = f"{gap.text()}; {_label('map_all')}, {name_a} minus {name_b}" + (f", the mean of {k} comparisons" if k > 1 else "")
    if gap.pairing != PAIRED:          # a group of one seed borrowed the pooled sd: say which
        settings = sorted({(g.key.dataset, g.key.protocol) for pair in pairs for g in pair})
        summary += "; noise: " + "; ".join(noise[s].describe() for s in settings)
    return Conclusion(key, claim, test, gap.verdict, summary + ".", evidence, "", gap)


def _best_vs_best(key, claim, test, needs, groups, side_a, side_b, name_a, name_b, noise,
                  same_backbone=False) -> Conclusion:
    """Per setting holding both sides: the side's group with the best mean mAP@all, against the other's."""
    rows, pairs = [], []
    for setting in sorted({_setting(g.key, same_backbone) for g in groups}):
        here = [g for g in groups if _setting(g.key, same_backbone) == setting]
        a, b = [g for g in here if side_a(g.key)], [g for g in here if side_b(g.key)]
        if a and b:
            best_a, best_b = max(a, key=lambda g: g.mean), max(b, key=lambda g: g.mean)
            rows.append({"setting": _setting_text(best_a.key, same_backbone),
                         **_row(best_a, best_b, f"best {name_a}", f"best {name_b}", noise)})
            pairs.append((best_a, best_b))
    columns = ["setting"] + [f"best {n}{s}" for n in (name_a, name_b) for s in ("", " mAP", " n")]
    return _judged(key, claim, test, needs, rows, pairs, columns, name_a, name_b, noise)


def _ablation(ablation: Ablation, groups: Sequence[SeedGroup], noise) -> Conclusion:
    rows, pairs = [], []
    for g in groups:
        label = ablation.variant(g.key)
        bases = [b for b in groups if b.key != g.key and ablation.is_baseline(g.key, b.key)] if label else []
        base = max(bases, key=lambda b: b.n, default=None)
        if base is not None:
            rows.append({"setting": _setting_text(g.key), "method": g.key.method, "variant": label,
                         **_row(g, base, "with", "without", noise)})
            pairs.append((g, base))
    columns = ["setting", "method", "variant"] + [f"{n}{s}" for n in ("with", "without") for s in ("", " mAP", " n")]
    return _judged(ablation.key, ablation.claim, ablation.test, ablation.needs, rows, pairs, columns,
                   "with", "without", noise)


def _family_is(test):
    """A GroupKey predicate on what the registry says of the group's family (unknown families: False)."""
    return lambda key: (f := family_info(key.family)) is not None and test(f)


def check_conclusions(models: Sequence[ModelDir], ablations: Sequence[Ablation] | None = None) -> list[Conclusion]:
    """The survey's conclusions, then each ablation (hashviz.ablations.ABLATIONS), judged on the models
    at hand by hashviz.seeds' rule: groups of seeds compared only within one dataset, protocol and code
    length (and backbone, deep against deep); models with regularisers only enter the ablations."""
    groups = [g for g in group_by_seed(models) if g.n]
    noise = pooled_noise(groups)
    # calibration rows are a yardstick, never a side (their seeds still measure the noise)
    plain = [g for g in groups if not g.key.regularisers and not is_calibration(g.key.method)]
    deep, shallow = _family_is(lambda f: f.deep), _family_is(lambda f: not f.deep)
    supervised = _family_is(lambda f: f.deep and f.key != UNSUPERVISED)
    unsupervised = _family_is(lambda f: f.deep and f.key == UNSUPERVISED)
    out = [
        _best_vs_best(
            "deep_beats_shallow", "Deep hashing methods are far ahead of shallow ones (LSH, PCAH, ITQ, SH).",
            f"Per setting, the deep group with the best mean {_label('map_all')} against the best shallow group.",
            "a deep model and a shallow baseline (LSH, PCAH, ITQ or SH) trained on the same dataset, "
            "protocol and code length", plain, deep, shallow, "deep", "shallow", noise),
        _best_vs_best(
            "similarity_matters", "Similarity information is needed: deep codes learned from label-derived "
            "similarity beat deep codes learned without labels.",
            "Per setting and backbone, the best supervised deep group (any deep family but unsupervised) "
            "against the best unsupervised deep group.",
            "a supervised deep model and an unsupervised one (family unsupervised) on the same dataset, "
            "protocol, backbone and code length", plain, supervised, unsupervised, "supervised",
            "unsupervised", noise, same_backbone=True),
        _best_vs_best(
            "labels_help", "Labels help: methods that use the class labels directly do better than "
            "those that only see pairwise or ranking similarity.",
            "Per setting and backbone, the best classification-oriented group (class labels / class "
            "centres) against the best similarity-only deep group (pairwise, multiwise or implicit family).",
            "a classification-oriented model (CSQ, GreedyHash, SSDH, OrthoHash) and a pairwise, multiwise or "
            "implicit one on the same dataset, protocol, backbone and code length", plain,
            _family_is(lambda f: f.uses_labels), _family_is(lambda f: f.similarity_only),
            "label-using", "similarity-only", noise, same_backbone=True),
    ]
    return out + [_ablation(a, groups, noise) for a in (ABLATIONS if ablations is None else ablations)]


def conclusions_rule(models: Sequence[ModelDir]) -> str:
    """The verdict rule in words, with the noise measured on these models (shown beside the verdicts)."""
    return noise_rule_text(pooled_noise([g for g in group_by_seed(models) if g.n]))


def evidence_number_columns(evidence: pd.DataFrame) -> list[str]:
    """The columns of a conclusion's evidence shown as numbers with three decimals (mAPs, gap, interval)."""
    return [col for col in evidence.columns if "mAP" in col or col in ("gap", "95% low", "95% high")]


def conclusion_lines(models: Sequence[ModelDir], ablations: Sequence[Ablation] | None = None) -> list[str]:
    """The conclusions as markdown lines (docs/results.md, `hashviz zoo verdicts`): the rule, then per
    conclusion its verdict, claim, gap, 95% interval and n, and one line per evidence row."""
    lines = [conclusions_rule(models), ""]
    for c in check_conclusions(models, ablations=ablations):
        lines.append(f"- **{c.verdict}**: {c.claim} " + (c.summary if not c.needs else f"Needs {c.needs}."))
        for _, row in c.evidence.iterrows():
            cells = [f"{v:.4f}" if isinstance(v, float) else str(v) for v in row.values]
            lines.append("  - " + "; ".join(f"{k} {v}" for k, v in zip(c.evidence.columns, cells)))
    return lines
