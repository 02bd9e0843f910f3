"""Where a model's index is built: a model's (or a method's) database codes -> the index of a backend.

A code space (hashviz.code_space) builds its index with :func:`build_index`, and the app's cached
indexes come from :func:`model_index`; so evaluation, validation during training, the failure finder,
Retrieval and the lenses rank with the same kinds and the same order. (hashviz.projection's
`neighbours_correct` ranks a map's sample among itself with a flat ``HammingIndex`` of its own.)
"""

from __future__ import annotations

import numpy as np

from hashviz.errors import HashvizError
from hashviz.search.base import HammingIndex
from hashviz.search.milvus import collection_name_for, open_or_push
from hashviz.search.pq import PQIndex

__all__ = ["build_index", "model_index", "pq_metric_of"]


def build_index(codes: np.ndarray, *, code_type: str = "binary", kind: str = "flat", codebooks=None,
                pq_metric: str = "l2", uri: str | None = None, collection: str | None = None, **options):
    """The search index over database ``codes``.

    Binary codes: ``HammingIndex(codes, kind=kind, **options)`` (``"flat"``, ``"hash"``, ``"ivf"``), or
    for ``kind="milvus"`` the collection ``collection`` at ``uri``, opened when hashviz pushed these very
    codes there (their fingerprint), else pushed. pq codes: a ``PQIndex`` with ``codebooks`` and ``pq_metric`` (the kind
    does not apply: asymmetric distances are computed in-process).
    """
    if code_type == "pq":
        return PQIndex(codes, codebooks, metric=pq_metric)
    if code_type != "binary":
        raise HashvizError(f"code_type must be 'binary' or 'pq', got {code_type!r}")
    if kind == "milvus":
        return open_or_push(codes, uri, collection, **options)
    return HammingIndex(codes, kind=kind, **options)


def pq_metric_of(model) -> str:
    """The distance a pq model was trained for ("l2" unless its config says otherwise)."""
    return (model.config.get("pq") or {}).get("metric", "l2")


def model_index(model, kind: str = "flat", *, uri: str | None = None, **options):
    """The index over a model directory's database codes (Milvus: the collection named after it and
    the fingerprint of its codes, so a retrained model never gets the old codes)."""
    collection = collection_name_for(model.path, model.database_codes) if kind == "milvus" else None
    return build_index(model.database_codes, code_type=model.code_type, kind=kind, codebooks=model.codebooks,
                       pq_metric=pq_metric_of(model), uri=uri, collection=collection, **options)
