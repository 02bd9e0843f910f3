"""What every Hamming index kind shares: the ``HammingIndex`` front (a factory over the kinds), input
checks, the (distance, id) ordering helpers, the numpy reference search and faiss' thread count.

The kinds themselves live beside this module (``faiss_kinds``: flat, hash, ivf; ``milvus``) and register
here with :func:`register_kind`; ``hashviz.search`` imports them all.
"""

from __future__ import annotations

import contextlib
import os
import threading

import faiss
import numpy as np

from hashviz.codes import check_packed
from hashviz.errors import HashvizError
from hashviz.hamming import hamming_distances

KINDS = ("flat", "hash", "ivf", "milvus")
_INT32_MAX = np.iinfo(np.int32).max



# --------------------------------------------------------------------------------------------- threads

def set_search_threads(n: int) -> None:
    """Set how many threads faiss uses inside hashviz searches (default 1, or
    $HASHVIZ_SEARCH_THREADS)."""
    global _SEARCH_THREADS
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise HashvizError(f"the number of search threads must be a positive integer, got {n!r}")
    _SEARCH_THREADS = int(n)


def get_search_threads() -> int:
    """The number of threads faiss uses inside hashviz searches."""
    return _SEARCH_THREADS


def _default_threads() -> int:
    value = os.environ.get("HASHVIZ_SEARCH_THREADS", "1")
    try:
        return max(1, int(value))
    except ValueError:
        return 1


_SEARCH_THREADS = _default_threads()


@contextlib.contextmanager
def _search_threads():
    """faiss at the search thread count, only for the call: faiss and torch share one OpenMP
    runtime, so a process-wide setting of 1 would also hold training to one thread."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(_SEARCH_THREADS)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


# --------------------------------------------------------------------------------------------- checks

def _check_database(codes) -> np.ndarray:
    if codes is None:
        raise HashvizError("no database codes given: pass packed codes uint8 (n, bits/8)")
    codes = check_packed(codes, what="database codes")
    if codes.shape[0] == 0:
        raise HashvizError("the database is empty: there are no codes to search")
    if codes.shape[1] == 0:
        raise HashvizError("database codes have 0 bits")
    return np.ascontiguousarray(codes)


def _check_int(value, minimum: int, not_int: str, too_small: str) -> int:
    """value as an int >= minimum, else HashvizError with the message ({value} filled in)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise HashvizError(not_int.format(value=repr(value)))
    if value < minimum:
        raise HashvizError(too_small.format(value=value))
    return int(value)


def _check_k(k) -> int:
    return _check_int(k, 1, "k must be an integer >= 1, got {value}", "k must be >= 1, got {value}")


def _check_r(r) -> int:
    return _check_int(r, 0, "radius must be a non-negative integer number of bits, got {value}",
                      "radius must be >= 0 bits, got {value}")



# --------------------------------------------------------------------------------------------- helpers

def exact_topk_rows(dist: np.ndarray, k: int):
    """Exact top-k of each row of a distance matrix in (distance, column) order.

    Returns (distances (nq, k), columns int64 (nq, k)). Uses argpartition, then repairs the rows whose
    boundary tie group was cut arbitrarily (the lowest columns at the k-th distance are kept).
    """
    nq, n = dist.shape
    k = min(k, n)
    if k == n:
        cols = np.broadcast_to(np.arange(n, dtype=np.int64), (nq, n)).copy()
    else:
        cols = np.argpartition(dist, k - 1, axis=1)[:, :k].astype(np.int64)
    picked = np.take_along_axis(dist, cols, 1)
    kth = picked.max(axis=1)
    n_eq_all = (dist == kth[:, None]).sum(axis=1)
    n_eq_picked = (picked == kth[:, None]).sum(axis=1)
    for row in np.flatnonzero(n_eq_all != n_eq_picked):
        below = cols[row][picked[row] < kth[row]]
        at = np.flatnonzero(dist[row] == kth[row])[: k - below.size]
        cols[row] = np.concatenate([below, at])
    picked = np.take_along_axis(dist, cols, 1)
    order = _row_lexsort(picked, cols)
    return np.take_along_axis(picked, order, 1), np.take_along_axis(cols, order, 1)


def _row_lexsort(dist: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Per-row permutation that sorts by (distance, id)."""
    return np.lexsort((ids, dist), axis=-1)


def _is_sorted_rows(dist: np.ndarray, ids: np.ndarray) -> bool:
    """True when every row is already in (distance, id) order."""
    if dist.shape[1] <= 1:
        return True
    d0, d1 = dist[:, :-1], dist[:, 1:]
    return bool(np.all((d0 < d1) | ((d0 == d1) & (ids[:, :-1] < ids[:, 1:]))))


def _sort_rows(dist: np.ndarray, ids: np.ndarray):
    if _is_sorted_rows(dist, ids):
        return dist, ids
    order = _row_lexsort(dist, ids)
    return np.take_along_axis(dist, order, 1), np.take_along_axis(ids, order, 1)


def _split_range_result(lims: np.ndarray, dist: np.ndarray, ids: np.ndarray, n: int, bits: int):
    """faiss range-search arrays -> [(ids int64, distances int32)] each sorted by (distance, id)."""
    lims = lims.astype(np.int64, copy=False)
    nq = lims.size - 1
    dist = dist.astype(np.int64, copy=False)
    ids = ids.astype(np.int64, copy=False)
    if ids.size:
        counts = np.diff(lims)
        qidx = np.repeat(np.arange(nq, dtype=np.int64), counts)
        if nq * (bits + 1) * n < 2 ** 62:
            key = (qidx * (bits + 1) + dist) * n + ids
            key.sort()
            rest, ids = np.divmod(key, n)
            dist = rest % (bits + 1)
        else:  # pragma: no cover - astronomically large inputs
            order = np.lexsort((ids, dist, qidx))
            ids, dist = ids[order], dist[order]
    out = []
    for i in range(nq):
        a, b = int(lims[i]), int(lims[i + 1])
        out.append((ids[a:b].astype(np.int64, copy=True), dist[a:b].astype(np.int32)))
    return out


def brute_force_knn(queries: np.ndarray, database: np.ndarray, k: int):
    """Reference exact k-NN with the hashviz.hamming kernel and argpartition, (distance, id) order.

    Memory is bounded by working in blocks of queries. Same return types as ``HammingIndex.knn``.
    """
    database = _check_database(database)
    queries = _as_queries(queries, database.shape[1] * 8)
    k = min(_check_k(k), database.shape[0])
    block = max(1, int(2 ** 25 // max(1, database.shape[0])))
    d_out = np.empty((queries.shape[0], k), dtype=np.int32)
    i_out = np.empty((queries.shape[0], k), dtype=np.int64)
    for s in range(0, queries.shape[0], block):
        dist = hamming_distances(queries[s:s + block], database)
        d_out[s:s + block], i_out[s:s + block] = exact_topk_rows(dist, k)
    return d_out, i_out



def recall_at_k(exact_distances: np.ndarray, approx_distances: np.ndarray) -> float:
    """Tie-aware recall of an approximate k-NN against the exact one (both (nq, k) distance arrays).

    A returned neighbour counts as found when its distance is <= the exact k-th distance of its query
    (any code in the boundary tie group is an equally correct answer); a missing one (id -1, distance
    2**31 - 1) never counts. Equals the usual id recall when there are no ties at the k-th distance.
    """
    exact = np.asarray(exact_distances)
    approx = np.asarray(approx_distances)
    if exact.shape != approx.shape or exact.ndim != 2 or exact.size == 0:
        raise HashvizError(f"recall needs two (nq, k) distance arrays of the same shape, got {exact.shape} "
                           f"and {approx.shape}")
    kth = exact[:, -1:]
    found = np.minimum((approx <= kth).sum(axis=1), exact.shape[1])
    return float(found.sum() / exact.size)


def _as_queries(queries, bits: int) -> np.ndarray:
    if isinstance(queries, np.ndarray) and queries.ndim == 1:
        queries = queries[None, :]
    queries = check_packed(queries, what="query codes")
    if queries.shape[1] * 8 != bits:
        raise HashvizError(
            f"query codes have {queries.shape[1] * 8} bits but the index holds {bits}-bit codes: "
            "encode the queries with the same model as the database")
    return np.ascontiguousarray(queries)


# --------------------------------------------------------------------------------------------- faiss ties

_TIES_LOCK = threading.Lock()
_FAISS_TIES_EXACT: bool | None = None


def _faiss_ties_exact() -> bool:
    """Check once per process that faiss' IndexBinaryFlat keeps the lowest ids in tie groups.

    faiss 1.15 scans the database in id order and its heap breaks ties by id, so the top-k is exactly
    (distance, id); this checks that on codes with huge tie groups (a few ms) instead of trusting it.
    If it ever fails (another faiss version), flat search switches to a slower repaired path.
    """
    global _FAISS_TIES_EXACT
    with _TIES_LOCK:
        if _FAISS_TIES_EXACT is None:
            rng = np.random.default_rng(12345)
            centres = rng.integers(0, 256, (6, 8), dtype=np.uint8)
            db = centres[rng.integers(0, 6, 3000)].copy()
            flips = rng.random((3000, 64)) < 0.02
            db ^= np.packbits(flips, axis=1)
            queries = np.concatenate([centres, db[:20]])
            index = faiss.IndexBinaryFlat(64)
            index.add(db)
            ok = True
            for k in (1, 7, 50, 400):
                d, i = index.search(queries, k)
                d, i = _sort_rows(d, i)
                bd, bi = brute_force_knn(queries, db, k)
                ok &= bool(np.array_equal(d, bd) and np.array_equal(i, bi))
            _FAISS_TIES_EXACT = ok
        return _FAISS_TIES_EXACT



# --------------------------------------------------------------------------------------------- index

_KIND_CLASSES: dict[str, type] = {}


def register_kind(kind: str):
    """Class decorator: ``HammingIndex(codes, kind=kind, ...)`` builds this class."""
    def register(cls):
        cls.kind = kind
        _KIND_CLASSES[kind] = cls
        return cls
    return register


class HammingIndex:
    """Hamming search over packed binary codes ``uint8 (n, bits // 8)``.

    ``HammingIndex(codes, kind=...)`` builds the class registered for ``kind`` (each kind is its own
    subclass; they all answer ``knn`` and ``radius`` alike).

    Parameters
    ----------
    codes
        The database, packed ``uint8 (n, bits // 8)``. Row i has id i.
    kind
        ``"flat"``: exact brute force (faiss IndexBinaryFlat; milliseconds to build).
        ``"hash"``: exact; a hash table on the first ``hash_bits`` bits (faiss IndexBinaryHash). Radius
        search probes every bucket within r flipped prefix bits, which by construction finds every code
        within r bits. k-NN probes growing radii 0..``max_flips`` and is exact as soon as the k-th
        distance found is <= the radius probed; queries it cannot settle that way (far neighbours, e.g.
        random codes) fall back to an exact scan of the codes. Radii whose bucket enumeration would
        exceed the number of buckets also fall back to the exact scan. Keeps a reference to ``codes``
        for those fallbacks (do not modify it in place).
        ``"ivf"``: approximate; an inverted file over ``nlist`` binary k-means centroids (faiss
        IndexBinaryIVF; seconds to build), ``nprobe`` lists scanned per query.
        ``"milvus"``: a Milvus collection (see ``hashviz.search.milvus``; options ``uri``,
        ``collection``, ``token``, ``progress``, ``timeout``). ``codes=None`` opens an existing
        collection.
    nprobe, nlist
        IVF only: lists probed per query (default 16) and number of lists (default ~ sqrt(n), at
        least 1, at most n // 39).
    hash_bits, max_flips
        Hash only: bits of the hash key (default about log2(n) - 1, between 8 and 24) and the largest
        radius k-NN probes before falling back to a scan (default 2).
    """

    kind = ""
    #: whether knn/radius results are exact (all kinds but "ivf")
    exact = True

    def __new__(cls, codes=None, kind: str = "flat", **options):
        if cls is HammingIndex:
            if kind not in _KIND_CLASSES:
                raise HashvizError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
            cls = _KIND_CLASSES[kind]
        return super().__new__(cls)

    def _check_kind(self, kind: str) -> None:
        if kind != self.kind:
            raise HashvizError(f"{type(self).__name__} is kind {self.kind!r}, not {kind!r}")

    def _set_size(self, bits: int, ntotal: int) -> None:
        self._bits = int(bits)
        self._ntotal = int(ntotal)

    # ---------------------------------------------------------------- properties
    @property
    def bits(self) -> int:
        """Code length in bits."""
        return self._bits

    @property
    def ntotal(self) -> int:
        """Number of database codes."""
        return self._ntotal

    @property
    def nprobe(self) -> int | None:
        """IVF lists scanned per query (None for the other kinds)."""
        return None

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        raise HashvizError(f"nprobe only applies to kind 'ivf', not {self.kind!r}")

    @property
    def nlist(self) -> int | None:
        return None

    def memory_bytes(self) -> int:
        """Bytes of memory the index holds (see each kind)."""
        raise NotImplementedError

    @property
    def bytes_per_code(self) -> float:
        """memory_bytes() / ntotal."""
        return self.memory_bytes() / self._ntotal

    def __repr__(self) -> str:
        return f"HammingIndex(kind={self.kind!r}, ntotal={self._ntotal}, bits={self._bits})"

    # ---------------------------------------------------------------- search
    def knn(self, queries: np.ndarray, k: int):
        """k nearest database codes of each query code.

        ``queries``: packed ``uint8 (nq, bits // 8)`` (a 1-D code is one query). ``k`` >= 1; a k larger
        than the database is clipped silently to ``ntotal`` (the result then has ``ntotal`` columns).
        Returns ``(distances int32 (nq, k), ids int64 (nq, k))`` in (distance, id) order. Exact for
        "flat", "hash" and "milvus"; approximate for "ivf" (a row may end in id -1 with distance
        2**31 - 1 when the probed lists hold fewer than k codes).
        """
        queries = _as_queries(queries, self._bits)
        k = min(_check_k(k), self._ntotal)
        if queries.shape[0] == 0:
            return np.empty((0, k), np.int32), np.empty((0, k), np.int64)
        with _search_threads():
            return self._knn(queries, k)

    def radius(self, queries: np.ndarray, r: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """All database codes within Hamming distance <= r of each query (r >= 0, inclusive).

        Returns a list with one ``(ids int64, distances int32)`` pair per query, both sorted by
        (distance, id). Exact for "flat", "hash" and "milvus"; approximate (may miss codes in lists that
        were not probed) for "ivf".
        """
        queries = _as_queries(queries, self._bits)
        r = _check_r(r)
        if queries.shape[0] == 0:
            return []
        with _search_threads():
            return self._radius(queries, r)

    def distance_counts(self, query: np.ndarray, max_distance: int) -> np.ndarray:
        """int64 (max_distance + 1,): how many database codes lie at each distance 0..max_distance
        from one query (a radius search, so exact wherever ``radius`` is)."""
        _, dist = self.radius(query, max_distance)[0]
        return np.bincount(dist, minlength=max_distance + 1).astype(np.int64)

    def _knn(self, queries: np.ndarray, k: int):
        raise NotImplementedError

    def _radius(self, queries: np.ndarray, r: int):
        raise NotImplementedError
