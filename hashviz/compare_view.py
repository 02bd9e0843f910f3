"""The Compare page's logic (the table itself is hashviz.comparison): which models can be compared,
its scatter, its CSV and the Retrieval link that opens one query side by side."""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from hashviz.comparison import FAIL_TOP, check_comparable
from hashviz.errors import HashvizError
from hashviz.exports import csv_bytes, model_context
from hashviz.metrics import metric_of
from hashviz.plots.compare import ap_scatter_figure
from hashviz.retrieval.url_state import url_params


def partner_table(models: Sequence) -> dict[str, list[str]]:
    """model name -> the names of the other models that rank the same queries against the same
    database (comparison.check_comparable), in the given order; each pair is checked once."""
    table: dict[str, list[str]] = {m.name: [] for m in models}
    for i, a in enumerate(models):
        for b in models[i + 1:]:
            try:
                check_comparable(a, b)
            except HashvizError:
                continue
            table[a.name].append(b.name)
            table[b.name].append(a.name)
    order = {m.name: i for i, m in enumerate(models)}
    return {name: sorted(others, key=order.get) for name, others in table.items()}


def scatter(frame: pd.DataFrame, model_a, model_b):
    """AP(A) against AP(B) for a compare_models table (customdata: the query row)."""
    return ap_scatter_figure(frame["ap_a"], frame["ap_b"], frame["query_row"], frame["winner"], frame["both_fail"],
                             model_a.name, model_b.name, hover=frame["labels"].tolist())


def queries_by_gap(frame: pd.DataFrame) -> list[int]:
    """Query rows, the largest |AP(A) - AP(B)| first (ties by query row)."""
    gap = (frame["ap_a"] - frame["ap_b"]).abs()
    return frame.assign(gap=gap).sort_values(["gap", "query_row"], ascending=[False, True],
                                             kind="stable")["query_row"].astype(int).tolist()


def rule_note(model_a, model_b) -> str:
    """What the table's columns mean, in one paragraph."""
    return (f"A = {model_a.name}, B = {model_b.name}. AP = AP@all of each query over the whole ranking (its mean "
            f"is the leaderboard's {metric_of('map_all').label}); the winner has the higher AP (tie: equal AP); "
            f"both fail = no relevant item in either model's top {FAIL_TOP}.")


def compare_csv(frame: pd.DataFrame, model_a, model_b) -> bytes:
    """The compare table as a hashviz CSV export naming both models."""
    context = model_context(model_a)
    context["model"] = f"A = {model_a.name}; B = {model_b.name}"
    return csv_bytes(frame, context, title=f"per-query AP, {model_a.name} (A) against {model_b.name} (B)")


def side_by_side_link(model_a, model_b, query_row: int, n: int = 20) -> dict[str, str]:
    """The Retrieval page's URL state that shows query `query_row` of A, ranked by A and B side by side."""
    return url_params(model_a.name, int(query_row), n, "side-by-side", [model_a.name, model_b.name])
