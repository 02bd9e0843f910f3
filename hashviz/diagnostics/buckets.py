"""The Buckets tab: distinct codes, largest buckets, bucket sizes, cross-class collisions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hashviz.code_kinds import code_kind
from hashviz.codes import code_keys
from hashviz.diagnostics.common import check_labels
from hashviz.errors import HashvizError


@dataclass
class Bucket:
    """One bucket (all codes identical). code: bit string (binary) or "i-j-..." indices (pq)."""

    code: str
    size: int
    class_counts: dict[int, int]   # label -> count, largest first
    first_row: int                 # lowest database row in the bucket


@dataclass
class BucketStats:
    """Occupancy of the code space.

    n_codes / n_distinct: items and distinct codes (buckets).
    largest: the biggest buckets, largest first (ties by lowest row).
    size_values / size_counts: int64, size_counts[i] buckets hold size_values[i] items (sizes present only).
    bucket_of_row: int64 (n,) bucket id of each row (bucket ids rank the distinct codes in sorted
                   order); bucket_sizes: int64 (n_distinct,) size of each bucket id.
    mixed_buckets: buckets holding more than one class.
    cross_class_pairs: unordered pairs of items of different classes that share a code.
    same_class_pairs: unordered pairs of items of the same class that share a code.
    items_in_shared: items whose bucket holds at least one other item.
    """

    n_codes: int
    n_distinct: int
    largest: list[Bucket]
    size_values: np.ndarray
    size_counts: np.ndarray
    bucket_of_row: np.ndarray
    bucket_sizes: np.ndarray
    mixed_buckets: int
    cross_class_pairs: int
    same_class_pairs: int
    items_in_shared: int

    @property
    def distinct_share(self) -> float:
        return self.n_distinct / self.n_codes if self.n_codes else 0.0


def bucket_occupancy(codes: np.ndarray, labels: np.ndarray, bits: int | None = None,
                     code_type: str = "binary", top: int = 10) -> BucketStats:
    """Buckets of identical codes: how many, how big, which classes share them.

    Bucket ids are ranks of the sorted codes (bucket 0 = smallest code value). `code_type` names the
    kind of code (hashviz.code_kinds), which checks the codes and writes a bucket's code.
    """
    kind = code_kind(code_type)
    kind.check_codes(codes, bits)
    n = codes.shape[0]
    labels = check_labels(labels, n)
    if n == 0:
        raise HashvizError("no codes to diagnose (0 rows)")
    keys = code_keys(codes)
    _, first, inverse, sizes = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
    inverse = inverse.ravel().astype(np.int64)
    sizes = sizes.astype(np.int64)
    n_b = sizes.shape[0]

    # (bucket, class) counts
    ulab, lab_idx = np.unique(labels, return_inverse=True)
    pair_key = inverse * len(ulab) + lab_idx.ravel()
    pk, pc = np.unique(pair_key, return_counts=True)
    pb = pk // len(ulab)
    classes_per_bucket = np.bincount(pb, minlength=n_b)
    same_pairs_per_bucket = np.bincount(pb, weights=pc * (pc - 1) / 2, minlength=n_b)
    all_pairs = sizes * (sizes - 1) // 2
    same_pairs = int(round(same_pairs_per_bucket.sum()))
    cross = int(all_pairs.sum()) - same_pairs

    size_values, size_counts = np.unique(sizes, return_counts=True)

    order = np.lexsort((first, -sizes))[:max(int(top), 0)]
    largest = []
    for b in order:
        sel = pb == b
        labs, cnts = ulab[pk[sel] % len(ulab)], pc[sel]
        o = np.lexsort((labs, -cnts))
        row = int(first[b])
        largest.append(Bucket(code=kind.code_text(codes[row]), size=int(sizes[b]),
                              class_counts={int(labs[i]): int(cnts[i]) for i in o}, first_row=row))
    return BucketStats(n_codes=int(n), n_distinct=int(n_b), largest=largest,
                       size_values=size_values.astype(np.int64), size_counts=size_counts.astype(np.int64),
                       bucket_of_row=inverse, bucket_sizes=sizes,
                       mixed_buckets=int((classes_per_bucket > 1).sum()), cross_class_pairs=cross,
                       same_class_pairs=same_pairs, items_in_shared=int(sizes[sizes > 1].sum()))


def bucket_table(buckets: BucketStats, class_names: list[str] | None = None) -> list[dict[str, Any]]:
    """The largest buckets: code, size, classes in it ("name ×count", largest first), first row."""
    def cls(label: int) -> str:
        return class_names[label] if class_names and 0 <= label < len(class_names) else f"class {label}"
    return [{"code": b.code, "items": b.size, "classes": len(b.class_counts),
             "class counts": ", ".join(f"{cls(k)} ×{v}" for k, v in b.class_counts.items()),
             "first row": b.first_row} for b in buckets.largest]
