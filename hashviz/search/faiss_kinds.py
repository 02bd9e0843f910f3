"""The in-process index kinds over faiss: flat (exact scan), hash (exact, hash table on a code
prefix) and ivf (approximate, inverted file). ``HammingIndex(codes, kind=...)`` builds them."""

from __future__ import annotations

import math
import threading

import faiss
import numpy as np

from hashviz.errors import HashvizError
from hashviz.hamming import hamming_distances
from hashviz.search.base import (_INT32_MAX, HammingIndex, _check_database, _check_r, _faiss_ties_exact,
                                 _search_threads, _sort_rows, _split_range_result, brute_force_knn,
                                 register_kind)

__all__ = ["FlatIndex", "HashIndex", "IVFIndex"]


_FAISS_OPTIONS = {"nprobe", "nlist", "hash_bits", "max_flips", "seed"}


def _other_kinds_options(options: dict) -> None:
    """HammingIndex always accepted every kind's options and ignored the ones of other kinds."""
    unknown = set(options) - _FAISS_OPTIONS
    if unknown:
        raise TypeError(f"HammingIndex got unexpected keyword argument(s) {', '.join(sorted(unknown))}")


def _range_search(index, queries: np.ndarray, r: int, n: int, bits: int):
    # faiss range_search keeps distance < R, so R = r + 1 gives distance <= r
    lims, d, i = index.range_search(queries, r + 1)
    return _split_range_result(lims, d, i, n, bits)


@register_kind("flat")
class FlatIndex(HammingIndex):
    """Exact brute force (faiss IndexBinaryFlat); memory: the codes (n * bits/8)."""

    def __init__(self, codes, kind: str = "flat", **other_options):
        self._check_kind(kind)
        _other_kinds_options(other_options)
        codes = _check_database(codes)
        self._set_size(codes.shape[1] * 8, codes.shape[0])
        _faiss_ties_exact()  # once per process (a few ms), so that searches do not pay for it
        self._index = faiss.IndexBinaryFlat(self._bits)
        self._index.add(codes)  # faiss holds its own copy

    def memory_bytes(self) -> int:
        return self._ntotal * (self._bits // 8)

    def _radius(self, queries: np.ndarray, r: int):
        return _range_search(self._index, queries, r, self._ntotal, self._bits)

    def _knn(self, queries: np.ndarray, k: int):
        if _faiss_ties_exact():
            d, i = self._index.search(queries, k)
            return _sort_rows(d, i)
        return self._knn_repaired(queries, k)

    def _knn_repaired(self, queries: np.ndarray, k: int):
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
            codes = faiss.vector_to_array(self._index.xb).reshape(n, -1)
            for q in unsure:
                row = hamming_distances(queries[q:q + 1], codes)[0]
                below = np.flatnonzero(row < kth[q])
                at = np.flatnonzero(row == kth[q])[: k - below.size]
                ids = np.concatenate([below, at])
                dd = row[ids]
                order = np.lexsort((ids, dd))
                d[q], i[q] = dd[order], ids[order]
        return d, i


@register_kind("hash")
class HashIndex(HammingIndex):
    """Exact; a hash table on the first ``hash_bits`` bits (faiss IndexBinaryHash), see HammingIndex."""

    def __init__(self, codes, kind: str = "hash", *, hash_bits: int | None = None, max_flips: int = 2,
                 **other_options):
        self._check_kind(kind)
        _other_kinds_options(other_options)
        codes = _check_database(codes)
        self._set_size(codes.shape[1] * 8, codes.shape[0])
        self._codes = codes  # for the exact fallbacks
        self._flat_fallback = None
        self._lock = threading.Lock()  # searches set nflip on the shared faiss index
        _faiss_ties_exact()
        if hash_bits is None:
            hash_bits = int(round(math.log2(max(2, self._ntotal)))) - 1
            hash_bits = max(8, min(24, hash_bits))
        hash_bits = int(min(hash_bits, self._bits, 62))
        if hash_bits < 1:
            raise HashvizError(f"hash_bits must be >= 1, got {hash_bits}")
        self._max_flips = _check_r(max_flips)
        self._index = faiss.IndexBinaryHash(self._bits, hash_bits)
        self._index.add(codes)

    def memory_bytes(self) -> int:
        """Codes and int64 ids in the buckets, ~64 bytes per non-empty bucket (hash-map node and list
        headers), plus the referenced ``codes`` for exact fallbacks."""
        cs, n = self._bits // 8, self._ntotal
        return n * (cs + 8) + int(self._index.hashtable_size()) * 64 + n * cs

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

    def _radius(self, queries: np.ndarray, r: int):
        if r > self._max_probe_radius():
            return _range_search(self._flat_for_fallback(), queries, r, self._ntotal, self._bits)
        with self._lock:
            self._index.nflip = r
            return _range_search(self._index, queries, r, self._ntotal, self._bits)

    def _knn(self, queries: np.ndarray, k: int):
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


@register_kind("ivf")
class IVFIndex(HammingIndex):
    """Approximate; an inverted file over ``nlist`` binary k-means centroids (faiss IndexBinaryIVF)."""

    exact = False

    def __init__(self, codes, kind: str = "ivf", *, nprobe: int | None = None, nlist: int | None = None,
                 seed: int = 0, **other_options):
        self._check_kind(kind)
        _other_kinds_options(other_options)
        codes = _check_database(codes)
        self._set_size(codes.shape[1] * 8, codes.shape[0])
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

    @property
    def nprobe(self) -> int:
        """IVF lists scanned per query."""
        return int(self._index.nprobe)

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise HashvizError(f"nprobe must be an integer >= 1, got {value!r}")
        self._index.nprobe = int(min(value, self._index.nlist))

    @property
    def nlist(self) -> int:
        return int(self._index.nlist)

    def memory_bytes(self) -> int:
        """Codes and int64 ids in the lists, the centroids and ~48 bytes of list headers per list."""
        cs, n = self._bits // 8, self._ntotal
        return n * (cs + 8) + int(self._index.nlist) * (cs + 48)

    def _radius(self, queries: np.ndarray, r: int):
        return _range_search(self._index, queries, r, self._ntotal, self._bits)

    def _knn(self, queries: np.ndarray, k: int):
        d, i = self._index.search(queries, k)
        d = np.where(i < 0, _INT32_MAX, d).astype(np.int32, copy=False)
        return _sort_rows(d, i)
