"""What the diagnostics share: binary entropy, label checks, unpacked bits."""

from __future__ import annotations

import numpy as np

from hashviz.codes import check_packed, unpack_bits01
from hashviz.errors import HashvizError
from hashviz.labels import label_groups


def binary_entropy(p: np.ndarray | float) -> np.ndarray:
    """Entropy in bits of a Bernoulli(p) variable; 0 at p = 0 or 1 (no NaN)."""
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return np.nan_to_num(h, nan=0.0)


def xlogx_ratio(pxy: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """pxy * log2(pxy / (px * py)) with 0 log 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = pxy * np.log2(pxy / (px * py))
    return np.where(pxy > 0, np.nan_to_num(t, nan=0.0, posinf=0.0, neginf=0.0), 0.0)


def check_labels(labels: np.ndarray, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise HashvizError(f"labels must be a 1-D array with one label per code ({n}), "
                           f"got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise HashvizError(f"labels must be integers, got dtype {labels.dtype}")
    return labels.astype(np.int64, copy=False)


def bits01_of(codes: np.ndarray, bits: int | None) -> np.ndarray:
    check_packed(codes, bits)
    if codes.shape[0] == 0:
        raise HashvizError("no codes to diagnose (0 rows)")
    return unpack_bits01(codes, bits)


def primary_labels(labels: np.ndarray) -> np.ndarray:
    """int64 (n,): single labels as they are; multi-hot (n, C) -> each item's first label (-1: none)."""
    return label_groups(labels)
