"""The Distances tab: Hamming distance histograms of same-class vs different-class pairs (sampled, seeded)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hashviz.codes import check_packed
from hashviz.diagnostics.common import check_labels
from hashviz.hamming import paired_distances


@dataclass
class DistanceStats:
    """Hamming distances of sampled same-class and different-class pairs.

    edges: float64 (bits + 2,) bin edges -0.5 .. bits + 0.5 (one bin per distance 0..bits).
    same_hist / diff_hist: int64 (bits + 1,) pair counts per distance.
    same_density / diff_density: float64 normalised (sum 1; zeros when no pairs).
    overlap: sum of min(same_density, diff_density) in [0, 1]; 0 = perfectly separated.
    """

    edges: np.ndarray
    same_hist: np.ndarray
    diff_hist: np.ndarray
    same_density: np.ndarray
    diff_density: np.ndarray
    overlap: float
    mean_same: float
    mean_diff: float
    n_same: int
    n_diff: int

    @property
    def distances(self) -> np.ndarray:
        return np.arange(self.same_hist.shape[0], dtype=np.int64)


def _pair_distances(codes: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return paired_distances(codes[i], codes[j])


def distance_distributions(codes: np.ndarray, labels: np.ndarray, bits: int | None = None,
                           n_pairs: int = 20_000, seed: int = 0) -> DistanceStats:
    """Hamming distance histograms of `n_pairs` same-class and `n_pairs` different-class pairs.

    Pairs (i != j) are drawn uniformly with a seeded generator: same-class pairs by drawing i and
    then j from i's class, different-class pairs by rejection. Fewer pairs come out when the data
    hold none (one class only, or only singleton classes).
    """
    check_packed(codes, bits)
    n = codes.shape[0]
    labels = check_labels(labels, n)
    b = codes.shape[1] * 8
    rng = np.random.default_rng(seed)
    n_pairs = max(int(n_pairs), 0)

    # same-class pairs: only items whose class has >= 2 members can start one
    order = np.argsort(labels, kind="stable")
    sl = labels[order]
    starts = np.flatnonzero(np.r_[True, sl[1:] != sl[:-1]])
    lens = np.diff(np.r_[starts, n])
    group_of_sorted = np.repeat(np.arange(len(starts)), lens)
    eligible = np.flatnonzero(lens[group_of_sorted] >= 2)          # positions in sorted order
    if eligible.size and n_pairs:
        pos_i = eligible[rng.integers(0, eligible.size, n_pairs)]
        g = group_of_sorted[pos_i]
        off_i = pos_i - starts[g]
        off_j = (off_i + 1 + rng.integers(0, lens[g] - 1)) % lens[g]   # uniform over the others
        si, sj = order[pos_i], order[starts[g] + off_j]
        d_same = _pair_distances(codes, si, sj)
    else:
        d_same = np.zeros(0, dtype=np.int64)

    # different-class pairs by rejection
    d_diff_parts: list[np.ndarray] = []
    got = 0
    if len(starts) > 1 and n_pairs:
        for _ in range(50):
            need = n_pairs - got
            if need <= 0:
                break
            m = int(need * 1.3) + 16
            i = rng.integers(0, n, m)
            j = rng.integers(0, n, m)
            keep = labels[i] != labels[j]
            i, j = i[keep][:need], j[keep][:need]
            d_diff_parts.append(_pair_distances(codes, i, j))
            got += i.size
    d_diff = np.concatenate(d_diff_parts) if d_diff_parts else np.zeros(0, dtype=np.int64)

    same_hist = np.bincount(d_same, minlength=b + 1).astype(np.int64)
    diff_hist = np.bincount(d_diff, minlength=b + 1).astype(np.int64)
    same_den = same_hist / same_hist.sum() if same_hist.sum() else np.zeros(b + 1)
    diff_den = diff_hist / diff_hist.sum() if diff_hist.sum() else np.zeros(b + 1)
    overlap = float(np.minimum(same_den, diff_den).sum()) if d_same.size and d_diff.size else float("nan")
    return DistanceStats(edges=np.arange(b + 2) - 0.5, same_hist=same_hist, diff_hist=diff_hist,
                         same_density=same_den, diff_density=diff_den, overlap=overlap,
                         mean_same=float(d_same.mean()) if d_same.size else float("nan"),
                         mean_diff=float(d_diff.mean()) if d_diff.size else float("nan"),
                         n_same=int(d_same.size), n_diff=int(d_diff.size))
