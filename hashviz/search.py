"""The search backend: one interface over faiss for exact, hash-table and approximate Hamming search.

Every page that retrieves goes through this module (never through faiss or numpy directly), so the
retrieval page and the metrics rank identically: **Hamming distance ascending, ties by database index
ascending** (docs/CONTRACTS.md).

Binary codes (packed ``uint8 (n, bits // 8)``, ``np.packbits`` order)::

    index = HammingIndex(codes, kind="flat")          # exact, brute force (faiss IndexBinaryFlat)
    index = HammingIndex(codes, kind="hash")          # exact, hash table on a code prefix (IndexBinaryHash)
    index = HammingIndex(codes, kind="ivf", nprobe=16)  # approximate, inverted file (IndexBinaryIVF)
    index = HammingIndex(codes, kind="milvus", uri="models.db", collection="hv_dsh_64")  # Milvus
    distances, ids = index.knn(query_codes, k)        # int32 (nq, k), int64 (nq, k)
    hits = index.radius(query_codes, r)               # [(ids int64, distances int32), ...] per query

Product-quantised codes (code_type "pq": ``uint8 (n, M)`` indices, codebooks ``float32 (M, K, d_sub)``)::

    index = PQIndex(codes, codebooks, metric="ip")
    distances, ids = index.knn(query_vectors, k)      # float32 (nq, k), int64 (nq, k)

faiss runs on one thread by default (on two shared cores, two threads measured 1.5x to 100x slower);
change it with :func:`set_search_threads`.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from typing import Callable

import faiss
import numpy as np

from hashviz.codes import check_packed
from hashviz.errors import HashvizError

__all__ = [
    "KINDS",
    "HammingIndex",
    "PQIndex",
    "brute_force_knn",
    "brute_force_radius",
    "get_search_threads",
    "recall_at_k",
    "set_search_threads",
]

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
    runtime, so a process-wide setting of 1 also halved training speed on 2 cores."""
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


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise HashvizError(f"k must be an integer >= 1, got {k!r}")
    if k < 1:
        raise HashvizError(f"k must be >= 1, got {k}")
    return int(k)


def _check_r(r) -> int:
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)):
        raise HashvizError(f"radius must be a non-negative integer number of bits, got {r!r}")
    if r < 0:
        raise HashvizError(f"radius must be >= 0 bits, got {r}")
    return int(r)


# --------------------------------------------------------------------------------------------- helpers

def _popcount_distances(queries: np.ndarray, database: np.ndarray) -> np.ndarray:
    """int32 (nq, n) Hamming distances with numpy (XOR + popcount); for small blocks only."""
    width = queries.shape[1]
    if width % 8 == 0:
        q = queries.view(np.uint64)
        d = database.view(np.uint64)
    else:
        q, d = queries, database
    out = np.zeros((q.shape[0], d.shape[0]), dtype=np.int32)
    for w in range(q.shape[1]):
        out += np.bitwise_count(q[:, w, None] ^ d[None, :, w])
    return out


def _exact_topk_rows(dist: np.ndarray, k: int):
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
    """Reference exact k-NN with numpy (XOR + popcount + argpartition), (distance, id) order.

    Memory is bounded by working in blocks of queries. Same return types as ``HammingIndex.knn``.
    """
    database = _check_database(database)
    queries = _as_queries(queries, database.shape[1] * 8)
    k = min(_check_k(k), database.shape[0])
    block = max(1, int(2 ** 25 // max(1, database.shape[0])))
    d_out = np.empty((queries.shape[0], k), dtype=np.int32)
    i_out = np.empty((queries.shape[0], k), dtype=np.int64)
    for s in range(0, queries.shape[0], block):
        dist = _popcount_distances(queries[s:s + block], database)
        d_out[s:s + block], i_out[s:s + block] = _exact_topk_rows(dist, k)
    return d_out, i_out


def brute_force_radius(queries: np.ndarray, database: np.ndarray, r: int):
    """Reference exact radius search with numpy; same return type as ``HammingIndex.radius``."""
    database = _check_database(database)
    queries = _as_queries(queries, database.shape[1] * 8)
    r = _check_r(r)
    out = []
    block = max(1, int(2 ** 25 // max(1, database.shape[0])))
    for s in range(0, queries.shape[0], block):
        dist = _popcount_distances(queries[s:s + block], database)
        for row in dist:
            ids = np.flatnonzero(row <= r)
            d = row[ids]
            order = np.lexsort((ids, d))
            out.append((ids[order].astype(np.int64), d[order].astype(np.int32)))
    return out


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

class HammingIndex:
    """Hamming search over packed binary codes ``uint8 (n, bits // 8)``.

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
        ``"milvus"``: a Milvus collection (see ``hashviz.milvus_backend``; options ``uri``,
        ``collection``, ``token``, ``progress``, ``timeout``). ``codes=None`` opens an existing
        collection.
    nprobe, nlist
        IVF only: lists probed per query (default 16) and number of lists (default ~ sqrt(n), at
        least 1, at most n // 39).
    hash_bits, max_flips
        Hash only: bits of the hash key (default about log2(n) - 1, between 8 and 24) and the largest
        radius k-NN probes before falling back to a scan (default 2).
    """

    def __new__(cls, codes=None, kind: str = "flat", **options):
        if cls is HammingIndex and kind == "milvus":
            from hashviz.milvus_backend import MilvusHammingIndex

            return super().__new__(MilvusHammingIndex)
        return super().__new__(cls)

    def __init__(self, codes, kind: str = "flat", *, nprobe: int | None = None, nlist: int | None = None,
                 hash_bits: int | None = None, max_flips: int = 2, seed: int = 0):
        if kind not in KINDS:
            raise HashvizError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
        if kind == "milvus":  # only reached when a subclass forgot to override __init__
            raise HashvizError("use HammingIndex(codes, kind='milvus', uri=..., collection=...)")
        codes = _check_database(codes)
        self._kind = kind
        self._codes = codes
        self._bits = codes.shape[1] * 8
        self._ntotal = codes.shape[0]
        self._flat_fallback = None
        self._lock = threading.Lock()  # hash searches set nflip on the shared faiss index
        if kind in ("flat", "hash"):
            _faiss_ties_exact()  # once per process (a few ms), so that searches do not pay for it
        if kind == "flat":
            self._index = faiss.IndexBinaryFlat(self._bits)
            self._index.add(codes)
            self._codes = None  # faiss holds its own copy
        elif kind == "hash":
            if hash_bits is None:
                hash_bits = int(round(math.log2(max(2, self._ntotal)))) - 1
                hash_bits = max(8, min(24, hash_bits))
            hash_bits = int(min(hash_bits, self._bits, 62))
            if hash_bits < 1:
                raise HashvizError(f"hash_bits must be >= 1, got {hash_bits}")
            self._max_flips = _check_r(max_flips)
            self._index = faiss.IndexBinaryHash(self._bits, hash_bits)
            self._index.add(codes)
        else:  # ivf
            n = self._ntotal
            if nlist is None:
                nlist = int(round(math.sqrt(n)))
                nlist = max(1, min(nlist, n // 39 if n >= 39 else 1))
            nlist = int(nlist)
            if nlist < 1 or nlist > n:
                raise HashvizError(f"nlist must be between 1 and the number of codes ({n}), got {nlist}")
            self._quantizer = faiss.IndexBinaryFlat(self._bits)
            self._index = faiss.IndexBinaryIVF(self._quantizer, self._bits, nlist)
            self._index.cp.niter = 10
            self._index.cp.max_points_per_centroid = 64
            self._index.cp.seed = int(seed)
            self._index.verbose = False
            max_train = nlist * 64
            if n > max_train:
                sample = np.random.default_rng(seed).choice(n, max_train, replace=False)
                sample.sort()
                train = codes[sample]
            else:
                train = codes
            with _search_threads():
                self._index.train(train)
                self._index.add(codes)
            self.nprobe = 16 if nprobe is None else nprobe
            self._codes = None

    # ---------------------------------------------------------------- properties
    @property
    def kind(self) -> str:
        """"flat", "hash", "ivf" or "milvus"."""
        return self._kind

    @property
    def bits(self) -> int:
        """Code length in bits."""
        return self._bits

    @property
    def ntotal(self) -> int:
        """Number of database codes."""
        return self._ntotal

    @property
    def exact(self) -> bool:
        """Whether knn/radius results are exact (all kinds but "ivf")."""
        return self._kind != "ivf"

    @property
    def nprobe(self) -> int | None:
        """IVF lists scanned per query (None for the other kinds)."""
        return int(self._index.nprobe) if self._kind == "ivf" else None

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        if self._kind != "ivf":
            raise HashvizError(f"nprobe only applies to kind 'ivf', not {self._kind!r}")
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise HashvizError(f"nprobe must be an integer >= 1, got {value!r}")
        self._index.nprobe = int(min(value, self._index.nlist))

    @property
    def nlist(self) -> int | None:
        return int(self._index.nlist) if self._kind == "ivf" else None

    def memory_bytes(self) -> int:
        """Bytes of memory the index holds.

        flat: the codes (n * bits/8). hash: codes and int64 ids in the buckets, ~64 bytes per non-empty
        bucket (hash-map node and list headers), plus the referenced ``codes`` for exact fallbacks.
        ivf: codes and int64 ids in the lists, the centroids and ~48 bytes of list headers per list.
        """
        cs = self._bits // 8
        n = self._ntotal
        if self._kind == "flat":
            return n * cs
        if self._kind == "hash":
            return n * (cs + 8) + int(self._index.hashtable_size()) * 64 + n * cs
        if self._kind == "ivf":
            nlist = int(self._index.nlist)
            return n * (cs + 8) + nlist * (cs + 48)
        raise NotImplementedError

    @property
    def bytes_per_code(self) -> float:
        """memory_bytes() / ntotal."""
        return self.memory_bytes() / self._ntotal

    def __repr__(self) -> str:
        return f"HammingIndex(kind={self._kind!r}, ntotal={self._ntotal}, bits={self._bits})"

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

    # ---------------------------------------------------------------- per kind
    def _knn(self, queries: np.ndarray, k: int):
        if self._kind == "flat":
            return self._knn_flat(queries, k)
        if self._kind == "hash":
            return self._knn_hash(queries, k)
        return self._knn_ivf(queries, k)

    def _radius(self, queries: np.ndarray, r: int):
        # faiss range_search keeps distance < R, so R = r + 1 gives distance <= r
        if self._kind == "flat":
            lims, d, i = self._index.range_search(queries, r + 1)
        elif self._kind == "hash":
            if r > self._max_probe_radius():
                lims, d, i = self._flat_for_fallback().range_search(queries, r + 1)
            else:
                with self._lock:
                    self._index.nflip = r
                    lims, d, i = self._index.range_search(queries, r + 1)
        else:
            lims, d, i = self._index.range_search(queries, r + 1)
        return _split_range_result(lims, d, i, self._ntotal, self._bits)

    def _knn_flat(self, queries: np.ndarray, k: int):
        if _faiss_ties_exact():
            d, i = self._index.search(queries, k)
            return _sort_rows(d, i)
        return self._knn_flat_repaired(queries, k)

    def _knn_flat_repaired(self, queries: np.ndarray, k: int):
        """Exact (distance, id) top-k without trusting faiss' choice inside the boundary tie group.

        Asks faiss for 2k; a query whose 2k-th distance exceeds its k-th has its whole boundary tie
        group in hand. The others get the lowest ids at the k-th distance from a numpy scan.
        """
        n = self._ntotal
        k2 = min(n, 2 * k)
        d, i = self._index.search(queries, k2)
        d, i = _sort_rows(d, i)
        kth = d[:, k - 1]
        unsure = np.flatnonzero(d[:, -1] == kth) if k2 < n else np.array([], dtype=np.int64)
        d, i = d[:, :k].copy(), i[:, :k].copy()
        if unsure.size:
            codes = faiss.vector_to_array(self._index.xb).reshape(n, -1) if self._codes is None else self._codes
            for q in unsure:
                row = _popcount_distances(queries[q:q + 1], codes)[0]
                below = np.flatnonzero(row < kth[q])
                at = np.flatnonzero(row == kth[q])[: k - below.size]
                ids = np.concatenate([below, at])
                dd = row[ids]
                order = np.lexsort((ids, dd))
                d[q], i[q] = dd[order], ids[order]
        return d, i

    def _max_probe_radius(self) -> int:
        """Largest radius whose bucket enumeration stays below the number of buckets."""
        b = int(self._index.b)
        buckets = int(self._index.hashtable_size())
        total, r = 0, 0
        while r <= b:
            total += math.comb(b, r)
            if total > max(buckets, 1):
                return r - 1
            r += 1
        return b

    def _flat_for_fallback(self):
        if self._flat_fallback is None:
            index = faiss.IndexBinaryFlat(self._bits)
            index.add(self._codes)
            self._flat_fallback = index
        return self._flat_fallback

    def _knn_hash(self, queries: np.ndarray, k: int):
        nq = queries.shape[0]
        d_out = np.empty((nq, k), dtype=np.int32)
        i_out = np.empty((nq, k), dtype=np.int64)
        todo = np.arange(nq)
        max_r = min(self._max_flips, self._max_probe_radius())
        for r in range(0, max_r + 1):
            if todo.size == 0:
                break
            with self._lock:
                self._index.nflip = r
                lims, d, i = self._index.range_search(queries[todo], r + 1)
            counts = np.diff(lims.astype(np.int64))
            settled = counts >= k
            if settled.any():
                hits = _split_range_result(lims, d, i, self._ntotal, self._bits)
                for j in np.flatnonzero(settled):
                    ids, dist = hits[j]
                    d_out[todo[j]], i_out[todo[j]] = dist[:k], ids[:k]
            todo = todo[~settled]
        if todo.size:
            # exact scan of the codes for the queries whose k-th neighbour is beyond max_flips bits
            d, i = faiss.knn_hamming(queries[todo], self._codes, k)
            if _faiss_ties_exact():
                d, i = _sort_rows(d, i)
            else:
                d, i = brute_force_knn(queries[todo], self._codes, k)
            d_out[todo], i_out[todo] = d, i
        return d_out, i_out

    def _knn_ivf(self, queries: np.ndarray, k: int):
        d, i = self._index.search(queries, k)
        d = np.where(i < 0, _INT32_MAX, d).astype(np.int32, copy=False)
        return _sort_rows(d, i)


# --------------------------------------------------------------------------------------------- PQ

class PQIndex:
    """Asymmetric search over product-quantised codes.

    ``codes``: ``uint8 (n, M)`` codebook indices; ``codebooks``: ``float32 (M, K, d_sub)``.
    ``metric``: ``"ip"`` (default; quantization hash models are trained with inner products, so the
    distance is the *negative* inner product ``-<q, x_hat>``) or ``"l2"`` (squared L2 ``||q - x_hat||^2``).
    ``x_hat`` is the reconstruction (concatenated codewords). Distances come from per-query lookup tables
    ``(M, K)`` summed over the M sub-spaces in float32; ties (equal distances, e.g. identical codes) are
    broken by database id ascending.
    """

    METRICS = ("ip", "l2")

    def __init__(self, codes: np.ndarray, codebooks: np.ndarray, metric: str = "ip"):
        if metric not in self.METRICS:
            raise HashvizError(f"unknown PQ metric {metric!r}; choose 'ip' (negative inner product) or 'l2'")
        if not isinstance(codebooks, np.ndarray) or codebooks.ndim != 3:
            raise HashvizError("PQ codebooks must be a float32 array (M, K, d_sub)")
        if not np.issubdtype(codebooks.dtype, np.floating):
            raise HashvizError(f"PQ codebooks must be float32 (M, K, d_sub), got dtype {codebooks.dtype}")
        codes = check_packed(codes, what="PQ codes")
        if codes.shape[0] == 0:
            raise HashvizError("the database is empty: there are no codes to search")
        m, kk, _ = codebooks.shape
        if codes.shape[1] != m:
            raise HashvizError(f"PQ codes have {codes.shape[1]} sub-codes but the codebooks have M={m}")
        if kk < 1 or codebooks.shape[2] < 1:
            raise HashvizError(f"PQ codebooks have an empty dimension: shape {codebooks.shape}")
        if int(codes.max()) >= kk:
            raise HashvizError(f"PQ codes hold index {int(codes.max())} but the codebooks have only K={kk} codewords")
        self._codes = np.ascontiguousarray(codes)
        self._codebooks = np.ascontiguousarray(codebooks, dtype=np.float32)
        self._metric = metric

    @property
    def kind(self) -> str:
        return "pq"

    @property
    def metric(self) -> str:
        return self._metric

    @property
    def ntotal(self) -> int:
        return int(self._codes.shape[0])

    @property
    def M(self) -> int:
        return int(self._codebooks.shape[0])

    @property
    def dim(self) -> int:
        """Dimension of the query vectors (M * d_sub)."""
        return int(self._codebooks.shape[0] * self._codebooks.shape[2])

    def memory_bytes(self) -> int:
        """Codes (n * M bytes) plus the codebooks."""
        return int(self._codes.nbytes + self._codebooks.nbytes)

    @property
    def bytes_per_code(self) -> float:
        return self.memory_bytes() / self.ntotal

    def lookup_tables(self, query_vectors: np.ndarray) -> np.ndarray:
        """float32 (nq, M, K): per sub-space distance of each query to each codeword."""
        q = self._check_vectors(query_vectors)
        m, kk, ds = self._codebooks.shape
        qs = q.reshape(q.shape[0], m, ds)
        if self._metric == "ip":
            return -np.einsum("qmd,mkd->qmk", qs, self._codebooks).astype(np.float32)
        diff = qs[:, :, None, :] - self._codebooks[None]
        return np.einsum("qmkd,qmkd->qmk", diff, diff).astype(np.float32)

    def distances(self, query_vectors: np.ndarray) -> np.ndarray:
        """float32 (nq, n) asymmetric distances to every database code."""
        return self._distances_from_tables(self.lookup_tables(query_vectors))

    def _distances_from_tables(self, tables: np.ndarray) -> np.ndarray:
        out = np.zeros((tables.shape[0], self.ntotal), dtype=np.float32)
        for m in range(tables.shape[1]):
            out += tables[:, m, :][:, self._codes[:, m]]
        return out

    def _check_vectors(self, query_vectors) -> np.ndarray:
        if not isinstance(query_vectors, np.ndarray):
            raise HashvizError(f"query vectors must be a numpy array, got {type(query_vectors).__name__}")
        if query_vectors.ndim == 1:
            query_vectors = query_vectors[None, :]
        if query_vectors.ndim != 2 or query_vectors.shape[1] != self.dim:
            raise HashvizError(
                f"query vectors must be (nq, {self.dim}) = (nq, M * d_sub), got shape {query_vectors.shape}")
        if not np.issubdtype(query_vectors.dtype, np.number):
            raise HashvizError(f"query vectors must be float32, got dtype {query_vectors.dtype}")
        return np.ascontiguousarray(query_vectors, dtype=np.float32)

    def knn(self, query_vectors: np.ndarray, k: int):
        """k nearest codes of each query vector (float32 (nq, M*d_sub)), exact for the PQ distance.

        k >= 1; larger than the database is clipped silently to ``ntotal``. Returns
        ``(distances float32 (nq, k), ids int64 (nq, k))`` sorted by (distance, id).
        """
        q = self._check_vectors(query_vectors)
        k = min(_check_k(k), self.ntotal)
        tables = self.lookup_tables(q)
        nq = q.shape[0]
        block = max(1, int(2 ** 24 // self.ntotal))
        d_out = np.empty((nq, k), dtype=np.float32)
        i_out = np.empty((nq, k), dtype=np.int64)
        for s in range(0, nq, block):
            dist = self._distances_from_tables(tables[s:s + block])
            d_out[s:s + block], i_out[s:s + block] = _exact_topk_rows(dist, k)
        return d_out, i_out


ProgressCallback = Callable[[int, int], None]
