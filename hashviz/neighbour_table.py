"""One query's top n as a table: what `hv.neighbours`, the Retrieval page's CSV and the Compare page
export. Ranks through hashviz.retrieval.rank_query (the model's code space), so the order is the
app's own: distance ascending, ties by database row ascending (docs/CONTRACTS.md).

Columns (NEIGHBOUR_COLUMNS): rank (1-based), database_row, distance (Hamming, or the asymmetric pq
distance), tie_group_size (items of the whole database at that distance), relevant (True / False,
None when the query's label is unknown), labels (class names, "+"-joined for multi-label items),
image_path (the file an import names, else None).

`hv.neighbours(model, query, n)` is `query_neighbours`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from hashviz.code_space import code_space
from hashviz.data.images import PATHS_FILE, image_path_table
from hashviz.errors import HashvizError
from hashviz.labels import label_text
from hashviz.retrieval.query import (Query, QueryCode, query_code, query_from_database, query_from_set)
from hashviz.retrieval.ranking import Ranking, rank_query

NEIGHBOUR_COLUMNS = ("rank", "database_row", "distance", "tie_group_size", "relevant", "labels", "image_path")

__all__ = ["NEIGHBOUR_COLUMNS", "neighbour_table", "query_neighbours", "ranking_table", "resolve_query",
           "image_paths_of", "encoder_of"]


def neighbour_table(model, query, n: int = 20, *, space=None, encoder: Callable[[], object] | None = None,
                    class_names: Sequence[str] | None = None) -> pd.DataFrame:
    """The top `n` database items of `model` for `query` (see `resolve_query` for what a query may
    be) as a DataFrame with NEIGHBOUR_COLUMNS. space: the model's CodeSpace (made when None);
    encoder: returns the hasher that encodes an image query (hashviz.encoders.load_encoder)."""
    q, qcode = resolve_query(model, query, encoder)
    return ranking_table(model, rank_query(model, space or code_space(model), qcode, q.label, n), class_names)


def ranking_table(model, ranking: Ranking, class_names: Sequence[str] | None = None) -> pd.DataFrame:
    """A Ranking (hashviz.retrieval.rank_query) of `model` as the neighbour table."""
    if class_names is None:
        from hashviz.zoo import class_names_of
        class_names = class_names_of(model)
    paths = image_paths_of(model)
    relevant = [None] * ranking.n if ranking.relevant is None else [bool(r) for r in ranking.relevant]
    distances = ranking.distances.astype(np.int64 if ranking.distances.dtype.kind in "iu" else np.float64)
    return pd.DataFrame({
        "rank": np.arange(1, ranking.n + 1),
        "database_row": ranking.rows.astype(np.int64),
        "distance": distances,
        "tie_group_size": np.array([ranking.groups[g].total for g in ranking.group_of], dtype=np.int64),
        "relevant": pd.array(relevant, dtype="boolean"),
        "labels": [label_text(label, class_names) for label in ranking.labels],
        "image_path": [paths(int(r)) if paths else None for r in ranking.rows],
    }, columns=list(NEIGHBOUR_COLUMNS))


def image_paths_of(model) -> Callable[[int], str] | None:
    """database row -> the image file an import names (its root joined with codes/image_paths.npy),
    or None when the model names no files. Only names the path: nothing is read or trusted here."""
    spec = model.config.get("images")
    ids = model.database_ids
    if not isinstance(spec, dict) or not isinstance(spec.get("root"), str) or ids is None:
        return None
    if not (Path(model.path) / PATHS_FILE).is_file():
        return None
    paths = image_path_table(model)
    root = Path(spec["root"])

    def path_of(row: int) -> str:
        name = paths[int(ids[row])]
        return str(root / (name.decode("utf-8", "replace") if isinstance(name, (bytes, np.bytes_)) else str(name)))
    return path_of


def resolve_query(model, query, encoder: Callable[[], object] | None = None) -> tuple[Query, QueryCode]:
    """(Query, its code in `model`) for what a caller names as the query:

    - an int, or ("query", i): row i of the model's query set;
    - ("database", i): database row i (it finds itself at distance 0);
    - a 1-D array: a code, packed uint8 (bits/8,) or one value per bit in {0,1} / {-1,+1};
    - a 2-D or 3-D array: an image (H, W[, C]), encoded by the model's network (`encoder`);
    - a hashviz.retrieval.Query."""
    if isinstance(query, Query):
        return query, query_code(model, query, encoder)
    if isinstance(query, (int, np.integer)) and not isinstance(query, bool):
        query = ("query", int(query))
    if isinstance(query, tuple) and len(query) == 2 and query[0] in ("query", "database"):
        make = query_from_set if query[0] == "query" else query_from_database
        q = make(model, query[1])
        return q, query_code(model, q, encoder)
    if isinstance(query, (np.ndarray, list)) or hasattr(query, "__array__"):
        array = np.asarray(query)
        if array.ndim == 1:
            return Query("code", None, None), QueryCode(code_space(model).code_query(array, model.name))
        if array.ndim in (2, 3):
            q = Query("image", array, None)
            if encoder is None:
                raise HashvizError(f"{model.name} has no network to encode an image query: give a query-set "
                                   "row, a database row or a code")
            return q, query_code(model, q, encoder)
    raise HashvizError("query must be a query-set row (int or ('query', i)), a database row (('database', i)), "
                       f"a code (1-D array) or an image (2-D or 3-D array), got {type(query).__name__}")


def query_neighbours(model, query, n: int = 20) -> pd.DataFrame:
    """`hv.neighbours`: the neighbour table of a model directory (hashviz.zoo.ModelDir or
    hashviz.api.Model), an image query encoded by its network (`encoder_of`)."""
    return neighbour_table(model, query, n, encoder=encoder_of(model))


def encoder_of(model) -> Callable[[], object] | None:
    """What encodes an image for `model`: its live network (a Model from hv.from_network), else its
    stored weights (hashviz.encoders.load_encoder); None for codes-only models."""
    if getattr(model, "network", None) is not None:
        return model.encoder
    if model.has_weights:
        from hashviz.encoders import load_encoder
        return lambda: load_encoder(model)
    return None

