"""Shared look of every figure: colour-blind-safe palette, marker symbols, dashes, the common layout
and the argument checks the builders share."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from hashviz.errors import HashvizError

# Okabe-Ito (colour-blind safe) first, then Plotly's defaults.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
           "#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3", "#FF6692", "#B6E880"]
SYMBOLS = ["circle", "square", "diamond", "cross", "x", "triangle-up", "triangle-down", "star",
           "hexagon", "pentagon", "triangle-left", "triangle-right", "hourglass", "bowtie",
           "circle-open", "square-open"]
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
OK_COLOUR = "#0072B2"
BAD_COLOUR = "#D55E00"
WEBGL_THRESHOLD = 2000      # scatter traces with more points use WebGL (go.Scattergl)


def layout(fig: go.Figure, title: str, x: str, y: str, **kw: Any) -> go.Figure:
    fig.update_layout(title=dict(text=title), xaxis_title=x, yaxis_title=y,
                      template="plotly_white", margin=dict(l=60, r=20, t=60, b=50), **kw)
    return fig


def as_1d(values: Any, name: str, dtype: Any = np.float64) -> np.ndarray:
    arr = np.asarray(values, dtype=dtype)
    if arr.ndim != 1:
        raise HashvizError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def as_square(matrix: Any, name: str) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise HashvizError(f"{name} must be a square matrix, got shape {m.shape}")
    return m


def line_style(i: int) -> dict:
    return dict(line=dict(color=PALETTE[i % len(PALETTE)], dash=DASHES[i % len(DASHES)]),
                marker=dict(symbol=SYMBOLS[i % len(SYMBOLS)], size=7, color=PALETTE[i % len(PALETTE)]))
