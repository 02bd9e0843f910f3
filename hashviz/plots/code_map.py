"""The code map: a 2-D projection of codes as a scatter whose points carry their global row id in
`customdata` (how many items share the point's code, when given, in its hover text), and
`selected_rows`, which reads those ids back from a Streamlit selection event."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go

from hashviz.errors import HashvizError
from hashviz.plots.style import BAD_COLOUR, OK_COLOUR, PALETTE, SYMBOLS, WEBGL_THRESHOLD, layout
from hashviz.safe_text import escape


def _scatter_cls(n: int):
    return go.Scattergl if n > WEBGL_THRESHOLD else go.Scatter


def code_map_figure(xy: np.ndarray, row_ids: np.ndarray, color_values: np.ndarray | None = None,
                    color_kind: str = "label", class_names: Sequence[str] | None = None,
                    title: str = "Code map", marker_size: float | np.ndarray = 5,
                    x_label: str = "map x", y_label: str = "map y", dragmode: str = "lasso",
                    counts: np.ndarray | None = None) -> go.Figure:
    """Scatter of a 2-D map where every point's `customdata` is its global row id.

    color_kind:
      "label":   color_values are int labels; one trace per class (sorted), named by class_names.
      "correct": color_values in [0, 1] (share of neighbours with the same label, or bool); two traces,
                 "right (>= 0.5)" (blue circles) and "wrong (< 0.5)" (orange x), points coloured by the
                 share on a colour-blind safe scale.
      "bit":     color_values {0,1} or {-1,+1} for one bit; traces "bit = −1" (circle) and "bit = +1"
                 (diamond).
    Uses go.Scattergl above WEBGL_THRESHOLD points. Read selections back with `selected_rows`.
    counts: how many items share each point's code (a point per distinct code), shown in the hover.
    dragmode: what dragging on the plot does at first ("lasso", "select" = box, "zoom", "pan").
    """
    xy = np.asarray(xy, dtype=np.float64)
    n = xy.shape[0]
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise HashvizError(f"xy must be (n, 2), got shape {xy.shape}")
    rows = np.asarray(row_ids)
    if rows.shape != (n,) or not np.issubdtype(rows.dtype, np.integer):
        raise HashvizError(f"row_ids must be integers, one per point ({n}), got {rows.dtype} {rows.shape}")
    rows = rows.astype(np.int64)
    if color_values is not None:
        color_values = np.asarray(color_values)
        if color_values.shape != (n,):
            raise HashvizError(f"color_values must have one value per point ({n}), got {color_values.shape}")
    Sc = _scatter_cls(n)
    fig = go.Figure()
    # customdata stays the bare row id: Streamlit drops a selection whose points carry list customdata
    text, hover = None, "row %{customdata}"
    if counts is not None:
        if np.shape(counts) != (n,):
            raise HashvizError(f"counts must have one value per point ({n}), got {np.shape(counts)}")
        text = np.array([f"{int(c):,}" for c in counts])
        hover = "code at row %{customdata}<br>%{text} items share this code"

    def add(mask: np.ndarray, name: str, symbol: str, color: Any, extra_hover: str = "", **marker: Any) -> None:
        fig.add_trace(Sc(x=xy[mask, 0], y=xy[mask, 1], customdata=rows[mask], mode="markers", name=name,
                         text=None if text is None else text[mask],
                         marker=dict(symbol=symbol, color=color, size=marker_size if np.isscalar(marker_size)
                                     else np.asarray(marker_size)[mask], **marker),
                         hovertemplate=hover + extra_hover + "<extra>" + name + "</extra>"))

    if color_values is None:
        add(np.ones(n, bool), "items", "circle", OK_COLOUR)
    elif color_kind == "label":
        labels = color_values.astype(np.int64)
        for i, lab in enumerate(np.unique(labels)):
            if class_names is not None and 0 <= lab < len(class_names):
                name = escape(class_names[lab])   # legend and hover text parse tags
            else:
                name = f"class {lab}"
            add(labels == lab, name, SYMBOLS[(i // len(PALETTE)) % len(SYMBOLS)], PALETTE[i % len(PALETTE)])
    elif color_kind == "correct":
        share = color_values.astype(np.float64)
        right = share >= 0.5
        common = dict(cmin=0.0, cmax=1.0, colorscale="Cividis")
        add(right, "right (≥ half of neighbours share the label)", "circle", share[right],
            "<br>same-label neighbours: %{marker.color:.0%}",
            colorbar=dict(title=dict(text="same-label<br>neighbours"), tickformat=".0%"), **common)
        add(~right, "wrong (< half of neighbours share the label)", "x", share[~right],
            "<br>same-label neighbours: %{marker.color:.0%}", showscale=False, **common)
    elif color_kind == "bit":
        on = color_values > 0
        add(~on, "bit = −1", "circle", OK_COLOUR)
        add(on, "bit = +1", "diamond", BAD_COLOUR)
    else:
        raise HashvizError(f"color_kind must be 'label', 'correct' or 'bit', got {color_kind!r}")
    layout(fig, title, x_label, y_label, dragmode=dragmode, legend=dict(itemsizing="constant"))
    return fig


def selected_rows(event: Any, figure: go.Figure | None = None) -> np.ndarray:
    """Global row ids (int64, deduplicated, first-seen order) of the points in a Streamlit plotly
    selection event (`event["selection"]["points"]`).

    Each point's "customdata" (a scalar or a list whose first entry is the row id) is used. When a
    point has no customdata and `figure` is given, its id is looked up from
    figure.data[curve_number].customdata[point_index]. An empty / missing event gives an empty array.
    """
    points = _points(event)
    out: list[int] = []
    seen: set[int] = set()
    for p in points:
        rid = _row_of_point(p, figure)
        if rid is not None and rid not in seen:
            seen.add(rid)
            out.append(rid)
    return np.asarray(out, dtype=np.int64)


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    try:
        return obj[key]
    except (KeyError, TypeError, IndexError):
        return getattr(obj, key, None)


def _points(event: Any) -> list:
    selection = _get(event, "selection")
    if selection is None and _get(event, "points") is not None:
        selection = event                              # a bare selection dict
    points = _get(selection, "points")
    return list(points) if points else []


def _scalar_id(value: Any) -> int | None:
    while isinstance(value, (list, tuple, np.ndarray)):
        if len(value) == 0:
            return None
        value = value[0]
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    if not np.isfinite(f) or f != int(f):
        return None
    return int(f)


def _row_of_point(p: Any, figure: go.Figure | None) -> int | None:
    cd = _get(p, "customdata")
    rid = _scalar_id(cd)
    if rid is not None or figure is None:
        return rid
    curve, index = _get(p, "curve_number"), _get(p, "point_index")
    if curve is None or index is None:
        return None
    try:
        return _scalar_id(figure.data[int(curve)].customdata[int(index)])
    except (IndexError, TypeError):
        return None
