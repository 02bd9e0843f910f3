"""Product-quantised codes: asymmetric distances (ADC) to a database of codeword indices.

``codes`` are ``uint8 (n, M)`` codeword indices, ``codebooks`` ``float32 (M, K, d_sub)``; a code stands
for its reconstruction ``x_hat`` (the concatenated codewords, :func:`pq_reconstruct`).
"""

from __future__ import annotations

import numpy as np

from hashviz.codes import check_packed
from hashviz.errors import HashvizError
from hashviz.search.base import _check_k, exact_topk_rows

__all__ = ["PQIndex", "pq_reconstruct"]


def pq_reconstruct(codes: np.ndarray, codebooks: np.ndarray) -> np.ndarray:
    """Decode pq codes: uint8 (n, M) indices -> float32 (n, M * d_sub) concatenated codewords.

    codebooks: float32 (M, K, d_sub).
    """
    codebooks = np.asarray(codebooks, dtype=np.float32)
    if codebooks.ndim != 3:
        raise HashvizError(f"codebooks must be float32 (M, K, d_sub), got shape {codebooks.shape}")
    if not isinstance(codes, np.ndarray) or codes.dtype != np.uint8 or codes.ndim != 2:
        raise HashvizError("pq codes must be a uint8 numpy array (n, M) of codeword indices")
    if codes.shape[1] != codebooks.shape[0]:
        raise HashvizError(
            f"pq codes have {codes.shape[1]} sub-codes but the codebooks have "
            f"M = {codebooks.shape[0]}")
    if codes.size and codes.max() >= codebooks.shape[1]:
        raise HashvizError(
            f"pq code index {int(codes.max())} is out of range for "
            f"K = {codebooks.shape[1]} codewords")
    books = np.arange(codebooks.shape[0])
    return codebooks[books[None, :], codes].reshape(len(codes), -1)


class PQIndex:
    """Asymmetric search over product-quantised codes.

    ``codes``: ``uint8 (n, M)`` codebook indices; ``codebooks``: ``float32 (M, K, d_sub)``.
    ``metric``: ``"l2"`` (default: squared L2 ``||q - x_hat||^2``, as the quantization models are trained and
    stored, ``config["pq"]["metric"]``) or ``"ip"`` (the *negative* inner product ``-<q, x_hat>``).
    ``x_hat`` is the reconstruction (concatenated codewords). Distances come from per-query lookup tables
    ``(M, K)`` summed over the M sub-spaces in float32; ties (equal distances, e.g. identical codes) are
    broken by database id ascending.
    """

    METRICS = ("ip", "l2")

    def __init__(self, codes: np.ndarray, codebooks: np.ndarray, metric: str = "l2"):
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
            d_out[s:s + block], i_out[s:s + block] = exact_topk_rows(dist, k)
        return d_out, i_out
