"""AP over Hamming-distance ties from per-distance counts alone: the expected value under random
order inside the ties (tie-aware AP, He et al. arXiv 1705.08562) and the lowest / highest value any
order can give (the tie range). Definitions: the hashviz.metrics docstring and docs/metrics.md.

Every function takes counts / relevant_counts int (n_q, bits + 1): database items and relevant items
at each Hamming distance. For the tie group at distance d: n_d items, r_d relevant, N_d items (R_d
relevant) before it. Cost O(bits) per query.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["harmonic", "tie_aware_group_sums", "tie_aware_ap_from_counts", "ordered_group_sums",
           "tie_range_ap_from_counts"]


@functools.lru_cache(maxsize=8)
def harmonic(n: int) -> np.ndarray:
    """float64 H[0..n], H[m] = 1 + 1/2 + ... + 1/m, summed in extended precision."""
    h = np.zeros(n + 1, dtype=np.longdouble)
    h[1:] = np.cumsum(1.0 / np.arange(1, n + 1, dtype=np.longdouble))
    out = h.astype(np.float64)
    out.setflags(write=False)
    return out


def _groups(counts, relevant_counts):
    n = np.asarray(counts, dtype=np.int64)
    r = np.asarray(relevant_counts, dtype=np.int64)
    before = np.cumsum(n, axis=1) - n
    rel_before = np.cumsum(r, axis=1) - r
    h = harmonic(int(n.sum(axis=1).max()) if n.size else 0)
    return n, r, before, rel_before, h


def _mean_over_relevant(group_sums: np.ndarray, relevant_counts) -> np.ndarray:
    r_tot = np.asarray(relevant_counts, dtype=np.int64).sum(axis=1)
    return np.where(r_tot > 0, group_sums.sum(axis=1) / np.maximum(r_tot, 1), 0.0)


def tie_aware_group_sums(counts, relevant_counts) -> np.ndarray:
    """float64 (n_q, bits + 1): each group's expected sum of precisions at its relevant items under
    a uniformly random order inside the group,
    (r_d / n_d) * [(R_d + 1) dH + (r_d - 1)/(n_d - 1) * (n_d - (N_d + 1) dH)], dH = H(N_d + n_d) - H(N_d)."""
    n, r, before, rel_before, h = _groups(counts, relevant_counts)
    dh = h[before + n] - h[before]
    nf, rf = n.astype(np.float64), r.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(n > 0, rf / np.maximum(nf, 1), 0.0)
        inner = np.where(n > 1, (rf - 1) / np.maximum(nf - 1, 1), 0.0)
    group = share * ((rel_before + 1) * dh + inner * (nf - (before + 1) * dh))
    return np.where(r > 0, group, 0.0)


def tie_aware_ap_from_counts(counts, relevant_counts) -> np.ndarray:
    """Tie-aware AP (expected AP@all under random order within ties), float64 (n_q,); 0 without a
    relevant item."""
    return _mean_over_relevant(tie_aware_group_sums(counts, relevant_counts), relevant_counts)


def ordered_group_sums(counts, relevant_counts, relevant_last: bool) -> np.ndarray:
    """float64 (n_q, bits + 1): each group's sum of precisions at its relevant items when they come
    first (relevant_last=False) or last (True) inside the group: the i-th (i = 1 .. r_d) sits at
    B + i, B = N_d or N_d + n_d - r_d, so the sum is r_d + (R_d - B) * (H(B + r_d) - H(B))."""
    n, r, before, rel_before, h = _groups(counts, relevant_counts)
    start = before + n - r if relevant_last else before
    return np.where(r > 0, r + (rel_before - start) * (h[start + r] - h[start]), 0.0)


def tie_range_ap_from_counts(counts, relevant_counts) -> tuple[np.ndarray, np.ndarray]:
    """(lowest, highest) AP@all over every order inside the ties, float64 (n_q,) each: relevant items
    last (first) in every tie group puts each of them as late (early) as any order can."""
    return tuple(_mean_over_relevant(ordered_group_sums(counts, relevant_counts, last), relevant_counts)
                 for last in (True, False))
