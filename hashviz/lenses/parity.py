"""Backend parity: one query on several search backends, every difference explained.

The first backend (faiss flat, exact, ties by database row) is the reference. Each other backend's
top n is checked against the *true* Hamming distances of the rows it returned (recomputed from the
codes, never taken from the backend), and every item that is not where the reference has it is
either **tie order** (an item at the same distance stands in its place: the backend broke a tie
differently, which no ranking metric can tell apart) or a **true miss** (a nearer item was skipped
while a farther one was returned, or the backend returned fewer than n).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from hashviz.hamming import hamming_distances
from hashviz.errors import HashvizError

__all__ = ["BackendRun", "Difference", "Parity", "compare_rankings", "backend_parity", "parity_table",
           "differences_table"]

TIE, MISS = "tie order", "true miss"


@dataclass(frozen=True)
class Difference:
    """One item placed differently. reference_rank / backend_rank: 1-based, None when absent."""

    row: int
    distance: int
    reference_rank: int | None
    backend_rank: int | None
    why: str
    detail: str


@dataclass(frozen=True, eq=False)
class BackendRun:
    name: str
    rows: np.ndarray                # int64 (n,), -1 where the backend returned nothing
    distances: np.ndarray           # int64 (n,) true Hamming distances (-1 for missing rows)
    seconds: float
    differences: list[Difference] = field(default_factory=list)
    error: str | None = None

    @property
    def misses(self) -> int:
        """Items of the exact top n that this backend lacks (or puts out of distance order)."""
        return sum(d.why == MISS and d.reference_rank is not None for d in self.differences)

    @property
    def ties(self) -> int:
        """Items of the exact top n that this backend lacks or moves only through a tie."""
        return sum(d.why == TIE and d.reference_rank is not None for d in self.differences)

    def verdict(self, reference: "BackendRun") -> str:
        if self.error:
            return f"failed: {self.error}"
        if self is reference:
            return "reference (exact; ties by database row)"
        if not self.differences:
            return "identical to the reference"
        if not self.misses:
            return f"same distances at every rank; {self.ties} item(s) of the top n in another tie order"
        return f"{self.misses} true miss(es) and {self.ties} tie-order difference(s) among the exact top n"


def compare_rankings(ref_rows, ref_dist, rows, dist) -> list[Difference]:
    """Differences of a ranking (rows, true distances; row -1 = nothing returned) from the exact
    reference ranking, each explained as tie order or a true miss (module docstring)."""
    ref_rows, ref_dist = np.asarray(ref_rows, np.int64), np.asarray(ref_dist, np.int64)
    rows, dist = np.asarray(rows, np.int64), np.asarray(dist, np.int64)
    ref_rank = {int(r): i + 1 for i, r in enumerate(ref_rows)}
    got_rank = {int(r): i + 1 for i, r in enumerate(rows) if r >= 0}
    kth = int(ref_dist.max()) if ref_dist.size else 0
    short = int((rows < 0).sum())
    farthest = int(dist[rows >= 0].max()) if (rows >= 0).any() else -1
    out = []
    if set(got_rank) == set(ref_rank):             # the same items: only their order can differ
        for i, (r, d) in enumerate(zip(ref_rows.tolist(), ref_dist.tolist())):
            b = got_rank[r]
            if b != i + 1:
                tie = dist[b - 1] == ref_dist[b - 1] == d
                out.append(Difference(r, d, i + 1, b, TIE if tie else MISS, f"listed at #{b} instead of #{i + 1}"
                                      + (" within its tie group" if tie else ", out of distance order")))
        return out
    for i, (r, d) in enumerate(zip(ref_rows.tolist(), ref_dist.tolist())):
        if r in got_rank:                          # present (a rank shift follows from the items below)
            continue
        if short or farthest > d:
            out.append(Difference(r, d, i + 1, None, MISS, f"skipped though at distance {d}, while "
                                  + (f"{short} rank(s) came back empty" if short else
                                     f"items at distance {farthest} were returned")))
        else:
            out.append(Difference(r, d, i + 1, None, TIE, f"left out of the tie group at distance {d}, "
                                  "which this backend cut elsewhere"))
    for i, (r, d) in enumerate(zip(rows.tolist(), dist.tolist())):
        if r < 0 or r in ref_rank:
            continue
        why = TIE if d == kth else MISS
        detail = (f"another member of the tie group at distance {d}" if why == TIE else
                  f"at distance {d}, farther than the exact {len(ref_rows)}-th ({kth}): it took a nearer item's place")
        out.append(Difference(r, d, None, i + 1, why, detail))
    return out


@dataclass(frozen=True, eq=False)
class Parity:
    n: int
    runs: list[BackendRun]

    @property
    def reference(self) -> BackendRun:
        return self.runs[0]


def _run(name: str, index, code: np.ndarray, n: int, database: np.ndarray) -> BackendRun:
    start = time.perf_counter()
    try:
        _, ids = index.knn(code, n)
    except HashvizError as exc:
        return BackendRun(name, np.zeros(0, np.int64), np.zeros(0, np.int64), time.perf_counter() - start,
                          error=str(exc))
    seconds = time.perf_counter() - start
    rows = ids[0].astype(np.int64)
    dist = np.full(rows.shape, -1, np.int64)
    ok = rows >= 0
    dist[ok] = hamming_distances(code, database[rows[ok]])[0]
    return BackendRun(name, rows, dist, seconds)


def backend_parity(indexes: Mapping[str, object], code: np.ndarray, n: int, database: np.ndarray) -> Parity:
    """The top n of one query code (packed uint8 (1, width)) on every index in `indexes` (name ->
    HammingIndex-like; the first is the exact reference), compared with the reference."""
    if not indexes:
        raise HashvizError("backend parity needs at least one index")
    runs = [_run(name, index, code, n, database) for name, index in indexes.items()]
    ref = runs[0]
    if ref.error:
        raise HashvizError(f"the reference backend {ref.name} failed: {ref.error}")
    runs = [ref] + [r if r.error else BackendRun(r.name, r.rows, r.distances, r.seconds,
                                                 compare_rankings(ref.rows, ref.distances, r.rows, r.distances))
                    for r in runs[1:]]
    return Parity(int(ref.rows.size), runs)


def parity_table(parity: Parity) -> list[dict]:
    """One row per rank: each backend's row and distance, with '≠' where it differs from the reference."""
    out = []
    for i in range(parity.n):
        row = {"rank": i + 1}
        for run in parity.runs:
            if run.error or i >= run.rows.size or run.rows[i] < 0:
                row[run.name] = "—"
                continue
            mark = "" if run is parity.reference or run.rows[i] == parity.reference.rows[i] else "≠ "
            row[run.name] = f"{mark}{run.rows[i]} (d {run.distances[i]})"
        out.append(row)
    return out


def differences_table(parity: Parity) -> list[dict]:
    """One row per difference: backend, database row, distance, ranks, explanation."""
    return [{"backend": run.name, "database row": d.row, "distance": d.distance,
             f"{parity.reference.name} rank": d.reference_rank, "backend rank": d.backend_rank,
             "why": d.why, "detail": d.detail}
            for run in parity.runs[1:] for d in run.differences]
