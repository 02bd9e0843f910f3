"""The Retrieval page's query and its code in a model.

A `Query` is a query-set image (by row), a database item (sent by the Code map or Evaluate) or an
uploaded picture (hashviz.retrieval.upload decodes it). `query_code` finds the query's code in a
model: the stored code when the model has the image, else the model encodes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from hashviz.code_space import code_space
from hashviz.errors import HashvizError

if TYPE_CHECKING:
    from hashviz.retrieval.upload import Upload



@dataclass(frozen=True, eq=False)
class Query:
    """What is searched for.

    image: uint8 (H, W[, C]) in the dataset's shape, or None (imported codes-only models);
    label: int64 () class or multi-hot (C,), or None when unknown (uploads);
    row / row_of: the row in model `row_of`'s query set (None for uploads);
    dataset_id: index into the dataset images (None for uploads and codes-only models).
    """

    source: str
    image: np.ndarray | None
    label: np.ndarray | None
    row: int | None = None
    row_of: str | None = None
    dataset_id: int | None = None
    notes: tuple[str, ...] = ()
    db_row: int | None = None       # a database item used as the query (from Code map / Evaluate)


def _stored_item(model, part: str, row: int, images: np.ndarray | None):
    """(row, dataset_id, image, label, where) of row `row` of the model's query or database set."""
    codes, ids, labels = ((model.query_codes, model.query_ids, model.query_labels) if part == "query" else
                          (model.database_codes, model.database_ids, model.database_labels))
    n = len(codes)
    if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or not 0 <= row < n:
        raise HashvizError(f"{part} index must be between 0 and {n - 1}, got {row!r}")
    dataset_id = int(ids[int(row)]) if ids is not None else None
    image = images[dataset_id] if images is not None and dataset_id is not None else None
    where = f" (dataset image {dataset_id})" if dataset_id is not None else ""
    return int(row), dataset_id, image, np.asarray(labels[int(row)]), where


def query_from_set(model, row: int, images: np.ndarray | None = None) -> Query:
    """Row `row` of the model's query set (images: the dataset's images, for the picture)."""
    row, dataset_id, image, label, where = _stored_item(model, "query", row, images)
    return Query(f"query set #{row}{where}", image, label, row, model.name, dataset_id)


def query_from_database(model, row: int, images: np.ndarray | None = None) -> Query:
    """Database item `row` as the query (it finds itself at distance 0: it is in the database)."""
    row, dataset_id, image, label, where = _stored_item(model, "database", row, images)
    return Query(f"database item #{row}{where}", image, label, row_of=model.name,
                 dataset_id=dataset_id, db_row=row)


def query_from_upload(upload: "Upload", label: np.ndarray | int | None = None) -> Query:
    """An uploaded picture (already decoded); label None leaves right/wrong unknown."""
    label = None if label is None else np.asarray(label)
    return Query(f"upload {upload.name}".strip(), upload.image, label, notes=tuple(upload.notes))


def upload_label(model, class_index: int | None) -> np.ndarray | None:
    """The label an upload gets from a chosen class, in the model's kind of labels: int64 ()
    for single-label models, one-hot (C,) for multi-label (multi-hot) ones; None stays unknown."""
    if class_index is None:
        return None
    labels = model.database_labels
    if labels.ndim == 1:
        return np.asarray(class_index, dtype=np.int64)
    if not 0 <= class_index < labels.shape[1]:
        raise HashvizError(f"class {class_index} is outside the model's {labels.shape[1]} classes")
    one_hot = np.zeros(labels.shape[1], dtype=labels.dtype)
    one_hot[class_index] = 1
    return one_hot


def choose_query(model, images: np.ndarray | None, *, upload: "Upload | None" = None,
                 upload_class: int | None = None, database_row: int | None = None, query_row: int = 0) -> Query:
    """The Retrieval page's query: an upload, else a database item (sent by the Code map or
    Evaluate; ignored when out of range), else a row of the query set."""
    if upload is not None:
        return query_from_upload(upload, upload_label(model, upload_class))
    if database_row is not None and database_row < len(model.database_codes):
        return query_from_database(model, database_row, images)
    return query_from_set(model, query_row, images)


def random_query_row(model, rng: np.random.Generator, class_index: int | None = None) -> int:
    """A random row of the model's query set, optionally of one class (multi-hot: holding it)."""
    labels = model.query_labels
    if class_index is None:
        rows = np.arange(len(labels))
    else:
        member = labels == class_index if labels.ndim == 1 else labels[:, class_index] > 0
        rows = np.flatnonzero(member)
    if rows.size == 0:
        raise HashvizError(f"the query set holds no image of class {class_index}; choose another class")
    return int(rng.choice(rows))


@dataclass(frozen=True, eq=False)
class QueryCode:
    """code: uint8 (1, width), packed bits or pq indices; vector: float32 (1, d) pq query vector."""

    code: np.ndarray
    vector: np.ndarray | None = None
    encoded: bool = False       # True: the model encoded the image now (not its stored code)


def _stored_row(model, query: Query) -> int | None:
    if query.row is not None and query.row_of == model.name:
        return query.row
    if query.dataset_id is not None and model.query_ids is not None:
        hits = np.flatnonzero(model.query_ids == query.dataset_id)
        if hits.size:
            return int(hits[0])
    return None


def query_code(model, query: Query, encoder: Callable[[], object] | None = None) -> QueryCode:
    """The query's code in `model`: its stored code when the image is in the model's query set
    (exactly what the metrics used), else the model's hasher encodes the image (`encoder()`
    returns it: hashviz.encoders.load_encoder)."""
    space = code_space(model)
    if query.db_row is not None and query.row_of == model.name:
        code = space.database_row_query(query.db_row)
        if code is not None:
            return QueryCode(code)
    row = _stored_row(model, query)
    if row is not None:
        return QueryCode(model.query_codes[row:row + 1], space.query_vector(row))
    if query.image is None:
        raise HashvizError(f"{model.name} has no code for {query.source} and there is no image to encode")
    live_network = getattr(model, "network", None) is not None      # a Model of hv.from_network, not saved yet
    if encoder is None or not (model.has_weights or live_network):
        raise HashvizError(f"{model.name} holds imported codes only: it cannot encode {query.source}")
    hasher = encoder()
    outputs = hasher.outputs(np.array(query.image[None]))  # a writable copy for torch
    code = hasher.codes_from_outputs(outputs)
    vector = space.query_vector(hasher=hasher, outputs=outputs)
    return QueryCode(np.ascontiguousarray(code, dtype=np.uint8), vector, encoded=True)
