"""One query ranked against one model's database: the top n, tie groups, right/wrong marks and
this query's precision@n and AP, computed with hashviz.metrics so they agree with the leaderboard.

Ranking order everywhere: distance ascending, ties by database row ascending (docs/CONTRACTS.md).
Inside a tie group that order is arbitrary: another index could list the group in any order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from hashviz.data import describe_protocol
from hashviz.code_space import CodeSpace, code_space
from hashviz.labels import is_multi_label, partial_matches
from hashviz.metrics import metric_of
from hashviz.retrieval.query import QueryCode

RIGHT, WRONG, UNKNOWN, PARTIAL = "right", "wrong", "unknown", "partial"   # partial: relevant, label sets differ



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

    def title(self) -> str:
        d = format_distance(self.distance)
        if not self.tied:
            return f"d = {d}"
        more = f", {self.total - self.shown} more beyond the top n" if self.total > self.shown else ""
        return f"tie group d = {d} · {self.total} items{more} · order arbitrary"


@dataclass(frozen=True, eq=False)
class Ranking:
    """Top n of one model for one query. space: the model's CodeSpace (how its codes are shown);
    rows: int64 (n,) database rows; distances (n,) int32 (Hamming) or float32 (pq); labels (n,) or
    (n, C); relevant bool (n,) or None (label unknown); dataset_ids int64 (n,) or None; group_of int
    (n,) index into groups."""

    model_name: str
    space: CodeSpace = field(repr=False)
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
    partial: np.ndarray | None = None    # bool (n,): relevant but not every label shared (multi-label)
    ap_tie_range: tuple[float, float] | None = None    # (lowest, highest) AP over the orders inside ties

    @property
    def n(self) -> int:
        return len(self.rows)

    def marks(self) -> list[str]:
        if self.relevant is None:
            return [UNKNOWN] * self.n
        partial = self.partial if self.partial is not None else np.zeros(self.n, dtype=bool)
        return [(PARTIAL if p else RIGHT) if r else WRONG for r, p in zip(self.relevant, partial)]


def format_distance(d) -> str:
    """A Hamming distance (an integer) as it is, a real-valued one (pq) to 4 significant digits."""
    return f"{int(d)}" if isinstance(d, (int, np.integer)) else f"{float(d):.4g}"


def tie_groups(distances: np.ndarray, totals: Callable[[float], int]) -> tuple[list[TieGroup], np.ndarray]:
    groups, group_of = [], np.zeros(len(distances), dtype=np.int64)
    start = 0
    for i in range(1, len(distances) + 1):
        if i == len(distances) or distances[i] != distances[start]:
            d = distances[start].item()
            groups.append(TieGroup(d, start + 1, i - start, int(totals(d))))
            group_of[start:i] = len(groups) - 1
            start = i
    return groups, group_of


def rank_query(model, space: CodeSpace, qcode: QueryCode, label: np.ndarray | None, n: int) -> Ranking:
    """Top-n of `model`'s database for one query through its code space (a page context's code_space,
    or hashviz.code_space.code_space(model)), with tie groups, right/wrong marks, precision@n and, with
    a label, this query's AP (and for Hamming codes the tie-aware AP and the tie range), all from one
    pass over the database: CodeSpace.rank_one.
    The AP is hashviz.metrics' definition, so the leaderboard's mAP@all is its mean over the query set."""
    one = space.rank_one(space.query_of(qcode), label, n)
    rows, dist = one.rows, one.distances
    groups, group_of = tie_groups(dist, one.tie_totals.__getitem__)
    db, db_labels = model.database_codes, model.database_labels
    ids = model.database_ids[rows] if model.database_ids is not None else None
    precision = rel_total = rel = partial = None
    if label is not None:
        rel, rel_total = one.relevant[rows], int(one.relevant.sum())
        precision = float(rel.mean())
        partial = partial_matches(label, db_labels[rows])
    return Ranking(model.name, space, rows, dist, db_labels[rows], rel, ids, groups, group_of,
                   len(db), precision, one.ap, one.ap_tie_aware, rel_total, db[rows], partial, one.ap_tie_range)


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


def protocol_note(model, database_row: int | None = None) -> str:
    """Plain sentence stating how the numbers beside a ranking are defined; `database_row`: the query
    is that database item (sent from the Code map or Evaluate), which finds itself."""
    protocol = model.metrics.get("protocol") or describe_protocol(model.protocol)
    space = code_space(model)
    map_all = metric_of("map_all").label
    text = (f"Protocol {protocol}. Ranked by {space.distance_name} ascending, ties by database index ascending "
            "(the leaderboard's rule); AP = AP@all over the whole ranking, its mean over the query "
            f"set is the leaderboard's {map_all}. Right (✓) = same class as the query")
    if is_multi_label(model.database_labels):
        text = text.replace("same class as the query", "shares at least one label with the query "
                            "(multi-label); ◐ = right, but the label sets differ")
    if space.tie_aware:
        text += ("; tie-aware AP = expected AP when each tie group is shuffled; tie range = the lowest and "
                 "highest AP any order inside the ties gives (relevant items last / first)")
    if database_row is not None:
        text += (f". This query is database item #{int(database_row)} itself: it sits at distance 0 in its own "
                 "ranking and counts as one relevant item in its AP, which a query-set query never does (the "
                 "query set is not in the database), so its AP is higher than a query-set query's and is not "
                 f"a term of the leaderboard's {map_all}, the mean over the query set")
    return text + "."
