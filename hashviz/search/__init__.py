"""The search backend: one interface for exact, hash-table, approximate and Milvus Hamming search, and
asymmetric distances for product-quantised codes.

Every page that retrieves goes through this package (never through faiss or numpy directly), so the
retrieval page and the metrics rank identically: **Hamming distance ascending, ties by database index
ascending** (docs/CONTRACTS.md). A model's indexes are built by :func:`model_index` (:func:`build_index`
for bare codes), which the code space and the app's caches call.

Binary codes (packed ``uint8 (n, bits // 8)``, ``np.packbits`` order)::

    index = HammingIndex(codes, kind="flat")          # exact, brute force (faiss IndexBinaryFlat)
    index = HammingIndex(codes, kind="hash")          # exact, hash table on a code prefix (IndexBinaryHash)
    index = HammingIndex(codes, kind="ivf", nprobe=16)  # approximate, inverted file (IndexBinaryIVF)
    index = HammingIndex(codes, kind="milvus", uri="models.db", collection="hv_dsh_64")  # Milvus
    distances, ids = index.knn(query_codes, k)        # int32 (nq, k), int64 (nq, k)
    hits = index.radius(query_codes, r)               # [(ids int64, distances int32), ...] per query

Each kind is its own class (``FlatIndex``, ``HashIndex``, ``IVFIndex``, ``MilvusHammingIndex``), all
subclasses of ``HammingIndex``, which builds the one its ``kind`` names.

Product-quantised codes (code_type "pq": ``uint8 (n, M)`` indices, codebooks ``float32 (M, K, d_sub)``)::

    index = PQIndex(codes, codebooks)                 # metric "l2", as the models store it
    distances, ids = index.knn(query_vectors, k)      # float32 (nq, k), int64 (nq, k)

faiss runs on one thread by default: where cores are shared, more faiss threads contend with every other
thread of the process (figures: docs/search.md); change it with :func:`set_search_threads`.

Modules: ``base`` (the HammingIndex front, checks, ordering helpers, numpy reference), ``faiss_kinds``,
``milvus``, ``pq`` (PQIndex, pq_reconstruct), ``service`` (build_index, model_index).
"""

from hashviz.search.base import (KINDS, HammingIndex, brute_force_knn, get_search_threads, recall_at_k,
                                 set_search_threads)
from hashviz.search.faiss_kinds import FlatIndex, HashIndex, IVFIndex
from hashviz.search.milvus import MilvusHammingIndex
from hashviz.search.pq import PQIndex, pq_reconstruct
from hashviz.search.service import build_index, model_index, pq_metric_of

__all__ = [
    "KINDS", "HammingIndex", "FlatIndex", "HashIndex", "IVFIndex", "MilvusHammingIndex", "PQIndex",
    "brute_force_knn", "build_index", "get_search_threads", "model_index", "pq_metric_of",
    "pq_reconstruct", "recall_at_k", "set_search_threads",
]
