"""The Hamming kernel: the one definition of the distance between packed binary codes.

Every Hamming distance in hashviz comes from here (metrics, diagnostics, projection, the numpy
reference search), so they all agree bit for bit with faiss and Milvus: the distance between two
packed codes ``uint8 (bits // 8,)`` is the popcount of their XOR.

Codes are viewed as 64-bit words (``as_words``: zero padded, which leaves the popcount unchanged) and
the popcount is a branch-free SWAR sum compiled with numba (on disk cache, loaded on first use so that
importing hashviz stays cheap). The compiled pass in ``hashviz.metrics`` calls ``row_distances`` of
:func:`kernels` directly, one query at a time.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from hashviz.codes import check_packed
from hashviz.errors import HashvizError

__all__ = ["as_words", "hamming_distances", "kernels", "paired_distances"]


def as_words(packed: np.ndarray) -> np.ndarray:
    """uint8 (n, B) -> uint64 (n, ceil(B/8)), zero padded: popcount of XOR is unchanged."""
    n, b = packed.shape
    out = np.zeros((n, -(-b // 8) * 8), dtype=np.uint8)
    out[:, :b] = packed
    return out.view(np.uint64)


_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
_S1, _S2, _S4, _S56 = np.uint64(1), np.uint64(2), np.uint64(4), np.uint64(56)


def _word_distance_py(a, b):  # compiled by kernels(): Hamming distance of two uint64 word rows
    d = 0
    for w in range(a.shape[0]):
        x = a[w] ^ b[w]
        x = x - ((x >> _S1) & _M1)
        x = (x & _M2) + ((x >> _S2) & _M2)
        x = (x + (x >> _S4)) & _M4
        d += int((x * _H01) >> _S56)
    return d


def _row_distances_py(query, database, out):  # compiled: out[t] = distance(query, database[t])
    for t in range(database.shape[0]):
        out[t] = _word_distance(query, database[t])


def _all_pairs_py(queries, database, out):  # compiled: out[q, t] = distance(queries[q], database[t])
    for q in range(queries.shape[0]):
        _row_distances(queries[q], database, out[q])


def _paired_py(a, b, out):  # compiled: out[i] = distance(a[i], b[i])
    for i in range(a.shape[0]):
        out[i] = _word_distance(a[i], b[i])


_word_distance = _row_distances = None  # the compiled callees, set by kernels()


class Kernels(NamedTuple):
    word_distance: object
    row_distances: object
    all_pairs: object
    paired: object


@functools.lru_cache(maxsize=1)
def kernels() -> Kernels:
    """The compiled kernels (numba, cached on disk). Each calls the one word-distance function;
    they are module globals when compiled because numba resolves a callee by its global name."""
    import numba

    jit = numba.njit(cache=True, nogil=True, boundscheck=False)
    global _word_distance, _row_distances
    _word_distance = jit(_word_distance_py)
    _row_distances = jit(_row_distances_py)
    return Kernels(_word_distance, _row_distances, jit(_all_pairs_py), jit(_paired_py))


def _distance_dtype(n_bytes: int):
    """The smallest unsigned int holding 0..bits (+1 spare for callers that mark a row as 'none')."""
    return np.uint8 if n_bytes * 8 < 255 else np.uint16


def hamming_distances(queries: np.ndarray, database: np.ndarray) -> np.ndarray:
    """Hamming distances between packed codes: uint8 (bits < 255) or uint16, (n_queries, n_database).

    Small ints keep memory at n_q * n_db bytes (callers block large query sets).
    """
    check_packed(queries, what="query codes")
    check_packed(database, what="database codes")
    if queries.shape[1] != database.shape[1]:
        raise HashvizError(
            f"query codes have {queries.shape[1] * 8} bits, database codes {database.shape[1] * 8}")
    out = np.empty((queries.shape[0], database.shape[0]), dtype=_distance_dtype(queries.shape[1]))
    if out.size:
        kernels().all_pairs(as_words(queries), as_words(database), out)
    return out


def paired_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """int64 (n,): the Hamming distance of a[i] to b[i] for two packed code arrays of one shape."""
    check_packed(a, what="codes")
    check_packed(b, what="codes")
    if a.shape != b.shape:
        raise HashvizError(f"paired codes must have one shape, got {a.shape} and {b.shape}")
    out = np.empty(a.shape[0], dtype=np.int64)
    if out.size:
        kernels().paired(as_words(a), as_words(b), out)
    return out
