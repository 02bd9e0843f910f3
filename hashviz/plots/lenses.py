"""Figures of the Hamming lenses (hashviz.lenses): bit splits, table lookup, the Hamming cube, projection trust."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from hashviz.errors import HashvizError
from hashviz.plots.code_map import code_map_figure
from hashviz.plots.style import DASHES, PALETTE, SYMBOLS
from hashviz.safe_text import escape, escape_all

__all__ = ["bit_split_figure", "lookup_figure", "cube_figure", "trust_map_figure"]


def _name(class_names: Sequence[str] | None, c: int) -> str:
    if c < 0:
        return "no label"
    return escape(class_names[c]) if class_names is not None and c < len(class_names) else f"class {c}"


def bit_split_figure(split: np.ndarray, bits: Sequence[int], class_names: Sequence[str],
                     information: np.ndarray | None = None) -> go.Figure:
    """Grouped bars: for each class, the share of its items with bit b = 1, one bar per bit in `bits`.
    split: float (len(bits), n_classes) rows of hashviz.lenses.bitflip.bit_class_split;
    information: I(bit; class) per shown bit, named in the legend."""
    split = np.asarray(split, dtype=np.float64)
    if split.ndim != 2 or split.shape[0] != len(bits) or split.shape[1] != len(class_names):
        raise HashvizError(f"split must be (bits shown, classes) = ({len(bits)}, {len(class_names)}), "
                           f"got {split.shape}")
    fig = go.Figure()
    for i, b in enumerate(bits):
        info = "" if information is None else f" · I(bit; class) = {information[i]:.2f} bits"
        fig.add_trace(go.Bar(x=escape_all(class_names), y=split[i], name=f"bit {b}{info}",
                             marker=dict(color=PALETTE[i % len(PALETTE)], pattern_shape=["", "/", "x", "."][i % 4]),
                             hovertemplate=f"bit {b}<br>%{{x}}: %{{y:.0%}} have it set<extra></extra>"))
    fig.add_hline(y=0.5, line_dash="dot", line_color="#888")
    fig.update_layout(barmode="group", template="plotly_white", height=320, legend_title="flipped bit",
                      title="How each flipped bit splits the classes: share of each class with the bit = 1",
                      xaxis_title="class", yaxis=dict(title="share with bit = 1", range=[0, 1], tickformat=".0%"),
                      margin=dict(l=50, r=20, t=50, b=40))
    return fig


def lookup_figure(grid) -> go.Figure:
    """Recall@k against mean candidates scanned (log scale), one line per key length b through
    nflip = 0, 1, ...; the exhaustive scan as a reference point. grid: hashviz.lenses.lookup.LookupGrid."""
    fig = go.Figure()
    for i, b in enumerate(grid.prefix_bits):
        fig.add_trace(go.Scatter(
            x=np.maximum(grid.candidates[i], 0.5), y=grid.recall[i], mode="lines+markers+text", name=f"b = {b}",
            text=[f"{f}" for f in grid.nflips], textposition="top left",
            line=dict(color=PALETTE[i % len(PALETTE)], dash=DASHES[i % len(DASHES)]),
            marker=dict(symbol=SYMBOLS[i % len(SYMBOLS)], size=9),
            customdata=np.stack([grid.nflips, grid.buckets_probed[i]], axis=1),
            hovertemplate=(f"b = {b}, nflip = %{{customdata[0]}}<br>%{{customdata[1]}} buckets probed<br>"
                           f"%{{x:,.0f}} candidates scanned<br>recall@{grid.k} %{{y:.3f}}<extra></extra>")))
    fig.add_trace(go.Scatter(x=[grid.n_database], y=[1.0], mode="markers+text", name="exhaustive scan",
                             text=["scan all"], textposition="bottom left",
                             marker=dict(symbol="star", size=13, color="#000")))
    fig.update_layout(template="plotly_white", height=380, legend_title="key bits (labels: nflip)",
                      title=f"Table lookup: recall@{grid.k} vs candidates scanned per query",
                      xaxis=dict(title="database items scanned per query (log)", type="log"),
                      yaxis=dict(title=f"recall@{grid.k} (tie-aware)", range=[0, 1.05]),
                      margin=dict(l=50, r=20, t=50, b=40))
    return fig


def cube_figure(cube, class_names: Sequence[str] | None = None) -> go.Figure:
    """The Hamming cube (hashviz.lenses.cube.Cube): grey edges between corners one bit apart, corners
    sized by items and coloured (and shaped) by their commonest class; customdata = the code."""
    fig = go.Figure()
    if len(cube.edges):
        ends = cube.xy[cube.edges]                                    # (e, 2, 2)
        xs = np.column_stack([ends[:, 0, 0], ends[:, 1, 0], np.full(len(ends), np.nan)]).ravel()
        ys = np.column_stack([ends[:, 0, 1], ends[:, 1, 1], np.full(len(ends), np.nan)]).ravel()
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="one bit apart", hoverinfo="skip",
                                 line=dict(color="#b8bec6", width=1)))
    size = 8 + 32 * np.sqrt(cube.counts / max(int(cube.counts.max()), 1))
    label_codes = len(cube.codes) <= 32
    for i, c in enumerate(np.unique(cube.majority)):
        on = np.flatnonzero(cube.majority == c)
        fig.add_trace(go.Scatter(
            x=cube.xy[on, 0], y=cube.xy[on, 1], mode="markers+text" if label_codes else "markers",
            name=_name(class_names, int(c)), text=[cube.codes[j] for j in on] if label_codes else None,
            textposition="top center", textfont=dict(size=10, family="monospace"),
            customdata=np.stack([[cube.codes[j] for j in on], cube.counts[on],
                                 np.round(100 * cube.majority_share[on])], axis=1),
            marker=dict(size=size[on], color=PALETTE[i % len(PALETTE)], symbol=SYMBOLS[i % len(SYMBOLS)],
                        line=dict(color="#fff", width=1), opacity=0.9),
            hovertemplate="code %{customdata[0]}<br>%{customdata[1]} items<br>"
                          f"{_name(class_names, int(c))}: %{{customdata[2]}}%<extra></extra>"))
    fig.update_layout(template="plotly_white", height=560, legend_title="commonest class", dragmode="pan",
                      title=f"Hamming cube: {len(cube.codes)} occupied {cube.bits}-bit codes",
                      xaxis=dict(visible=False), yaxis=dict(visible=False, scaleanchor="x"),
                      margin=dict(l=10, r=10, t=50, b=10))
    return fig


def trust_map_figure(xy: np.ndarray, rows: np.ndarray, share: np.ndarray, k: int, title: str,
                     x_label: str = "map x", y_label: str = "map y") -> go.Figure:
    """The code map coloured by projection trust (share of each point's k Hamming neighbours kept
    on the map): kept (circles) and torn (crosses) as two legend entries; rows in customdata."""
    fig = code_map_figure(xy, rows, share, "correct", title=title, x_label=x_label, y_label=y_label,
                          dragmode="select")
    hover = f"<br>Hamming {k}-NN kept on the map: %{{marker.color:.0%}}"
    kept, torn = fig.data
    kept.update(name=f"kept (≥ half of its {k} Hamming neighbours nearby)", hovertemplate="row %{customdata}"
                + hover + "<extra></extra>", marker_colorbar_title_text="neighbours<br>kept")
    torn.update(name="torn (< half kept)", hovertemplate="row %{customdata}" + hover + "<extra></extra>")
    return fig
