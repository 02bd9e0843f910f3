"""A model's code space: the one place that knows binary codes from product-quantised ones.

Binary codes are packed bits ranked by Hamming distance; pq codes are codeword indices ranked by the
asymmetric distance of a query vector to their reconstruction. Everything that ranks or scores a model
(evaluation, training validation, the failure finder, Retrieval, Code map neighbours, the API) asks its
`CodeSpace`, so every caller ranks the same way: distance ascending, ties by database row ascending
(docs/CONTRACTS.md). `code_space(model)` picks the kind; nothing outside this module asks a code type.
How each kind's codes are shown (code strips, words, Code map points) is hashviz.code_display, mixed in;
what each kind stores, how it is checked and which metrics and diagnostics apply is hashviz.code_kinds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hashviz import metrics as M
from hashviz.code_display import BitsDisplay, CodeDisplay, PQDisplay
from hashviz.code_kinds import BinaryCodes, CodeKind, PQCodes
from hashviz.codes import pack_any
from hashviz.errors import HashvizError
from hashviz.hamming import hamming_distances
from hashviz.search import build_index, pq_metric_of
from hashviz.search.base import exact_topk_rows
from hashviz.search.pq import pq_reconstruct
from hashviz.ties import tie_aware_ap_from_counts, tie_range_ap_from_counts

__all__ = ["CodeSpace", "HammingSpace", "PQSpace", "OneQuery", "code_space", "outputs_space",
           "load_scoring_in_background"]


@dataclass(frozen=True, eq=False)
class OneQuery:
    """One query ranked against the whole database, from one set of distances.

    rows int64 (n,) and distances (n,) (int32 Hamming or float32 pq) of the top n in ranking order;
    tie_totals: database items at each distance of the top n; relevant bool (n_db,) or None (label
    unknown); ap: AP@all; ap_tie_aware / ap_tie_range: Hamming codes only (None for pq)."""

    rows: np.ndarray
    distances: np.ndarray
    tie_totals: dict
    relevant: np.ndarray | None = None
    ap: float | None = None
    ap_tie_aware: float | None = None
    ap_tie_range: tuple[float, float] | None = None


class CodeSpace(CodeDisplay, CodeKind):
    """Database codes and labels, the queries' representation and labels, and the index over them.

    Subclasses say how a query is represented and how distances are computed; the index is built on
    first use through hashviz.search.build_index unless one is given (a page's cached index)."""

    distance_name = ""      # what ranks, in words
    ranking_text = ""       # the same for `hashviz eval`'s ranking line, with what it leaves undefined
    tie_aware = False       # integer distances: tie-aware AP and the tie range are defined
    tie_rule = ""           # the ranking and its tie order, in words (the protocol card)
    remote_index = False    # its index can be a search server's collection (Milvus)
    _top_dtype = np.float32  # the dtype of a ranking's distances

    def __init__(self, database: np.ndarray, database_labels: np.ndarray, queries: np.ndarray | None,
                 query_labels: np.ndarray | None, *, index=None):
        self.database, self.database_labels = database, database_labels
        self._queries, self.query_labels = queries, query_labels
        self._index = index

    # ------------------------------------------------------------ what a subclass says
    def _build_index(self):
        raise NotImplementedError

    def query_of(self, qcode) -> np.ndarray:
        """The representation of a retrieval QueryCode this space searches with, (1, ...)."""
        raise NotImplementedError

    def distances(self, query: np.ndarray) -> np.ndarray:
        """Distances (n_db,) of one query (1, ...) to every database item."""
        raise NotImplementedError

    def evaluate(self) -> dict:
        """The metric dict of the queries against the database (hashviz.metrics' keys)."""
        raise NotImplementedError

    def per_query_ap(self) -> np.ndarray:
        """float64 (n_q,): AP@all of every query."""
        raise NotImplementedError

    def subset(self, query_rows=slice(None), database_rows=slice(None)) -> "CodeSpace":
        """The same space over some query rows and database rows (a new index over those rows)."""
        raise NotImplementedError

    def code_query(self, array: np.ndarray, name: str = "this model") -> np.ndarray:
        """A code given by hand (1-D) as a query (1, width); refused where codes are no query (pq)."""
        raise NotImplementedError

    def database_row_query(self, row: int) -> np.ndarray | None:
        """A database item's code as a query (1, width), or None where the space has no query
        representation for a database item (pq: queries are vectors, not stored)."""
        return None

    def query_vector(self, row: int | None = None, *, hasher=None, outputs=None) -> np.ndarray | None:
        """pq: the query vector (1, d) of query row `row`, or of an image's `outputs` by `hasher`;
        binary codes search with the code itself (None)."""
        return None

    def within(self, code: np.ndarray, radius: int, name: str = "this model") -> tuple[np.ndarray, np.ndarray]:
        """(database rows int64 (m,), distances (m,)) of every item within `radius` of a stored code
        (1, width), by (distance, row): the Hamming ball."""
        raise NotImplementedError

    def sample_neighbour_scores(self, rows: np.ndarray, labels: np.ndarray, k: int = 10) -> np.ndarray:
        """float64 (len(rows),): share of each database row's k nearest neighbours *among `rows`* that
        have its label (labels int (len(rows),)), ties by row; NaN when fewer than two rows."""
        raise NotImplementedError

    def _distance_counts(self, distances: np.ndarray):
        """Items at each distance, counted once per ranking when distances are integers (else None)."""
        return None

    def _one_query_ap(self, distances: np.ndarray, relevant: np.ndarray, counts=None) -> tuple:
        """(AP@all, tie-aware AP or None, tie range or None) of one query's ranking."""
        return float(M.distance_ranking(distances[None], relevant[None])[0][0]), None, None

    def _tie_totals(self, distances: np.ndarray, top: np.ndarray, counts=None) -> dict:
        within = distances[distances <= top.max()] if len(top) else distances[:0]
        values, counts = np.unique(within, return_counts=True)
        return {v.item(): int(c) for v, c in zip(values, counts)}

    # ------------------------------------------------------------ shared
    @property
    def index(self):
        if self._index is None:
            self._index = self._build_index()
        return self._index

    def queries(self, rows=None) -> np.ndarray:
        """What the space's queries search with (all, or the given rows)."""
        if self._queries is None:
            raise HashvizError("this code space holds no queries")
        return self._queries if rows is None else self._queries[np.asarray(rows, dtype=np.int64)]

    def knn(self, rows, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(distances, database rows int64 (len(rows), n)) of the given query rows, in ranking order."""
        return self.index.knn(self.queries(rows), n)

    def buckets(self, top: int = 10):
        """The database's buckets of identical codes (hashviz.diagnostics.buckets.BucketStats), the
        `top` largest written out."""
        from hashviz.diagnostics.buckets import bucket_occupancy
        return bucket_occupancy(self.database, self.database_labels, code_type=self.code_type, top=top)

    def rank_one(self, query: np.ndarray, label: np.ndarray | None, n: int) -> OneQuery:
        """One query (1, ...) against the database in one pass: every distance computed once gives the
        top n (distance, then row), the tie totals and, with a label, the relevance and the AP.
        A remote index (Milvus) serves the top n itself; the distances still come from the codes."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise HashvizError(f"n must be a positive integer, got {n!r}")
        dist = self.distances(query)
        if getattr(self._index, "kind", "flat") == "milvus":
            top, rows = self._index.knn(query, n)
        else:
            top, rows = exact_topk_rows(dist[None], int(n))
        top, rows = top[0].astype(self._top_dtype, copy=False), rows[0].astype(np.int64)
        counts = self._distance_counts(dist)
        result = OneQuery(rows, top, self._tie_totals(dist, top, counts))
        if label is None:
            return result
        relevant = M.relevance(np.asarray(label)[None], self.database_labels)[0]
        ap, ap_tie, tie_range = self._one_query_ap(dist, relevant, counts)
        return OneQuery(rows, top, result.tie_totals, relevant, ap, ap_tie, tie_range)


class HammingSpace(BitsDisplay, BinaryCodes, CodeSpace):
    """Packed binary codes uint8 (n, bits // 8), Hamming distance."""

    distance_name = ranking_text = "Hamming distance"
    tie_aware = True
    remote_index = True
    tie_rule = ("ranked by Hamming distance, ties by database index (tie-aware mAP and the tie range "
                "shown beside)")
    _top_dtype = np.int32

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bits = self.database.shape[1] * 8

    def _build_index(self):
        return build_index(self.database)

    def query_of(self, qcode) -> np.ndarray:
        return qcode.code

    def database_row_query(self, row: int) -> np.ndarray:
        return self.database[row:row + 1]

    def code_query(self, array: np.ndarray, name: str = "this model") -> np.ndarray:
        """Packed uint8 bytes (bits / 8 of them), or one {0,1} / {-1,+1} value per bit."""
        width = self.database.shape[1]
        if array.dtype == np.uint8 and array.shape == (width,):   # bits / 8 bytes: never a bit count
            return np.ascontiguousarray(array[None])
        if array.shape != (self.bits,):
            raise HashvizError(f"a code for {name} has {self.bits} values in {{0,1}} / {{-1,+1}} or "
                               f"{width} packed bytes, got shape {array.shape}")
        return pack_any(array[None])

    def within(self, code: np.ndarray, radius: int, name: str = "this model") -> tuple[np.ndarray, np.ndarray]:
        rows, distances = self.index.radius(code, radius)[0]
        return rows.astype(np.int64), distances

    def sample_neighbour_scores(self, rows: np.ndarray, labels: np.ndarray, k: int = 10) -> np.ndarray:
        from hashviz.projection import neighbours_correct
        return neighbours_correct(self.database[rows], labels, k=k)

    def distances(self, query: np.ndarray) -> np.ndarray:
        return hamming_distances(np.atleast_2d(query), self.database)[0]

    def evaluate(self) -> dict:
        return M.evaluate(self.queries(), self.database, self.query_labels, self.database_labels)

    def per_query_ap(self) -> np.ndarray:
        return M.average_precision_per_query(self.queries(), self.database, self.query_labels,
                                             self.database_labels)

    def subset(self, query_rows=slice(None), database_rows=slice(None)) -> "HammingSpace":
        return HammingSpace(self.database[database_rows], self.database_labels[database_rows],
                            self.queries()[query_rows], self.query_labels[query_rows])

    def _distance_counts(self, distances: np.ndarray) -> np.ndarray:
        return np.bincount(distances, minlength=self.bits + 1)

    def _tie_totals(self, distances: np.ndarray, top: np.ndarray, counts=None) -> dict:
        counts = self._distance_counts(distances) if counts is None else counts
        return {int(d): int(counts[d]) for d in np.unique(top)}

    def _one_query_ap(self, distances: np.ndarray, relevant: np.ndarray, counts=None) -> tuple:
        ap = float(M.distance_ranking(distances[None], relevant[None])[0][0])
        counts = (self._distance_counts(distances) if counts is None else counts)[None]
        relevant_counts = np.bincount(distances[relevant], minlength=self.bits + 1)[None]
        low, high = tie_range_ap_from_counts(counts, relevant_counts)
        return ap, float(tie_aware_ap_from_counts(counts, relevant_counts)[0]), (float(low[0]), float(high[0]))


class PQSpace(PQDisplay, PQCodes, CodeSpace):
    """Codeword indices uint8 (n, M) with codebooks float32 (M, K, d_sub); queries are vectors
    float32 (n_q, M * d_sub) ranked by asymmetric distance (``pq_metric`` "l2" or "ip")."""

    ranking_text = "asymmetric distance to the pq codewords (no Hamming ball: Hamming-only metrics are n/a)"

    def __init__(self, *args, codebooks: np.ndarray, pq_metric: str = "l2", **kwargs):
        super().__init__(*args, **kwargs)
        self.codebooks, self.pq_metric = codebooks, pq_metric
        self.distance_name = f"asymmetric {pq_metric} distance to the quantised codes"
        self.tie_rule = (f"ranked by {self.distance_name}, ties by database index (real-valued distances: "
                         "no Hamming tie range)")

    def _build_index(self):
        return build_index(self.database, code_type="pq", codebooks=self.codebooks, pq_metric=self.pq_metric)

    def query_of(self, qcode) -> np.ndarray:
        if qcode.vector is None:
            raise HashvizError("this is a pq model: the query needs a query vector")
        return np.atleast_2d(qcode.vector)

    def distances(self, query: np.ndarray) -> np.ndarray:
        return self.index.distances(np.atleast_2d(query))[0]

    def code_query(self, array: np.ndarray, name: str = "this model") -> np.ndarray:
        raise HashvizError(f"{name} stores pq codes: a code query is not defined for it; give a "
                           "query-set row, a database row or an image")

    def within(self, code: np.ndarray, radius: int, name: str = "this model") -> tuple[np.ndarray, np.ndarray]:
        raise HashvizError(f"{name} has pq codes (codeword indices, not bits): there is no Hamming ball; "
                           "use the top-n view")

    def query_vector(self, row: int | None = None, *, hasher=None, outputs=None) -> np.ndarray:
        return self.queries()[row:row + 1] if row is not None else hasher.query_vectors(outputs)

    def evaluate(self) -> dict:
        return M.evaluate_index(self.index, self.queries(), self.query_labels, self.database_labels)

    def per_query_ap(self) -> np.ndarray:
        return M.evaluate_index(self.index, self.queries(), self.query_labels, self.database_labels,
                                per_query=True)

    def sample_neighbour_scores(self, rows: np.ndarray, labels: np.ndarray, k: int = 10) -> np.ndarray:
        """Euclidean distance of the reconstructed vectors (rounded so near-equal ones tie), ties by row."""
        vectors = pq_reconstruct(self.database[rows], self.codebooks).astype(np.float64)
        n = rows.shape[0]
        k = int(min(k, n - 1))
        out = np.full(n, np.nan)
        if k < 1:
            return out
        sq = (vectors ** 2).sum(1)
        for s in range(0, n, 512):
            d = sq[s:s + 512, None] + sq[None, :] - 2 * vectors[s:s + 512] @ vectors.T
            d = np.round(np.maximum(d, 0), 6)              # stable ties
            d[np.arange(d.shape[0]), np.arange(s, s + d.shape[0])] = np.inf
            nn = np.lexsort((np.broadcast_to(np.arange(n), d.shape), d), axis=1)[:, :k]
            out[s:s + d.shape[0]] = (labels[nn] == labels[s:s + d.shape[0], None]).mean(1)
        return out

    def subset(self, query_rows=slice(None), database_rows=slice(None)) -> "PQSpace":
        return PQSpace(self.database[database_rows], self.database_labels[database_rows],
                       self.queries()[query_rows], self.query_labels[query_rows],
                       codebooks=self.codebooks, pq_metric=self.pq_metric)


def code_space(model, index=None) -> CodeSpace:
    """The code space of a model directory (``index``: one already built over its database codes,
    e.g. a page's cached one; otherwise an exact flat index is built on first use). A model without
    a query set (a database alone) gives a space whose `queries` refuses."""
    query_labels = getattr(model, "query_labels", None)
    if model.code_type == "pq":
        return PQSpace(model.database_codes, model.database_labels, getattr(model, "query_vectors", None),
                       query_labels, index=index, codebooks=model.codebooks, pq_metric=pq_metric_of(model))
    return HammingSpace(model.database_codes, model.database_labels, getattr(model, "query_codes", None),
                        query_labels, index=index)


def load_scoring_in_background(method) -> None:
    """Start loading, on a thread, what scoring `method`'s outputs (outputs_space) first needs, so a
    trainer's first validation does not wait for it: the Hamming metrics' compiled pass for binary
    codes; pq ranking loads nothing."""
    if method.code_type != "pq":
        M.load_kernel_in_background()


def outputs_space(method, query_outputs, database_outputs, query_labels, database_labels) -> CodeSpace:
    """The code space of a deep method's continuous outputs (torch float32 (n, d)): its codes for the
    database and, as queries, its codes (binary) or its query embeddings (pq). `method` follows
    hashviz.methods.protocols: a DeepMethod, and a ProductQuantizer where its code_type is "pq"."""
    database = method.encode_outputs(database_outputs)
    if method.code_type == "pq":
        return PQSpace(database, database_labels, method.embed_outputs(query_outputs), query_labels,
                       codebooks=method.codebooks(), pq_metric=method.pq_metric)
    return HammingSpace(database, database_labels, method.encode_outputs(query_outputs), query_labels)
