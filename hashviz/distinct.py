"""A big database's codes as distinct codes with counts: what the Code map projects at scale.

A million items often share far fewer codes, and duplicate codes break UMAP's neighbour graph (many
points at distance 0). Above `DISTINCT_ABOVE` database rows the Code map projects the most frequent
distinct codes instead of a sample of rows, each drawn once at its first database row and sized by
how many items hold it; `describe` says what is drawn.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from hashviz.codes import distinct_codes as group_codes

DISTINCT_ABOVE = 100_000     # database rows; below it the Code map keeps its seeded sample of rows
_CACHE: OrderedDict[str, "DistinctCodes"] = OrderedDict()
_LOCK = threading.Lock()


@dataclass(frozen=True)
class DistinctCodes:
    """rows int64 (k,): the first database row holding each distinct code; counts int64 (k,): how
    many rows hold it; most frequent first (ties by row)."""

    rows: np.ndarray
    counts: np.ndarray
    n_items: int

    def shown(self, limit: int) -> tuple[np.ndarray, np.ndarray]:
        return self.rows[:limit], self.counts[:limit]

    def describe(self, limit: int) -> str:
        """e.g. "1,000,000 items as 38,112 distinct codes; the 5,000 most frequent shown (912,004
        items), sized by count; the other 33,112 codes (87,996 items) are not drawn"."""
        k = len(self.rows)
        shown = min(int(limit), k)
        covered = int(self.counts[:shown].sum())
        text = (f"{self.n_items:,} items as {k:,} distinct codes; the {shown:,} most frequent shown "
                f"({covered:,} items), each once at its first row, sized by how many items share it")
        if shown < k:
            text += f"; the other {k - shown:,} codes ({self.n_items - covered:,} items) are not drawn"
        return text


def distinct_codes(codes: np.ndarray, key: str | None = None) -> DistinctCodes:
    """Distinct rows of packed codes uint8 (n, B) with counts (cached under `key`, e.g. a model's
    content key: one np.unique of 1M codes takes a fraction of a second, not per page run)."""
    if key is not None:
        with _LOCK:
            if key in _CACHE:
                _CACHE.move_to_end(key)
                return _CACHE[key]
    _, first, _, counts = group_codes(codes)
    order = np.lexsort((first, -counts))                # most frequent first, ties by first row
    result = DistinctCodes(first[order].astype(np.int64), counts[order].astype(np.int64), len(codes))
    if key is not None:
        with _LOCK:
            _CACHE[key] = result
            while len(_CACHE) > 8:
                _CACHE.popitem(last=False)
    return result


def count_of(distinct: DistinctCodes, rows: np.ndarray) -> np.ndarray:
    """int64 (len(rows),): how many items share the code drawn at each row (rows from `shown`)."""
    order = np.argsort(distinct.rows)
    at = order[np.searchsorted(distinct.rows, np.asarray(rows, dtype=np.int64), sorter=order)]
    return distinct.counts[at]


def marker_sizes(counts: np.ndarray, smallest: float = 4.0) -> np.ndarray:
    """Point sizes growing with log2 of how many items share a code (1 item: `smallest`)."""
    return smallest + 2.0 * np.log2(np.maximum(np.asarray(counts, dtype=np.float64), 1))
