"""The failure finder: where a model's ranking goes wrong (worst queries, per-class AP, retrieval
confusion, cross-class collisions). Ranks through the model's code space (hashviz.code_space) and scores with
hashviz.metrics, so every number is the leaderboard's own. Returns data or plotly figures; nothing
here imports streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from hashviz import plots
from hashviz.errors import HashvizError
from hashviz.labels import label_set, label_text
from hashviz.labels import members as label_members
from hashviz.code_space import code_space
from hashviz.metrics import relevance
from hashviz.zoo import ModelDir, class_names_of

__all__ = ["FailureReport", "failure_report", "per_query_ap", "worst_queries", "per_class_ap",
           "retrieval_confusion", "confusion_figure", "cross_class_collisions", "top_n"]


def _single_label(model: ModelDir) -> None:
    if model.query_labels.ndim != 1:
        raise HashvizError(f"{model.name} has multi-label codes; per-class tables need one label per image")


def per_query_ap(model: ModelDir) -> np.ndarray:
    """float64 (n_queries,): AP@all of every query (hashviz.metrics definitions; pq models by
    asymmetric distance, the same ranking and zero-relevant rule); the stored one when the model
    directory has it (codes/query_ap.npy, written by the same single pass as its metrics)."""
    if model.arrays.get("query_ap") is not None:
        return model.arrays["query_ap"]
    return code_space(model).per_query_ap()


def top_n(model: ModelDir, rows: np.ndarray, n: int, space=None) -> tuple[np.ndarray, np.ndarray]:
    """(distances, database rows int64 (len(rows), n)) of the given query rows, in ranking order
    (`space`: the model's code space with its index, e.g. a page's cached one; else one is built)."""
    return (space or code_space(model)).knn(rows, n)


def worst_queries(model: ModelDir, ap: np.ndarray, count: int = 10, n: int = 10,
                  rows: np.ndarray | None = None, space=None) -> pd.DataFrame:
    """The `count` queries with the lowest AP (ties by query row), with their top-n retrievals; among
    the query `rows` only when given.

    Columns: query row, class, AP, relevant in top n, top-n database rows (list), top-n classes (list)."""
    names = class_names_of(model)
    rows = np.arange(len(ap)) if rows is None else np.asarray(rows, dtype=np.int64)
    order = rows[np.lexsort((rows, ap[rows]))][:count]
    _, ids = top_n(model, order, n, space)
    rows = []
    for q, retrieved in zip(order, ids):
        got = model.database_labels[retrieved]
        relevant = int(relevance(model.query_labels[q:q + 1], got)[0].sum())
        rows.append({"query row": int(q), "class": label_text(model.query_labels[q], names),
                     "AP": float(ap[q]), f"relevant in top {n}": relevant,
                     f"top {n} database rows": [int(i) for i in retrieved],
                     f"top {n} classes": [label_text(c, names) for c in got]})
    return pd.DataFrame(rows)


def per_class_ap(model: ModelDir, ap: np.ndarray) -> pd.DataFrame:
    """Per query class: number of queries, mean AP (the class's share of mAP@all), its worst query."""
    names = class_names_of(model)
    labels = np.asarray(model.query_labels)
    rows = []
    for c in label_set(labels):           # multi-label: per label, over the queries carrying it
        members = np.flatnonzero(label_members(labels, c))
        worst = members[np.argmin(ap[members])]
        rows.append({"class": names[int(c)], "label": int(c), "queries": int(len(members)),
                     "mAP": float(ap[members].mean()), "worst query row": int(worst),
                     "worst AP": float(ap[worst])})
    columns = ["class", "label", "queries", "mAP", "worst query row", "worst AP"]
    return pd.DataFrame(rows, columns=columns).sort_values(["mAP", "label"]).reset_index(drop=True)


def retrieval_confusion(model: ModelDir, n: int = 10, retrieved: np.ndarray | None = None, space=None) -> np.ndarray:
    """float64 (C, C): row = query class, column = class of a retrieved item, value = share of that
    class in the top-n retrievals of the row's queries (each row sums to 1). `retrieved` may pass
    precomputed top-n database rows (n_queries, n)."""
    _single_label(model)
    c = len(class_names_of(model))
    if retrieved is None:
        _, retrieved = top_n(model, np.arange(len(model.query_codes)), n, space)
    got = np.asarray(model.database_labels)[retrieved].astype(np.int64)
    q = np.repeat(np.asarray(model.query_labels, dtype=np.int64), got.shape[1])
    counts = np.bincount(q * c + got.ravel(), minlength=c * c).reshape(c, c).astype(np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def confusion_figure(matrix: np.ndarray, names: Sequence[str], n: int) -> go.Figure:
    return plots.confusion_heatmap(np.round(matrix, 2), names,
                                   title=f"Which classes the top {n} retrievals come from (share per query class)")


def cross_class_collisions(model: ModelDir, limit: int = 50, space=None) -> pd.DataFrame:
    """Database buckets of identical codes holding more than one class, largest first.

    One row per (bucket, class): code, bucket size, classes in the bucket, the class, how many of its
    items share the code, and its first database row. Empty when no code is shared across classes."""
    _single_label(model)
    names = class_names_of(model)
    space = space or code_space(model)
    stats = space.buckets(top=0)
    bucket = stats.bucket_of_row
    labels = np.asarray(model.database_labels, dtype=np.int64)
    n_classes = np.bincount(np.unique(bucket * (labels.max() + 1) + labels) // (labels.max() + 1),
                            minlength=len(stats.bucket_sizes))
    first_row = np.full(len(stats.bucket_sizes), len(bucket), dtype=np.int64)
    np.minimum.at(first_row, bucket, np.arange(len(bucket)))
    mixed = np.flatnonzero(n_classes > 1)
    mixed = mixed[np.lexsort((first_row[mixed], -stats.bucket_sizes[mixed]))]
    rows = []
    for b in mixed:
        members = np.flatnonzero(bucket == b)
        code_row = model.database_codes[members[0]]
        code = space.code_text(code_row)
        for c in np.unique(labels[members]):
            mine = members[labels[members] == c]
            rows.append({"code": code, "bucket size": int(len(members)), "classes in bucket": int(n_classes[b]),
                         "class": names[int(c)], "items of class": int(len(mine)),
                         "database row": int(mine[0])})
            if len(rows) >= limit:
                break
        if len(rows) >= limit:
            break
    return pd.DataFrame(rows, columns=["code", "bucket size", "classes in bucket", "class",
                                       "items of class", "database row"])


@dataclass
class FailureReport:
    """Everything the failure finder shows for one model."""

    model: str
    n: int
    mean_ap: float
    worst: pd.DataFrame
    per_class: pd.DataFrame
    confusion: np.ndarray
    class_names: list[str]
    collisions: pd.DataFrame
    single_label: bool
    query_classes: tuple[int, ...] = ()    # worst queries, per-class AP and mean AP of these classes only

    def multi_label_note(self) -> str:
        """Why the tables below the per-label one are missing (and the per-label one, when empty)."""
        note = ("The confusion matrix and cross-class collisions need one label per image; this model "
                "has multi-label data (relevant = shares at least one label).")
        if self.per_class.empty:
            note = ("No query carries a label (every query's label vector is all zeros), so the per-label "
                    "table is empty and every query's AP is 0. " + note)
        return note


def failure_report(model: ModelDir, n: int = 10, worst: int = 10, collisions: int = 50,
                   query_classes: Sequence[int] = (), space=None) -> FailureReport:
    """Per-query AP once, then the worst queries, per-class AP, the top-n confusion matrix and the
    cross-class collisions (the last three need single-label data and are empty otherwise).
    query_classes (e.g. the classes training held out): worst queries, per-class AP and the mean AP
    over those classes' queries only; each AP is still against the whole database (for held-out
    classes, their unseen@all AP). One code space (`space`, e.g. the page's cached one) serves it all."""
    space = space or code_space(model)
    if n < 1 or worst < 1:
        raise HashvizError("the number of retrievals and of worst queries must be at least 1")
    ap = space.per_query_ap()
    single = model.query_labels.ndim == 1
    names = class_names_of(model)
    per_class = per_class_ap(model, ap)
    rows = None
    if len(query_classes):
        from hashviz.unseen import unseen_query_rows
        rows = unseen_query_rows(model, query_classes)
        per_class = per_class[per_class["label"].isin(list(query_classes))].reset_index(drop=True)
    if single:
        confusion = retrieval_confusion(model, n, space=space)
        coll = cross_class_collisions(model, collisions, space)
    else:
        confusion, coll = np.zeros((0, 0)), pd.DataFrame()
    mean_ap = float(ap.mean() if rows is None else ap[rows].mean())
    return FailureReport(model.name, n, mean_ap, worst_queries(model, ap, worst, n, rows, space), per_class,
                         confusion, names, coll, single, tuple(int(c) for c in query_classes))
