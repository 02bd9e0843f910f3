"""What the metrics accept, checked once with a message that says what to fix: packed codes of one
width, single labels int (n,) or multi-hot 0/1 (n, C) of one kind, and the optional excluded row
per query."""

from __future__ import annotations

import numpy as np

from hashviz.codes import check_packed
from hashviz.errors import HashvizError


def check_codes(query_codes, database_codes):
    check_packed(query_codes, what="query codes")
    check_packed(database_codes, what="database codes")
    if query_codes.shape[0] == 0:
        raise HashvizError("query codes are empty: need at least one query")
    if database_codes.shape[0] == 0:
        raise HashvizError("database codes are empty: need at least one database item")
    if query_codes.shape[1] == 0:
        raise HashvizError("codes have 0 bits: expected packed uint8 (n, bits/8) with bits >= 8")
    if query_codes.shape[1] != database_codes.shape[1]:
        raise HashvizError(
            f"query codes have {query_codes.shape[1] * 8} bits but database codes have "
            f"{database_codes.shape[1] * 8}: encode both with the same model")


def check_labels(labels, n, what):
    if not isinstance(labels, np.ndarray):
        raise HashvizError(f"{what} must be a numpy array, got {type(labels).__name__}")
    if labels.ndim not in (1, 2):
        raise HashvizError(
            f"{what} must be int (n,) (single-label) or multi-hot (n, C), got shape {labels.shape}")
    if labels.shape[0] != n:
        raise HashvizError(f"{what} have {labels.shape[0]} rows but there are {n} codes")
    if labels.ndim == 1:
        if not np.issubdtype(labels.dtype, np.integer):
            raise HashvizError(f"single-label {what} must be integers, got dtype {labels.dtype}")
    else:
        if labels.shape[1] == 0:
            raise HashvizError(f"multi-hot {what} have 0 classes")
        if not (labels.dtype == bool or np.issubdtype(labels.dtype, np.number)):
            raise HashvizError(f"multi-hot {what} must be 0/1 numbers, got dtype {labels.dtype}")
        if labels.dtype.kind in "ui" and labels.size:      # min/max: one pass, no isin over 1M x C
            zero_one = labels.min() >= 0 and labels.max() <= 1
        else:
            zero_one = labels.dtype == bool or np.isin(labels, (0, 1)).all()
        if not zero_one:
            raise HashvizError(f"multi-hot {what} must hold only 0 and 1")
    return labels


def check_label_pair(query_labels, database_labels, n_q, n_db):
    check_labels(query_labels, n_q, "query labels")
    check_labels(database_labels, n_db, "database labels")
    if query_labels.ndim != database_labels.ndim:
        raise HashvizError(
            "query and database labels must be the same kind: both int (n,) or both multi-hot (n, C); "
            f"got shapes {query_labels.shape} and {database_labels.shape}")
    if query_labels.ndim == 2 and query_labels.shape[1] != database_labels.shape[1]:
        raise HashvizError(
            f"query labels have {query_labels.shape[1]} classes, database labels "
            f"{database_labels.shape[1]}")


def check_exclude(exclude, n_q, n_db):
    if exclude is None:
        return np.full(n_q, -1, dtype=np.int64)
    exclude = np.asarray(exclude)
    if exclude.shape != (n_q,) or not np.issubdtype(exclude.dtype, np.integer):
        raise HashvizError(
            f"exclude must be int (n_queries,) = ({n_q},) with a database row or -1 per query, "
            f"got {exclude.dtype} {exclude.shape}")
    if exclude.size and (exclude.min() < -1 or exclude.max() >= n_db):
        raise HashvizError(f"exclude holds rows outside -1 .. {n_db - 1}")
    return exclude.astype(np.int64)
