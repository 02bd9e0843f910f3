"""The Hamming-ball view (hash lookup): every database item within radius r of the query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from hashviz.code_space import CodeSpace
from hashviz.metrics import metric_of, relevance
from hashviz.retrieval.query import QueryCode

BALL_RADIUS = 3             # Hamming-ball view: distances 0 .. 3


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


def hamming_ball(model, space: CodeSpace, qcode: QueryCode, label: np.ndarray | None,
                 radius: int = BALL_RADIUS) -> Ball:
    """Every item of `model`'s database within `radius` of the query code, through its code space's
    radius search (a pq space refuses: no bits); right/wrong marks when the query's label is known."""
    rows, dist = space.within(qcode.code, radius, model.name)
    rel = None if label is None else relevance(np.asarray(label)[None], model.database_labels[rows])[0]
    ids = model.database_ids[rows] if model.database_ids is not None else None
    return Ball(radius, rows, dist, model.database_labels[rows], rel, ids)


def _class_counts(labels: np.ndarray, n_classes: int) -> np.ndarray:
    if labels.ndim == 1:
        return np.bincount(labels, minlength=n_classes)[:n_classes]
    return labels.astype(np.int64).sum(axis=0)[:n_classes]


def class_counts_by_distance(ball: Ball, n_classes: int) -> np.ndarray:
    """int64 (radius + 1, n_classes): items of each class at each distance 0..radius (multi-hot
    labels count once per class they hold); what plots.ball_figure stacks."""
    return np.stack([_class_counts(ball.labels[ball.distances == d], n_classes) for d in range(ball.radius + 1)])


def ball_note(ball: Ball) -> str:
    """How the Hamming-ball view is defined (the hash-lookup protocol) and the leaderboard's ball metric."""
    metric = metric_of("p_ball")
    return (f"Hash lookup: every database item within Hamming distance r of the query code, found by "
            f"radius search ({len(ball.rows)} items within {ball.radius}). The leaderboard's {metric.key} "
            f"({metric.label}) is the {metric.definition}.")


def ball_table(ball: Ball, class_names: Sequence[str]):
    """pandas DataFrame, one row per distance 0..radius: items at that distance, items and
    precision within the ball (<= d, the hash-lookup protocol), then one count column per class."""
    import pandas as pd
    rows = []
    per_distance = class_counts_by_distance(ball, len(class_names))
    for d, counts in enumerate(per_distance):
        at, within = ball.distances == d, ball.distances <= d
        row = {"distance": d, "items at d": int(at.sum()), "items within d": int(within.sum())}
        if ball.relevant is not None:
            hits = int(ball.relevant[within].sum())
            row["right within d"] = hits
            row["precision within d"] = round(hits / within.sum(), 3) if within.any() else None
        row.update({str(name): int(c) for name, c in zip(class_names, counts)})
        rows.append(row)
    return pd.DataFrame(rows)
