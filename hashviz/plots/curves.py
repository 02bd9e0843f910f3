"""Figures of the Evaluate and Train pages: precision-recall, precision@k, mAP against code length,
confusion, and a training run's loss and validation mAP per epoch."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hashviz.errors import HashvizError
from hashviz.plots.style import PALETTE, as_1d, layout, line_style
from hashviz.safe_text import escape, escape_all


def pr_curve_figure(curves: Mapping[str, Mapping[str, Sequence[float]]],
                    title: str = "Precision-recall over Hamming radius") -> go.Figure:
    """One line per model: name -> {"precision": [...], "recall": [...]} (one point per radius;
    an optional "radius" list goes into the hover). One trace per model."""
    fig = go.Figure()
    for i, (name, c) in enumerate(curves.items()):
        p = as_1d(c["precision"], f"{name} precision")
        r = as_1d(c["recall"], f"{name} recall")
        if p.shape != r.shape:
            raise HashvizError(f"{name}: precision and recall must have the same length")
        radius = c.get("radius") if hasattr(c, "get") else None
        radius = np.arange(p.shape[0]) if radius is None else as_1d(radius, f"{name} radius")
        fig.add_trace(go.Scatter(x=r, y=p, mode="lines+markers", name=escape(name), customdata=radius,
                                 hovertemplate="radius %{customdata}<br>recall %{x:.3f}<br>"
                                               "precision %{y:.3f}<extra>" + escape(name) + "</extra>",
                                 **line_style(i)))
    layout(fig, title, "recall", "precision", xaxis_range=[0, 1.02], yaxis_range=[0, 1.02])
    return fig


def precision_at_k_figure(curves: Mapping[str, Mapping[int, float]],
                          title: str = "Precision@k") -> go.Figure:
    """One line per model: name -> {k: precision}. One trace per model, points sorted by k."""
    fig = go.Figure()
    for i, (name, c) in enumerate(curves.items()):
        ks = sorted(c)
        fig.add_trace(go.Scatter(x=[int(k) for k in ks], y=[float(c[k]) for k in ks], mode="lines+markers",
                                 name=escape(name),
                                 hovertemplate="k = %{x}<br>precision %{y:.3f}<extra>" + escape(name) + "</extra>",
                                 **line_style(i)))
    layout(fig, title, "k (number of retrieved items)", "precision@k", yaxis_range=[0, 1.02])
    return fig


def map_vs_bits_figure(rows: Iterable[tuple[str, int, float]],
                       title: str = "mAP vs code length") -> go.Figure:
    """rows of (method, bits, map): one line per method over its code lengths (sorted). The x axis
    shows exactly the code lengths present (log2 spacing)."""
    by_method: dict[str, list[tuple[int, float]]] = {}
    for method, bits, m in rows:
        by_method.setdefault(escape(method), []).append((int(bits), float(m)))   # legend/hover parse tags
    fig = go.Figure()
    all_bits: set[int] = set()
    for i, (method, pts) in enumerate(by_method.items()):
        pts.sort()
        all_bits.update(b for b, _ in pts)
        fig.add_trace(go.Scatter(x=[b for b, _ in pts], y=[m for _, m in pts], mode="lines+markers",
                                 name=method,
                                 hovertemplate="%{x} bits<br>mAP %{y:.3f}<extra>" + method + "</extra>",
                                 **line_style(i)))
    layout(fig, title, "code length (bits)", "mAP")
    ticks = sorted(all_bits)
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=[str(t) for t in ticks])
    return fig


def confusion_heatmap(matrix: np.ndarray, class_names: Sequence[str] | None = None,
                      title: str = "Which classes the retrieved items come from",
                      x_label: str = "class of retrieved item", y_label: str = "class of query",
                      annotate_max: int = 20) -> go.Figure:
    """(C, C) matrix heatmap with class names on both axes; cell values are written into the cells
    when C <= annotate_max (so the reading does not rely on colour). One trace."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2:
        raise HashvizError(f"confusion matrix must be 2-D, got shape {m.shape}")
    names_y = escape_all(class_names) if class_names is not None else [str(i) for i in range(m.shape[0])]
    names_x = names_y if m.shape[0] == m.shape[1] else [str(i) for i in range(m.shape[1])]
    if class_names is not None and len(names_y) != m.shape[0]:
        raise HashvizError(f"{len(names_y)} class names for a {m.shape[0]}-row matrix")
    kw: dict[str, Any] = {}
    if max(m.shape) <= annotate_max:
        integer = np.allclose(m, np.round(m))
        kw["text"] = [[(f"{v:.0f}" if integer else f"{v:.2f}") for v in row] for row in m]
        kw["texttemplate"] = "%{text}"
    fig = go.Figure(go.Heatmap(z=m, x=names_x, y=names_y, colorscale="Blues",
                               colorbar=dict(title=dict(text="value")),
                               hovertemplate=y_label + ": %{y}<br>" + x_label + ": %{x}<br>%{z:.3g}<extra></extra>",
                               **kw))
    layout(fig, title, x_label, y_label)
    fig.update_yaxes(autorange="reversed")
    return fig


def training_curves_figure(history: Sequence[dict],
                           title: str = "Training: loss and validation mAP per epoch") -> go.Figure:
    """Two panels sharing the epoch axis: mean training loss (top) and validation mAP@all (bottom).
    history: [{"epoch", "loss", "val_map", ...}] as the trainer records it (may be empty; val_map
    only on validated epochs)."""
    epochs = [int(h["epoch"]) for h in history]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=("mean training loss", "validation mAP@all"))
    fig.add_trace(go.Scatter(x=epochs, y=[float(h["loss"]) for h in history], mode="lines+markers",
                             name="loss", line=dict(color=PALETTE[0]), marker=dict(symbol="circle"),
                             hovertemplate="epoch %{x}<br>loss %{y:.4f}<extra></extra>"), row=1, col=1)
    validated = [h for h in history if h.get("val_map") is not None]   # not every epoch is validated
    fig.add_trace(go.Scatter(x=[int(h["epoch"]) for h in validated], y=[float(h["val_map"]) for h in validated],
                             mode="lines+markers",
                             name="validation mAP", line=dict(color=PALETTE[1], dash="dash"),
                             marker=dict(symbol="square"),
                             hovertemplate="epoch %{x}<br>validation mAP %{y:.3f}<extra></extra>"), row=2, col=1)
    fig.update_layout(title=dict(text=title), template="plotly_white", height=460,
                      margin=dict(l=60, r=20, t=80, b=50))
    fig.update_xaxes(title_text="epoch", row=2, col=1, dtick=1)
    fig.update_yaxes(title_text="loss", row=1, col=1)
    fig.update_yaxes(title_text="mAP", row=2, col=1, range=[0, 1.02])
    return fig
