"""The Compare page's figure: each query's AP under model A against its AP under model B."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from hashviz.plots.style import BAD_COLOUR, PALETTE, WEBGL_THRESHOLD, as_1d, layout
from hashviz.safe_text import escape, escape_all

# (outcome, legend text, colour, marker): the marker differs too, so colour never carries it alone.
OUTCOMES = [("A", "{a} wins", PALETTE[0], "circle"), ("B", "{b} wins", PALETTE[1], "square"),
            ("tie", "tie", PALETTE[7], "diamond"), ("fail", "both fail (no relevant item in either top 10)",
                                                    BAD_COLOUR, "x")]


def ap_scatter_figure(ap_a, ap_b, query_rows, winner, both_fail, name_a: str, name_b: str,
                      hover: list[str] | None = None) -> go.Figure:
    """AP(A) on x, AP(B) on y, one point per query (customdata: the query row), split into legend
    entries by outcome (A wins, B wins, tie; both fail overrides the winner), with the diagonal
    where the two models agree. Above the diagonal B does better. Names and hover texts are escaped:
    plotly renders tags (links too) in them."""
    name_a, name_b = escape(name_a), escape(name_b)
    ap_a, ap_b = as_1d(ap_a, "ap_a"), as_1d(ap_b, "ap_b")
    rows = as_1d(query_rows, "query_rows", np.int64)
    outcome = np.where(np.asarray(both_fail, bool), "fail", np.asarray(winner, dtype=object))
    hover = escape_all(hover) if hover is not None else [""] * len(rows)
    scatter = go.Scattergl if len(rows) > WEBGL_THRESHOLD else go.Scatter
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="equal AP", hoverinfo="skip",
                               line=dict(color="#999999", dash="dot")))
    for key, text, colour, symbol in OUTCOMES:
        at = np.flatnonzero(outcome == key)
        if not len(at):
            continue
        fig.add_trace(scatter(
            x=ap_a[at], y=ap_b[at], mode="markers", name=text.format(a=name_a, b=name_b),
            customdata=rows[at], text=[hover[i] for i in at],
            marker=dict(color=colour, symbol=symbol, size=7, opacity=0.8),
            hovertemplate=f"query row %{{customdata}} · %{{text}}<br>AP {name_a} %{{x:.3f}}"
                          f"<br>AP {name_b} %{{y:.3f}}<extra></extra>"))
    return layout(fig, f"Per-query AP: {name_a} against {name_b} (click a point to open it side by side)",
                  f"AP@all, {name_a}", f"AP@all, {name_b}", clickmode="event+select",
                  xaxis=dict(range=[-0.02, 1.02]), yaxis=dict(range=[-0.02, 1.02]))
