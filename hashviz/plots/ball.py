"""The Retrieval page's Hamming-ball figure."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from hashviz.errors import HashvizError
from hashviz.plots.style import PALETTE
from hashviz.safe_text import escape_all


def ball_figure(counts: np.ndarray, class_names: Sequence[str]) -> go.Figure:
    """Stacked bars: items at each distance 0..radius, one trace per class present.
    counts: int (radius + 1, n_classes), as hashviz.retrieval.class_counts_by_distance returns."""
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != len(class_names):
        raise HashvizError(f"counts must be (radius + 1, {len(class_names)} classes), got shape {counts.shape}")
    fig = go.Figure()
    radii = np.arange(len(counts))
    for c, name in enumerate(escape_all(class_names)):   # legend and hover text parse tags
        if counts[:, c].any():
            fig.add_trace(go.Bar(x=radii, y=counts[:, c], name=str(name),
                                 marker=dict(color=PALETTE[c % len(PALETTE)]),
                                 hovertemplate=f"class {name}<br>d = %{{x}}: %{{y}} items<extra></extra>"))
    fig.update_layout(barmode="stack", template="plotly_white", height=300,
                      title=dict(text=f"Hamming ball: items at distance 0..{len(counts) - 1}, by class"),
                      xaxis=dict(title="Hamming distance to the query", dtick=1),
                      yaxis_title="items", margin=dict(l=50, r=20, t=50, b=40), legend_title="class")
    return fig
