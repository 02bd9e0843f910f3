"""One query against one model's database: what the Retrieval page shows, as data and figures.

A `Query` is a query-set image (by row) or an uploaded picture (`decode_upload` makes it the
dataset's size and channels and says what it did). `query_code` finds the query's code in a model
(the stored code when the model has the image in its query set, else the model encodes it);
`rank_query` ranks the database through the search index, marks right/wrong, groups ties and
computes this query's precision@n and AP with hashviz.metrics, so the numbers agree with the
leaderboard. `hamming_ball` is the hash-lookup view (all items within radius r).

Ranking order everywhere: distance ascending, ties by database row ascending (docs/CONTRACTS.md).
Inside a tie group that order is arbitrary: another index could list the group in any order.
"""

from __future__ import annotations

import base64
import html
import io
import warnings
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from hashviz.data import describe_protocol
from hashviz.errors import HashvizError
from hashviz.metrics import average_precision_per_query, evaluate_index, relevance, tie_range_per_query

__all__ = [
    "N_RANGE", "BALL_RADIUS", "MAX_UPLOAD_PIXELS", "VIEWS",
    "Query", "QueryCode", "TieGroup", "Ranking", "Ball", "Upload", "UrlState",
    "query_from_set", "query_from_upload", "upload_label", "random_query_row", "query_code",
    "rank_query", "query_ap", "scores_text", "protocol_note", "hamming_ball", "ball_note", "ball_table",
    "ball_figure", "item_note",
    "label_text", "png_data_uri", "enlarge", "grid_data", "ball_grid_data", "ranking_frame",
    "ranking_csv", "differing_positions", "bit_strip_html", "decode_upload", "dark_background",
    "parse_url_state", "url_params", "comparable_models", "default_comparison",
]

N_RANGE = (5, 100)          # top-n the page offers
BALL_RADIUS = 3             # Hamming-ball view: distances 0 .. 3
MAX_UPLOAD_PIXELS = 40_000_000
VIEWS = ("top-n", "side-by-side", "hamming-ball")
RIGHT, WRONG, UNKNOWN = "right", "wrong", "unknown"
SYMBOL = {RIGHT: "✓", WRONG: "✗", UNKNOWN: "·"}


# --------------------------------------------------------------------------------------------
# queries

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


def query_strip_title(model) -> str:
    if model.code_type == "pq":
        return "Query's pq code: codeword index per sub-space (pq codes have no bit strip)"
    return f"Query code ({model.bits} bits)"


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
    (exactly what the metrics used), else the model's encoder (`encoder()` returns a
    hashviz.encoders.Encoder) encodes the image."""
    if query.db_row is not None and query.row_of == model.name and model.code_type != "pq":
        return QueryCode(model.database_codes[query.db_row:query.db_row + 1])
    row = _stored_row(model, query)
    if row is not None:
        vector = None if model.code_type != "pq" else model.query_vectors[row:row + 1]
        return QueryCode(model.query_codes[row:row + 1], vector)
    if query.image is None:
        raise HashvizError(f"{model.name} has no code for {query.source} and there is no image to encode")
    if not model.has_weights or encoder is None:
        raise HashvizError(f"{model.name} holds imported codes only: it cannot encode {query.source}")
    enc = encoder()
    outputs = enc.outputs(np.array(query.image[None]))  # a writable copy for torch
    code = enc.codes_from_outputs(outputs)
    vector = None
    if model.code_type == "pq":
        import torch
        vector = enc.method.embed_outputs(torch.from_numpy(np.asarray(outputs, dtype=np.float32)))
    return QueryCode(np.ascontiguousarray(code, dtype=np.uint8), vector, encoded=True)


# --------------------------------------------------------------------------------------------
# ranking

@dataclass(frozen=True)
class TieGroup:
    """Items at one distance: ranks first_rank .. first_rank + shown - 1 of the top n; `total`
    items of the whole database share that distance (their order is arbitrary when total > 1)."""

    distance: float
    first_rank: int
    shown: int
    total: int

    @property
    def tied(self) -> bool:
        return self.total > 1

    def title(self, code_type: str = "binary") -> str:
        d = _fmt_distance(self.distance, code_type)
        if not self.tied:
            return f"d = {d}"
        more = f", {self.total - self.shown} more beyond the top n" if self.total > self.shown else ""
        return f"tie group d = {d} · {self.total} items{more} · order arbitrary"


@dataclass(frozen=True, eq=False)
class Ranking:
    """Top n of one model for one query. rows: int64 (n,) database rows; distances (n,) int32
    (Hamming) or float32 (pq); labels (n,) or (n, C); relevant bool (n,) or None (label unknown);
    dataset_ids int64 (n,) or None; group_of int (n,) index into groups."""

    model_name: str
    code_type: str
    rows: np.ndarray
    distances: np.ndarray
    labels: np.ndarray
    relevant: np.ndarray | None
    dataset_ids: np.ndarray | None
    groups: list[TieGroup]
    group_of: np.ndarray
    n_database: int
    precision: float | None = None
    ap: float | None = None
    ap_tie_aware: float | None = None
    relevant_total: int | None = None
    codes: np.ndarray = field(default=None, repr=False)   # uint8 (n, width) codes of the items
    ap_tie_range: tuple[float, float] | None = None     # (lowest, highest) AP over the orders inside ties

    @property
    def n(self) -> int:
        return len(self.rows)

    def marks(self) -> list[str]:
        if self.relevant is None:
            return [UNKNOWN] * self.n
        return [RIGHT if r else WRONG for r in self.relevant]


def _fmt_distance(d, code_type: str) -> str:
    return f"{int(d)}" if code_type != "pq" else f"{float(d):.4g}"


def _tie_groups(distances: np.ndarray, totals: Callable[[float], int]) -> tuple[list[TieGroup], np.ndarray]:
    groups, group_of = [], np.zeros(len(distances), dtype=np.int64)
    start = 0
    for i in range(1, len(distances) + 1):
        if i == len(distances) or distances[i] != distances[start]:
            d = distances[start].item()
            groups.append(TieGroup(d, start + 1, i - start, int(totals(d))))
            group_of[start:i] = len(groups) - 1
            start = i
    return groups, group_of


def rank_query(model, index, qcode: QueryCode, label: np.ndarray | None, n: int, *, ap: bool = True) -> Ranking:
    """Top-n of `model`'s database for one query through its search index (HammingIndex or
    PQIndex from pages.common.get_index), with tie groups, right/wrong marks, precision@n and
    (ap=True) this query's AP, see `query_ap`."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise HashvizError(f"n must be a positive integer, got {n!r}")
    db, db_labels = model.database_codes, model.database_labels
    if model.code_type == "pq":
        if qcode.vector is None:
            raise HashvizError(f"{model.name} is a pq model: the query needs a query vector")
        full = index.distances(qcode.vector)[0]
        dist, rows = index.knn(qcode.vector, n)
        totals = lambda d: int(np.count_nonzero(full == np.float32(d)))  # noqa: E731
    else:
        dist, rows = index.knn(qcode.code, n)
        hist = index.distance_counts(qcode.code, int(dist.max()))
        totals = lambda d: int(hist[int(d)])  # noqa: E731
    dist, rows = dist[0], rows[0].astype(np.int64)
    groups, group_of = _tie_groups(dist, totals)
    ids = model.database_ids[rows] if model.database_ids is not None else None
    precision = rel_total = rel = None
    if label is not None:
        rel_all = relevance(np.asarray(label)[None], db_labels)[0]
        rel, rel_total = rel_all[rows], int(rel_all.sum())
        precision = float(rel.mean())
    ranking = Ranking(model.name, model.code_type, rows, dist, db_labels[rows], rel, ids, groups, group_of,
                      len(db), precision, None, None, rel_total, db[rows])
    return query_ap(model, index, qcode, label, ranking) if ap else ranking


def query_ap(model, index, qcode: QueryCode, label: np.ndarray | None, ranking: Ranking) -> Ranking:
    """`ranking` with this query's AP@all filled in (and, for Hamming codes, the tie-aware AP and the
    tie range: the lowest and highest AP any order inside the ties gives):
    hashviz.metrics for Hamming codes (evaluate_index for pq codes), so the
    leaderboard's mAP@all is exactly the mean of this number over the query set. Apart from
    rank_query so a page can draw the grid before the metrics kernel loads (first use)."""
    if label is None:
        return ranking
    label = np.asarray(label)
    db, db_labels = model.database_codes, model.database_labels
    ap_tie = tie_range = None
    if model.code_type == "pq":
        ap = float(evaluate_index(index, np.atleast_2d(qcode.vector), label[None], db_labels, per_query=True)[0])
    else:
        args = (qcode.code, db, label[None], db_labels)
        ap = float(average_precision_per_query(*args)[0])
        ap_tie = float(average_precision_per_query(*args, tie_aware=True)[0])
        tie_range = tuple(float(v[0]) for v in tie_range_per_query(*args))
    return replace(ranking, ap=ap, ap_tie_aware=ap_tie, ap_tie_range=tie_range)


def scores_text(ranking: Ranking) -> str:
    """One markdown line: precision@n, AP (tie-aware AP, tie range) and how many items are relevant."""
    if ranking.precision is None:
        return "precision and AP need the query's class (unknown: choose it beside the upload)"
    ap = "…" if ranking.ap is None else f"{ranking.ap:.3f}"
    tie = f" (tie-aware {ranking.ap_tie_aware:.3f}" if ranking.ap_tie_aware is not None else ""
    if tie and ranking.ap_tie_range is not None:
        tie += ", tie range {:.3f} – {:.3f}".format(*ranking.ap_tie_range)
    tie += ")" if tie else ""
    return (f"**precision@{ranking.n}** {ranking.precision:.3f} · **AP** {ap}{tie} · "
            f"{ranking.relevant_total} relevant in {ranking.n_database}")


def protocol_note(model) -> str:
    """Plain sentence stating how the numbers beside a ranking are defined."""
    protocol = model.metrics.get("protocol") or describe_protocol(model.protocol)
    if model.code_type == "pq":
        metric = (model.config.get("pq") or {}).get("metric", "l2")
        order = f"asymmetric {metric} distance to the quantised codes"
    else:
        order = "Hamming distance"
    text = (f"Protocol {protocol}. Ranked by {order} ascending, ties by database index ascending "
            "(the leaderboard's rule); AP = AP@all over the whole ranking, its mean over the query "
            "set is the leaderboard's mAP@all. Right (✓) = same class as the query")
    if model.code_type != "pq":
        text += ("; tie-aware AP = expected AP when each tie group is shuffled; tie range = the lowest and "
                 "highest AP any order inside the ties gives (relevant items last / first)")
    return text + "."


# --------------------------------------------------------------------------------------------
# Hamming ball (hash lookup)

@dataclass(frozen=True, eq=False)
class Ball:
    """Every database item within Hamming distance `radius` of the query (index.radius search).
    rows int64 (m,), distances int32 (m,) sorted by (distance, row); relevant bool (m,) or None."""

    radius: int
    rows: np.ndarray
    distances: np.ndarray
    labels: np.ndarray
    relevant: np.ndarray | None
    dataset_ids: np.ndarray | None


def hamming_ball(model, index, qcode: QueryCode, label: np.ndarray | None, radius: int = BALL_RADIUS) -> Ball:
    if model.code_type == "pq":
        raise HashvizError(f"{model.name} has pq codes (codeword indices, not bits): there is no "
                           "Hamming ball; use the top-n view")
    rows, dist = index.radius(qcode.code, radius)[0]
    rows = rows.astype(np.int64)
    rel = None if label is None else relevance(np.asarray(label)[None], model.database_labels[rows])[0]
    ids = model.database_ids[rows] if model.database_ids is not None else None
    return Ball(radius, rows, dist, model.database_labels[rows], rel, ids)


def _class_counts(labels: np.ndarray, n_classes: int) -> np.ndarray:
    if labels.ndim == 1:
        return np.bincount(labels, minlength=n_classes)[:n_classes]
    return labels.astype(np.int64).sum(axis=0)[:n_classes]


def ball_note(ball: Ball) -> str:
    """How the Hamming-ball view is defined (the hash-lookup protocol)."""
    return (f"Hash lookup: every database item within Hamming distance r of the query code, found by "
            f"radius search ({len(ball.rows)} items within {ball.radius}). The leaderboard's p_h2 is the "
            "precision within r = 2 (an empty ball counts as 0).")


def ball_table(ball: Ball, class_names: Sequence[str]):
    """pandas DataFrame, one row per distance 0..radius: items at that distance, items and
    precision within the ball (<= d, the hash-lookup protocol), then one count column per class."""
    import pandas as pd
    rows = []
    for d in range(ball.radius + 1):
        at, within = ball.distances == d, ball.distances <= d
        row = {"distance": d, "items at d": int(at.sum()), "items within d": int(within.sum())}
        if ball.relevant is not None:
            hits = int(ball.relevant[within].sum())
            row["right within d"] = hits
            row["precision within d"] = round(hits / within.sum(), 3) if within.any() else None
        counts = _class_counts(ball.labels[at], len(class_names))
        row.update({str(name): int(c) for name, c in zip(class_names, counts)})
        rows.append(row)
    return pd.DataFrame(rows)


def ball_figure(ball: Ball, class_names: Sequence[str]) -> go.Figure:
    """Stacked bars: items at each distance 0..radius, one trace per class present."""
    from hashviz.plots import PALETTE
    fig = go.Figure()
    radii = np.arange(ball.radius + 1)
    per_d = np.stack([_class_counts(ball.labels[ball.distances == d], len(class_names)) for d in radii])
    for c, name in enumerate(class_names):
        if per_d[:, c].any():
            fig.add_trace(go.Bar(x=radii, y=per_d[:, c], name=str(name),
                                 marker=dict(color=PALETTE[c % len(PALETTE)]),
                                 hovertemplate=f"class {name}<br>d = %{{x}}: %{{y}} items<extra></extra>"))
    fig.update_layout(barmode="stack", template="plotly_white", height=300,
                      title=dict(text=f"Hamming ball: items at distance 0..{ball.radius}, by class"),
                      xaxis=dict(title="Hamming distance to the query", dtick=1),
                      yaxis_title="items", margin=dict(l=50, r=20, t=50, b=40), legend_title="class")
    return fig


# --------------------------------------------------------------------------------------------
# presentation data (thumbnails, tables, CSV, code strips)

def label_text(label, class_names: Sequence[str]) -> str:
    """'3' -> its class name; multi-hot -> names joined by '+'; None -> 'unknown'."""
    if label is None:
        return "unknown"
    label = np.asarray(label)
    if label.ndim == 0:
        i = int(label)
        return str(class_names[i]) if 0 <= i < len(class_names) else str(i)
    names = [str(class_names[i]) if i < len(class_names) else str(i) for i in np.flatnonzero(label)]
    return "+".join(names) or "none"


def png_data_uri(image: np.ndarray, max_side: int = 96) -> str:
    """uint8 (H, W[, C]) -> 'data:image/png;base64,...' (larger images shrunk to max_side)."""
    from PIL import Image
    pic = Image.fromarray(np.ascontiguousarray(image))
    if max(pic.size) > max_side:
        pic.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    pic.save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def enlarge(image: np.ndarray, side: int = 160) -> np.ndarray:
    """Nearest-neighbour upscale by a whole factor so the longer side is about `side` pixels."""
    factor = max(1, side // max(image.shape[:2]))
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def _tile(ranking: Ranking, i: int, images, class_names, mark: str) -> dict:
    d = _fmt_distance(ranking.distances[i], ranking.code_type)
    ds_id = None if ranking.dataset_ids is None else int(ranking.dataset_ids[i])
    return {"rank": int(i) + 1, "row": int(ranking.rows[i]), "distance": d, "mark": mark,
            "symbol": SYMBOL[mark], "label": label_text(ranking.labels[i], class_names),
            "uri": png_data_uri(images[ds_id]) if images is not None and ds_id is not None else None}


def grid_data(ranking: Ranking, images: np.ndarray | None, class_names: Sequence[str],
              selected_rank: int | None = None, size: int = 64, clickable: bool = True) -> dict:
    """What the thumbnail grid (pages/thumb_grid.js) draws: tie groups, each titled and with its
    tiles (rank, database row, distance, label, right/wrong mark and symbol, PNG data URI or None
    without images); consecutive untied items share one untitled group."""
    marks = ranking.marks()
    groups: list[dict] = []
    for g, group in enumerate(ranking.groups):
        tiles = [_tile(ranking, i, images, class_names, marks[i]) for i in np.flatnonzero(ranking.group_of == g)]
        if not group.tied and groups and not groups[-1]["tied"]:
            groups[-1]["tiles"].extend(tiles)      # a run of distinct distances needs no bracket
        else:
            groups.append({"title": group.title(ranking.code_type) if group.tied else "",
                           "tied": group.tied, "tiles": tiles})
    selected = None if selected_rank is None else int(selected_rank)
    return {"groups": groups, "selected": selected, "size": int(size), "clickable": bool(clickable)}


def ball_grid_data(ball: Ball, images: np.ndarray | None, class_names: Sequence[str],
                   per_radius: int = 40) -> dict:
    """Grid data for the Hamming ball: one group per distance (first `per_radius` items)."""
    groups = []
    for d in range(ball.radius + 1):
        at = np.flatnonzero(ball.distances == d)
        tiles = []
        for j in at[:per_radius]:
            mark = UNKNOWN if ball.relevant is None else (RIGHT if ball.relevant[j] else WRONG)
            ds_id = None if ball.dataset_ids is None else int(ball.dataset_ids[j])
            tiles.append({"rank": None, "row": int(ball.rows[j]), "distance": str(d), "mark": mark,
                          "symbol": SYMBOL[mark], "label": label_text(ball.labels[j], class_names),
                          "uri": png_data_uri(images[ds_id]) if images is not None and ds_id is not None else None})
        more = f" (first {per_radius} shown)" if len(at) > per_radius else ""
        groups.append({"title": f"distance {d}: {len(at)} items{more}", "tied": len(at) > 1, "tiles": tiles})
    return {"groups": groups, "selected": None, "size": 64, "clickable": False}


def ranking_frame(ranking: Ranking, class_names: Sequence[str]):
    """pandas DataFrame of the top n: rank, database_index, dataset_index, distance, label,
    right_wrong, tie_group (the CSV the page offers)."""
    import pandas as pd
    marks = ranking.marks()
    return pd.DataFrame({
        "rank": np.arange(1, ranking.n + 1),
        "database_index": ranking.rows,
        "dataset_index": ranking.dataset_ids if ranking.dataset_ids is not None else [None] * ranking.n,
        "distance": ranking.distances,
        "label": [label_text(lab, class_names) for lab in ranking.labels],
        "right_wrong": marks,
        "tie_group": [ranking.groups[g].title(ranking.code_type) for g in ranking.group_of],
    })


def ranking_csv(ranking: Ranking, class_names: Sequence[str]) -> str:
    return ranking_frame(ranking, class_names).to_csv(index=False)


def differing_positions(a: np.ndarray, b: np.ndarray, code_type: str = "binary") -> np.ndarray:
    """Bit positions (binary, bit 0 first as in codes.bit_strip) or sub-code positions (pq) where
    two codes (uint8 (width,) or (1, width)) differ."""
    a, b = np.asarray(a, np.uint8).ravel(), np.asarray(b, np.uint8).ravel()
    if a.shape != b.shape:
        raise HashvizError(f"codes of different widths: {a.size} and {b.size} bytes")
    if code_type == "pq":
        return np.flatnonzero(a != b)
    return np.flatnonzero(np.unpackbits(a) != np.unpackbits(b))


def item_note(ranking: Ranking, qcode: QueryCode, i: int, class_names: Sequence[str]) -> str:
    """'#3 · label 7 · ✓ right · database index 812 · differs from the query in 2 bits: 4, 9'."""
    diff = differing_positions(qcode.code, ranking.codes[i], ranking.code_type)
    what = "sub-codes" if ranking.code_type == "pq" else "bits"
    mark = ranking.marks()[i]
    where = f": {', '.join(map(str, diff))}" if len(diff) else ""
    return (f"#{i + 1} · label {label_text(ranking.labels[i], class_names)} · {SYMBOL[mark]} {mark} · "
            f"database index {ranking.rows[i]} · differs from the query in {len(diff)} {what}{where}")


def item_detail(ranking: Ranking, qcode: QueryCode, i: int, images: np.ndarray | None,
                class_names: Sequence[str]) -> tuple[np.ndarray | None, str, str]:
    """Result i shown large: (enlarged image or None, its caption, the query-vs-item bit strip)."""
    image = None
    if images is not None and ranking.dataset_ids is not None:
        image = enlarge(images[ranking.dataset_ids[i]])
    caption = f"#{i + 1} · {label_text(ranking.labels[i], class_names)}"
    strip = bit_strip_html({"query": qcode.code, f"#{i + 1}": ranking.codes[i]}, ranking.code_type,
                           title=item_note(ranking, qcode, i, class_names))
    return image, caption, strip


def bit_strip_html(codes: Mapping[str, np.ndarray], code_type: str = "binary", title: str = "") -> str:
    """Codes as strips of cells, one row per named code (uint8 (width,) or (1, width)): bits
    (binary, bit 0 first, 1 filled blue) or codeword indices (pq). With two codes a third row marks
    with '×' the positions where they differ (a mark, not colour alone). HTML for st.html."""
    names = list(codes)
    if not names:
        raise HashvizError("bit_strip_html needs at least one code")
    arrays = [np.asarray(c, np.uint8).ravel() for c in codes.values()]
    values = [np.unpackbits(a) if code_type != "pq" else a for a in arrays]
    cell = "min-width:15px;padding:1px 2px;text-align:center;border-radius:2px"
    head = "text-align:right;padding-right:6px;font-weight:400"

    def row(name: str, cells: str, extra: str = "") -> str:
        return f'<tr><th style="{head}{extra}">{html.escape(name)}</th>{cells}</tr>'

    def paint(v) -> str:
        colours = "background:#0072B2;color:#fff" if v and code_type != "pq" else "background:#eef0f3;color:#222"
        return f'<td style="{cell};{colours}">{int(v)}</td>'

    rows = [row(name, "".join(paint(v) for v in bits)) for name, bits in zip(names, values)]
    if len(values) == 2:
        diff = set(differing_positions(arrays[0], arrays[1], code_type).tolist())
        marks = "".join(f'<td style="{cell};color:#C04A00;font-weight:700">{"×" if i in diff else ""}</td>'
                        for i in range(len(values[0])))
        rows.append(row(f"differs ({len(diff)})", marks))
    ticks = "".join(f'<td style="{cell};color:#888;font-size:10px">{i if i % 4 == 0 else ""}</td>'
                    for i in range(len(values[0])))
    rows.append(row("bit" if code_type != "pq" else "sub-space", ticks, ";color:#888;font-size:10px"))
    title = f'<div style="font-weight:600;margin-bottom:2px">{html.escape(title)}</div>' if title else ""
    return (f'<div class="hv-bits" style="font:12px ui-monospace,monospace;overflow-x:auto">{title}'
            f'<table style="border-collapse:separate;border-spacing:2px">{"".join(rows)}</table></div>')


# --------------------------------------------------------------------------------------------
# uploads

@dataclass(frozen=True, eq=False)
class Upload:
    """A decoded upload: image uint8 in the dataset's shape and the steps taken, in order."""

    image: np.ndarray
    notes: list[str]
    name: str = ""


def dark_background(images: np.ndarray, sample: int = 500) -> bool:
    """Whether a dataset shows light objects on a dark background (MNIST-like): the mean of the
    border pixels of its first `sample` images is below a quarter of full scale."""
    pics = np.asarray(images[:sample], dtype=np.float32)
    border = np.concatenate([pics[:, 0].ravel(), pics[:, -1].ravel(), pics[:, :, 0].ravel(), pics[:, :, -1].ravel()])
    return bool(border.mean() < 64)


INVERT_CHOICES = {"auto": None, "yes": True, "no": False}   # the page's labels -> decode_upload(invert=)


def decode_upload(data: bytes, shape: Sequence[int], *, name: str = "", dark: bool = False,
                  invert: bool | None = None) -> Upload:
    """PNG/JPEG bytes -> uint8 image of `shape` (H, W) or (H, W, C), with what was done.

    Refuses empty, non-image, damaged and larger than MAX_UPLOAD_PIXELS files with a HashvizError.
    Handles EXIF rotation, palette, alpha (flattened on white, or on black when the visible pixels
    are mostly light), CMYK, 16-bit and 32-bit greyscale; then converts to the dataset's channels,
    centre-crops to its aspect ratio and resizes. `dark`: the dataset has light objects on a dark
    background; invert None = invert when the picture has a light background and the dataset a
    dark one (True/False force it).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3):
        raise HashvizError(f"target shape must be (H, W) or (H, W, C), got {shape}")
    if not data:
        raise HashvizError("the uploaded file is empty (0 bytes); choose a PNG or JPEG image")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            pic = Image.open(io.BytesIO(data))
            if pic.format not in ("PNG", "JPEG"):
                raise HashvizError(f"the file is a {pic.format} image; upload a PNG or JPEG")
            w, h = pic.size
            if w * h > MAX_UPLOAD_PIXELS:
                raise HashvizError(f"the image is {w}×{h} = {w * h / 1e6:.0f} megapixels; the limit is "
                                   f"{MAX_UPLOAD_PIXELS / 1e6:.0f} MP: scale it down first")
            if pic.format == "JPEG":   # let libjpeg decode at 1/2, 1/4 or 1/8 scale when that is plenty
                pic.draft(pic.mode, (max(64, 4 * shape[1]), max(64, 4 * shape[0])))
            pic.load()
    except HashvizError:
        raise
    except UnidentifiedImageError:
        raise HashvizError("the file is not a PNG or JPEG image that can be read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise HashvizError(f"the image has too many pixels (limit {MAX_UPLOAD_PIXELS / 1e6:.0f} MP)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise HashvizError(f"the image is truncated or damaged and cannot be decoded ({exc})") from None
    notes.append(f"read a {pic.format} image, {w}×{h}, mode {pic.mode}")
    if pic.size != (w, h):
        notes.append(f"decoded at reduced scale, {pic.size[0]}×{pic.size[1]}")
    if _orientation(pic) not in (None, 1):
        pic = ImageOps.exif_transpose(pic)
        notes.append("rotated as its EXIF orientation says")
    pic = _to_8bit(pic, notes)
    pic = _flatten(pic, notes)
    channels = 1 if len(shape) == 2 else shape[2]
    if channels == 1 and pic.mode != "L":
        pic = pic.convert("L")
        notes.append("converted to greyscale (the dataset has 1 channel)")
    elif channels == 3 and pic.mode != "RGB":
        was = pic.mode
        pic = pic.convert("RGB")
        notes.append(f"converted {was} to RGB (the dataset has 3 channels)")
    elif channels not in (1, 3):
        raise HashvizError(f"the dataset has {channels} channels; uploads support 1 or 3")
    pic = _crop_resize(pic, shape[0], shape[1], notes)
    image = np.asarray(pic, dtype=np.uint8)
    if channels == 1 and image.ndim == 3:
        image = image[..., 0]
    light_picture = _border_mean(image) > 127
    if invert if invert is not None else (dark and light_picture):
        image = 255 - image
        why = "" if invert is not None else " (light background; the dataset has light objects on dark)"
        notes.append("inverted" + why)
    image = image.reshape(shape)
    return Upload(np.ascontiguousarray(image), notes, name)


def _orientation(pic) -> int | None:
    try:
        return pic.getexif().get(0x0112)
    except Exception:  # a broken EXIF block is no reason to refuse the picture
        return None


def _to_8bit(pic, notes):
    from PIL import Image
    if pic.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(pic).astype(np.float64)
        top = 65535.0 if pic.mode.startswith("I;16") or arr.max() > 255 else 255.0
        top = max(top, float(arr.max()))
        arr = np.clip(arr / top * 255.0, 0, 255).round().astype(np.uint8)
        notes.append(f"scaled {pic.mode} values (0..{top:.0f}) to 8 bits")
        return Image.fromarray(arr, mode="L")
    if pic.mode == "P":
        mode = "RGBA" if "transparency" in pic.info else "RGB"
        notes.append(f"expanded the palette to {mode}")
        return pic.convert(mode)
    if pic.mode == "CMYK":
        notes.append("converted CMYK to RGB")
        return pic.convert("RGB")
    if pic.mode == "1":
        notes.append("expanded black-and-white to greyscale")
        return pic.convert("L")
    if pic.mode not in ("L", "LA", "RGB", "RGBA", "La", "RGBa"):
        notes.append(f"converted {pic.mode} to RGB")
        return pic.convert("RGB")
    return pic


def _flatten(pic, notes):
    from PIL import Image
    if pic.mode not in ("LA", "RGBA", "La", "RGBa"):
        return pic
    rgba = pic.convert("RGBA")
    alpha = np.asarray(rgba)[..., 3]
    if alpha.min() == 255:
        notes.append("dropped an opaque alpha channel")
        return rgba.convert("RGB")
    visible = np.asarray(rgba.convert("L"))[alpha > 127]
    light = visible.size > 0 and visible.mean() > 127
    colour = (0, 0, 0, 255) if light else (255, 255, 255, 255)
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, colour), rgba).convert("RGB")
    notes.append(f"flattened the transparency on {'black' if light else 'white'}")
    return flat


def _crop_resize(pic, height: int, width: int, notes):
    from PIL import Image
    w, h = pic.size
    target = width / height
    if abs(w / h - target) > 1e-6:
        if w / h > target:
            new_w = max(1, round(h * target))
            left = (w - new_w) // 2
            box = (left, 0, left + new_w, h)
        else:
            new_h = max(1, round(w / target))
            top = (h - new_h) // 2
            box = (0, top, w, top + new_h)
        pic = pic.crop(box)
        notes.append(f"centre-cropped {w}×{h} to {pic.size[0]}×{pic.size[1]}")
    if pic.size != (width, height):
        was = pic.size
        pic = pic.resize((width, height), Image.Resampling.LANCZOS if was[0] > width else Image.Resampling.BICUBIC)
        notes.append(f"resized {was[0]}×{was[1]} to {width}×{height}")
    return pic


def _border_mean(image: np.ndarray) -> float:
    img = image.astype(np.float32)
    return float(np.concatenate([img[0].ravel(), img[-1].ravel(), img[:, 0].ravel(), img[:, -1].ravel()]).mean())


# --------------------------------------------------------------------------------------------
# shareable views and model choice

@dataclass
class UrlState:
    """What a shared link asks for; None = not given. warnings: parts of the link that were ignored."""

    query: int | None = None
    n: int | None = None
    compare: list[str] = field(default_factory=list)
    view: str | None = None
    warnings: list[str] = field(default_factory=list)

    def given(self) -> dict:
        """The parts the link set (query, n, view, compare), for the page's state."""
        values = {"query": self.query, "n": self.n, "view": self.view, "compare": self.compare or None}
        return {key: value for key, value in values.items() if value is not None}


def parse_url_state(params: Mapping[str, str], n_queries: int, model_names: Sequence[str]) -> UrlState:
    """Read ?query=, ?n=, ?compare=a,b and ?view= from a link, keeping what is valid."""
    state = UrlState()
    raw = params.get("query")
    if raw not in (None, ""):
        try:
            value = int(raw)
            if not 0 <= value < n_queries:
                raise ValueError
            state.query = value
        except (TypeError, ValueError):
            state.warnings.append(f"the link's query {raw!r} is not a query index 0..{n_queries - 1}; ignored")
    raw = params.get("n")
    if raw not in (None, ""):
        try:
            state.n = min(max(int(raw), N_RANGE[0]), N_RANGE[1])
        except (TypeError, ValueError):
            state.warnings.append(f"the link's n {raw!r} is not a number; ignored")
    raw = params.get("compare")
    if raw:
        names = [s for s in dict.fromkeys(str(raw).split(",")) if s]
        unknown = [s for s in names if s not in model_names]
        state.compare = [s for s in names if s in model_names][:4]
        if unknown:
            state.warnings.append(f"the link compares unknown model(s) {', '.join(unknown)}; left out")
    raw = params.get("view")
    if raw:
        if raw in VIEWS:
            state.view = raw
        else:
            state.warnings.append(f"the link's view {raw!r} is not one of {', '.join(VIEWS)}; ignored")
    return state


def url_params(model: str, query: int | None, n: int, view: str, compare: Sequence[str]) -> dict[str, str]:
    """The query parameters that reopen this view (query None: an upload, which a link cannot carry)."""
    out = {"model": model, "n": str(int(n)), "view": view}
    if query is not None:
        out["query"] = str(int(query))
    if view == "side-by-side" and compare:
        out["compare"] = ",".join(compare)
    return out


def comparable_models(main, models: Sequence) -> list:
    """Models that can rank the same query: same dataset (codes-only models: only `main` itself)."""
    return [m for m in models if m is main or m.name == main.name
            or (m.dataset == main.dataset and m.has_images and main.has_images)]


def comparison_choice(main, models: Sequence, remembered: Sequence[str]) -> tuple[list[str], list[str]]:
    """(names that can sit beside `main`, the ones to show first): those remembered that are still
    comparable, else the default pair."""
    choices = comparable_models(main, models)
    names = [m.name for m in choices]
    picked = [name for name in remembered if name in names]
    return names, picked or default_comparison(main, choices)


TEACHING_ORDER = ("pairwise", "classification", "multiwise", "implicit", "quantization", "shallow")


def default_comparison(main, candidates: Sequence) -> list[str]:
    """`main` and one more model for two columns: of another family, preferring pairwise then
    classification (the contrast a lesson starts with), else simply the next model."""
    others = [m for m in candidates if m.name != main.name]
    rank = lambda m: TEACHING_ORDER.index(m.family) if m.family in TEACHING_ORDER else len(TEACHING_ORDER)  # noqa: E731
    other_family = sorted((m for m in others if m.family != main.family), key=rank)
    pick = other_family[0] if other_family else (others[0] if others else None)
    return [main.name] + ([pick.name] if pick is not None else [])
