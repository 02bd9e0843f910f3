"""Projection trust: how much of Hamming space's neighbourhoods a 2-D map keeps.

For each mapped point: of its k nearest neighbours in Hamming space (among the mapped points),
how many are also among its k nearest on the map (Euclidean). Hamming distances tie a lot, so the
count is tie-aware: a map neighbour counts when its Hamming distance is at most the point's k-th
nearest Hamming distance (any item in that boundary tie group is an equally near neighbour), and
the count is capped at k. A point keeping fewer than half is "torn": the map put it away from
the codes it is nearest to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from hashviz.codes import check_packed, distinct_codes
from hashviz.errors import HashvizError
from hashviz.hamming import paired_distances
from hashviz.lenses.lookup import kth_item_distance
from hashviz.search import build_index

__all__ = ["Trust", "projection_trust", "TORN_BELOW"]

TORN_BELOW = 0.5


@dataclass(frozen=True, eq=False)
class Trust:
    """kept int64 (n,): each point's Hamming neighbours kept among its k map neighbours (0..k)."""

    k: int
    kept: np.ndarray

    @property
    def share(self) -> np.ndarray:
        return self.kept / self.k

    @property
    def mean(self) -> float:
        return float(self.share.mean())

    @property
    def torn(self) -> np.ndarray:
        return self.share < TORN_BELOW

    def note(self) -> str:
        return (f"Projection trust {self.mean:.1%}: on average that share of each point's {self.k} nearest "
                f"Hamming neighbours (among the {len(self.kept):,} mapped points; tie-aware, any item at the "
                f"{self.k}-th Hamming distance counts) are among its {self.k} nearest on the map. "
                f"{int(self.torn.sum()):,} points keep fewer than half: the map tore their neighbourhood.")


def projection_trust(codes: np.ndarray, xy: np.ndarray, k: int = 10) -> Trust:
    """codes: packed uint8 (n, bits // 8) of the mapped points; xy: float (n, 2) their map positions."""
    check_packed(codes, what="codes")
    xy = np.asarray(xy, dtype=np.float64)
    n = len(codes)
    if xy.shape != (n, 2):
        raise HashvizError(f"xy must be (n, 2) with one row per code ({n}), got {xy.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < n:
        raise HashvizError(f"k must be 1..{n - 1} (fewer than the mapped points), got {k!r}")
    k = int(k)
    distinct, _, inverse, counts = distinct_codes(codes)
    kth = kth_item_distance(build_index(distinct), counts, distinct, k + 1)[inverse]   # k + 1: itself at 0
    _, near = cKDTree(xy).query(xy, k + 1)
    is_self = near == np.arange(n)[:, None]
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k)   # itself, else the farthest
    keep = np.ones_like(near, bool)
    keep[np.arange(n), drop] = False
    on_map = near[keep].reshape(n, k)
    hamming = paired_distances(np.repeat(codes, k, axis=0), codes[on_map.ravel()]).reshape(n, k)
    return Trust(k, np.minimum((hamming <= kth[:, None]).sum(axis=1), k).astype(np.int64))
