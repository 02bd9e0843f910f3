"""The Summary tab: every diagnostic of one model at once (`diagnose`, `diagnose_model`) and the
headline numbers side by side."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hashviz.code_kinds import code_kind
from hashviz.diagnostics.balance import BitBalance
from hashviz.diagnostics.buckets import BucketStats, bucket_occupancy
from hashviz.diagnostics.common import check_labels
from hashviz.diagnostics.distances import DistanceStats
from hashviz.diagnostics.independence import BitIndependence
from hashviz.diagnostics.quantization import CodewordUsage, OutputError
from hashviz.errors import HashvizError
from hashviz.labels import label_groups
from hashviz.methods.registry import family_info


@dataclass
class Diagnosis:
    """All diagnostics of one model's database codes. Parts that do not apply are None.

    binary codes: balance, independence, buckets, distances (+ output_error when outputs given).
    pq codes: usage, buckets (balance / independence / distances / output_error are None).
    """

    code_type: str
    bits: int
    n_codes: int
    n_classes: int
    balance: BitBalance | None = None
    independence: BitIndependence | None = None
    output_error: OutputError | None = None
    usage: CodewordUsage | None = None
    buckets: BucketStats | None = None
    distances: DistanceStats | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Headline numbers (plain Python values) for a page's metric row or a JSON report."""
        s: dict[str, Any] = {"code_type": self.code_type, "bits": self.bits, "codes": self.n_codes,
                             "classes": self.n_classes}
        if self.balance is not None:
            s["dead_bits"] = self.balance.n_dead
            s["mean_bit_entropy"] = float(self.balance.entropy.mean())
        if self.independence is not None:
            s["effective_bits"] = self.independence.effective_bits
            s["max_abs_correlation"] = self.independence.max_abs_correlation
        if self.output_error is not None:
            s["mean_abs_output"] = self.output_error.overall_mean_abs
            s["mean_quantization_error"] = self.output_error.overall_mean_err
            if self.output_error.sign_agreement is not None:
                s["output_sign_agreement"] = self.output_error.sign_agreement
        if self.usage is not None:
            s["mean_codebook_perplexity"] = self.usage.mean_perplexity
            s["unused_codewords"] = int(self.usage.unused.sum())
        if self.buckets is not None:
            s["distinct_codes"] = self.buckets.n_distinct
            s["largest_bucket"] = self.buckets.largest[0].size if self.buckets.largest else 0
            s["mixed_buckets"] = self.buckets.mixed_buckets
            s["cross_class_pairs"] = self.buckets.cross_class_pairs
        if self.distances is not None:
            s["distance_overlap"] = self.distances.overlap
            s["mean_distance_same"] = self.distances.mean_same
            s["mean_distance_diff"] = self.distances.mean_diff
        return s


def diagnose(codes: np.ndarray, labels: np.ndarray, bits: int, outputs: np.ndarray | None = None,
             code_type: str = "binary", *, output_rows: np.ndarray | None = None,
             n_codewords: int = 256, dead_threshold: float = 0.02, n_pairs: int = 20_000,
             top_buckets: int = 10, n_bins: int = 50, seed: int = 0) -> Diagnosis:
    """Run every diagnostic that applies to the kind of code `code_type` names ("binary" packed
    codes or "pq" indices; hashviz.code_kinds says which apply).

    bits: code length (binary: codes.shape[1] * 8; pq: M * log2(K), only reported).
    outputs / output_rows: optional continuous outputs (n_s, bits) of a deep model and the database
    row of each; used for the quantization-error part.
    """
    kind = code_kind(code_type)
    if not isinstance(codes, np.ndarray):
        raise HashvizError(f"codes must be a numpy array, got {type(codes).__name__}")
    labels = check_labels(labels, codes.shape[0] if codes.ndim >= 1 else -1)
    parts = kind.code_diagnostics(codes, labels, bits, outputs, output_rows=output_rows, n_codewords=n_codewords,
                                  dead_threshold=dead_threshold, n_pairs=n_pairs, n_bins=n_bins, seed=seed)
    return Diagnosis(code_type=kind.code_type, n_codes=int(codes.shape[0]), n_classes=int(np.unique(labels).size),
                     buckets=bucket_occupancy(codes, labels, parts["bits"], code_type, top=top_buckets), **parts)


def model_is_shallow(model) -> bool:
    """What the registry says of the model's family (imported codes: neither deep nor shallow)."""
    family = family_info(model.family)
    return family is not None and not family.deep


def diagnose_model(model, group_label: int | None = None, **kw: Any) -> Diagnosis:
    """`diagnose` of a model directory's database codes (hashviz.zoo.ModelDir), with its saved
    continuous outputs (binary codes) or its codebook size K (pq codes). Multi-hot labels are
    grouped by one chosen label (with it / without it) or, by default, each item's first label
    (hashviz.labels.label_groups; said in the notes)."""
    labels = label_groups(model.database_labels, group_label)
    inputs, lacking = code_kind(model.code_type).diagnosis_inputs(model)
    d = diagnose(model.database_codes, labels, model.bits, code_type=model.code_type, **inputs, **kw)
    if np.asarray(model.database_labels).ndim == 2:
        d.notes.append("multi-label data: classes here are each item's first label" if group_label is None else
                       f"multi-label data: two classes here, with and without label {group_label}")
    d.notes.extend(lacking)
    if inputs.get("outputs") is not None and model_is_shallow(model):
        d.notes.append("shallow hasher: the 'outputs' are its real-valued projections before the sign")
    return d


SUMMARY_LABELS = {
    "code_type": "code type", "bits": "bits", "codes": "database codes", "classes": "classes",
    "dead_bits": "dead bits", "mean_bit_entropy": "mean bit entropy (bits)",
    "effective_bits": "effective bits", "max_abs_correlation": "max |correlation| between bits",
    "mean_abs_output": "mean |u|", "mean_quantization_error": "mean |u − sign(u)|",
    "output_sign_agreement": "sign(u) agrees with stored code",
    "mean_codebook_perplexity": "mean codebook perplexity", "unused_codewords": "unused codewords",
    "distinct_codes": "distinct codes (buckets)", "largest_bucket": "largest bucket",
    "mixed_buckets": "buckets holding several classes", "cross_class_pairs": "cross-class collisions (pairs)",
    "distance_overlap": "same/different distance overlap", "mean_distance_same": "mean distance, same class",
    "mean_distance_diff": "mean distance, different class",
}


def summary_table(diagnoses: dict[str, Diagnosis]) -> list[dict[str, Any]]:
    """Headline numbers of one or more models: one row per measure, one column per model name
    (values as text; "–" where a measure does not apply)."""
    summaries = {name: d.summary() for name, d in diagnoses.items()}
    keys = [k for k in SUMMARY_LABELS if any(k in s for s in summaries.values())]

    def fmt(v: Any) -> str:
        if v is None:
            return "–"
        if isinstance(v, float):
            return "–" if not np.isfinite(v) else f"{v:.3f}"
        return f"{v:,}" if isinstance(v, int) else str(v)
    return [{"measure": SUMMARY_LABELS[k], **{name: fmt(s.get(k)) for name, s in summaries.items()}}
            for k in keys]
