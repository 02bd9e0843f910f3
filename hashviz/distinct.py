"""A database's codes as distinct codes with counts: what the Code map draws.

A good model puts many items on one code (5,000 Fashion-MNIST items fall on about a hundred), and
duplicate codes break UMAP's neighbour graph (many points at distance 0). The Code map therefore
projects the most frequent distinct codes, each drawn once at its first database row and sized by
how many items hold it (the count is in the hover); selecting a code selects all its items
(`members`); `describe` says what is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hashviz.byte_cache import ByteCache
from hashviz.codes import distinct_codes as group_codes

_CACHE = ByteCache(96 << 20)          # per process: about 24 bytes per database row per model


@dataclass(frozen=True, eq=False)
class DistinctCodes:
    """rows int64 (k,): the first database row holding each distinct code; counts int64 (k,): how
    many rows hold it; most frequent first (ties by row). code_of int64 (n,): each database row's
    code (an index into rows); by_code int64 (n,): the database rows grouped by code, ascending
    within a code (code c's rows are by_code[starts[c]:starts[c] + counts[c]])."""

    rows: np.ndarray
    counts: np.ndarray
    n_items: int
    code_of: np.ndarray
    by_code: np.ndarray

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.rows, self.counts, self.code_of, self.by_code))

    def shown(self, limit: int) -> tuple[np.ndarray, np.ndarray]:
        return self.rows[:limit], self.counts[:limit]

    def members(self, rows) -> np.ndarray:
        """int64: every database row holding the code of one of `rows`, code by code in the order of
        `rows` (each code once), ascending within a code."""
        codes = list(dict.fromkeys(self.code_of[np.asarray(rows, dtype=np.int64)].tolist()))
        starts = np.cumsum(self.counts) - self.counts
        parts = [self.by_code[starts[c]:starts[c] + self.counts[c]] for c in codes]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

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
    if key is not None and (cached := _CACHE.get(key)) is not None:
        return cached
    _, first, inverse, counts = group_codes(codes)
    order = np.lexsort((first, -counts))                # most frequent first, ties by first row
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    code_of = rank[inverse].astype(np.int64)
    result = DistinctCodes(first[order].astype(np.int64), counts[order].astype(np.int64), len(codes), code_of,
                           np.argsort(code_of, kind="stable").astype(np.int64))
    if key is not None:
        _CACHE.put(key, result, result.nbytes)
    return result


def count_of(distinct: DistinctCodes, rows: np.ndarray) -> np.ndarray:
    """int64 (len(rows),): how many items share the code of each database row."""
    return distinct.counts[distinct.code_of[np.asarray(rows, dtype=np.int64)]]


def marker_sizes(counts: np.ndarray, smallest: float = 4.0) -> np.ndarray:
    """Point sizes growing with log2 of how many items share a code (1 item: `smallest`)."""
    return smallest + 2.0 * np.log2(np.maximum(np.asarray(counts, dtype=np.float64), 1))
