"""Plotly figure builders: pure functions, arrays in, `plotly.graph_objects.Figure` out.

Every figure states its title and axis labels. Colour never carries meaning alone: dead bits get a
pattern and a text label, curves of different models get different markers and dashes, the code
map splits classes / right-wrong / bit values into legend entries with different marker symbols.

`code_map_figure` puts the global row id of every point into `customdata`, and `selected_rows`
reads those ids back from a Streamlit plotly selection event.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hashviz.errors import HashvizError

__all__ = [
    "bit_balance_figure", "correlation_heatmap", "mutual_info_heatmap", "quantization_error_figure",
    "codeword_usage_figure", "bucket_size_figure", "distance_distribution_figure", "pr_curve_figure",
    "precision_at_k_figure", "map_vs_bits_figure", "confusion_heatmap", "code_map_figure",
    "selected_rows", "PALETTE", "SYMBOLS", "WEBGL_THRESHOLD", "effective_bits_figure",
    "output_error_per_bit_figure", "bit_entropy_figure",
]

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


def _layout(fig: go.Figure, title: str, x: str, y: str, **kw: Any) -> go.Figure:
    fig.update_layout(title=dict(text=title), xaxis_title=x, yaxis_title=y,
                      template="plotly_white", margin=dict(l=60, r=20, t=60, b=50), **kw)
    return fig


def _1d(values: Any, name: str, dtype: Any = np.float64) -> np.ndarray:
    arr = np.asarray(values, dtype=dtype)
    if arr.ndim != 1:
        raise HashvizError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def _square(matrix: Any, name: str) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise HashvizError(f"{name} must be a square matrix, got shape {m.shape}")
    return m


# --------------------------------------------------------------------------------------------
# diagnostics figures


def bit_balance_figure(share_plus: Sequence[float] | np.ndarray, dead: Sequence[bool] | np.ndarray | None = None,
                       threshold: float = 0.02, title: str = "Bit balance: share of +1 per bit") -> go.Figure:
    """Bar per bit of the share of +1. Two traces: "balanced bits" and "dead bits" (always both,
    the latter possibly empty); dead bars are orange, cross-hatched and labelled "dead".
    Dotted lines mark 0.5 (ideal) and the dead thresholds."""
    p = _1d(share_plus, "share_plus")
    dead_mask = ((p < threshold) | (p > 1 - threshold)) if dead is None else _1d(dead, "dead", bool)
    if dead_mask.shape != p.shape:
        raise HashvizError("dead must have one entry per bit")
    bits = np.arange(p.shape[0])
    fig = go.Figure()
    ok = ~dead_mask
    fig.add_trace(go.Bar(x=bits[ok], y=p[ok], name=f"balanced bits ({int(ok.sum())})",
                         marker=dict(color=OK_COLOUR),
                         hovertemplate="bit %{x}<br>share of +1: %{y:.3f}<extra></extra>"))
    fig.add_trace(go.Bar(x=bits[dead_mask], y=np.maximum(p[dead_mask], 0.01),
                         customdata=p[dead_mask], name=f"dead bits ({int(dead_mask.sum())})",
                         marker=dict(color=BAD_COLOUR, pattern=dict(shape="x"),
                                     line=dict(color="#000000", width=1)),
                         text=["dead"] * int(dead_mask.sum()), textposition="outside",
                         hovertemplate="bit %{x} (dead)<br>share of +1: %{customdata:.3f}<extra></extra>"))
    for yv, dash in ((0.5, "dot"), (threshold, "dash"), (1 - threshold, "dash")):
        fig.add_hline(y=yv, line=dict(color="#555555", width=1, dash=dash))
    _layout(fig, title, "bit", "share of codes with this bit = +1", barmode="overlay",
            yaxis_range=[0, 1.08], bargap=0.15)
    return fig


def _heatmap(m: np.ndarray, title: str, colorbar: str, zmin: float, zmax: float, colorscale: str,
             x_label: str = "bit", y_label: str = "bit", hover: str = "z") -> go.Figure:
    fig = go.Figure(go.Heatmap(z=m, zmin=zmin, zmax=zmax, colorscale=colorscale,
                               colorbar=dict(title=dict(text=colorbar)),
                               hovertemplate=f"{y_label} %{{y}}, {x_label} %{{x}}<br>{hover}: %{{z:.3f}}"
                                             "<extra></extra>"))
    _layout(fig, title, x_label, y_label)
    fig.update_yaxes(autorange="reversed")
    return fig


def correlation_heatmap(corr: np.ndarray, title: str = "Bit correlation (Pearson, ±1 bits)") -> go.Figure:
    """(bits, bits) correlation heatmap, diverging scale fixed to [-1, 1]. One trace."""
    m = _square(corr, "correlation")
    return _heatmap(m, title, "correlation", -1.0, 1.0, "RdBu_r", hover="correlation")


def mutual_info_heatmap(mi: np.ndarray,
                        title: str = "Pairwise mutual information (bits; diagonal = bit entropy)") -> go.Figure:
    """(bits, bits) mutual information heatmap, scale [0, 1] bit. One trace."""
    m = _square(mi, "mutual information")
    return _heatmap(m, title, "MI (bits)", 0.0, 1.0, "Viridis", hover="MI (bits)")


def quantization_error_figure(edges: np.ndarray, abs_hist: np.ndarray, err_hist: np.ndarray,
                              title: str = "Quantization: continuous outputs vs their signs") -> go.Figure:
    """Two histogram panels (pre-binned counts with shared edges): |u| and |u - sign(u)|. Two traces."""
    edges = _1d(edges, "edges")
    a = _1d(abs_hist, "abs_hist")
    e = _1d(err_hist, "err_hist")
    if a.shape[0] != edges.shape[0] - 1 or e.shape[0] != edges.shape[0] - 1:
        raise HashvizError("histograms need len(edges) - 1 counts")
    centres = (edges[:-1] + edges[1:]) / 2
    width = np.diff(edges)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("|u| (distance from 0)", "|u − sign(u)| (quantization error)"))
    fig.add_trace(go.Bar(x=centres, y=a, width=width, name="|u|", marker=dict(color=OK_COLOUR),
                         hovertemplate="|u| ≈ %{x:.3f}<br>count: %{y}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Bar(x=centres, y=e, width=width, name="|u − sign(u)|",
                         marker=dict(color=BAD_COLOUR, pattern=dict(shape="/")),
                         hovertemplate="error ≈ %{x:.3f}<br>count: %{y}<extra></extra>"), row=1, col=2)
    fig.update_layout(title=dict(text=title), template="plotly_white", bargap=0,
                      margin=dict(l=60, r=20, t=80, b=50))
    fig.update_xaxes(title_text="|u|", row=1, col=1)
    fig.update_xaxes(title_text="|u − sign(u)|", row=1, col=2)
    fig.update_yaxes(title_text="number of output values", row=1, col=1)
    fig.update_yaxes(title_text="number of output values", row=1, col=2)
    return fig


def codeword_usage_figure(counts: np.ndarray, perplexity: np.ndarray | None = None,
                          title: str = "Codeword usage per codebook") -> go.Figure:
    """(M, K) usage counts as a heatmap (codebook rows, codeword columns). One trace; the y tick
    labels carry each codebook's perplexity when given."""
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2:
        raise HashvizError(f"codeword counts must be (M, K), got shape {c.shape}")
    y = [f"codebook {m}" + (f" (perplexity {perplexity[m]:.0f})" if perplexity is not None else "")
         for m in range(c.shape[0])]
    fig = go.Figure(go.Heatmap(z=c, y=y, x=np.arange(c.shape[1]), colorscale="Viridis",
                               colorbar=dict(title=dict(text="codes using it")),
                               hovertemplate="%{y}, codeword %{x}<br>used by %{z:.0f} codes<extra></extra>"))
    _layout(fig, title, "codeword", "codebook")
    fig.update_yaxes(autorange="reversed")
    return fig


def bucket_size_figure(size_values: np.ndarray, size_counts: np.ndarray,
                       title: str = "Bucket sizes: how many codes share one code") -> go.Figure:
    """Bars: number of buckets (log y) holding each number of items. One trace."""
    sv = _1d(size_values, "size_values", np.int64)
    sc = _1d(size_counts, "size_counts", np.int64)
    if sv.shape != sc.shape:
        raise HashvizError("size_values and size_counts must have the same length")
    fig = go.Figure(go.Bar(x=sv, y=sc, marker=dict(color=OK_COLOUR), name="buckets",
                           hovertemplate="%{y} buckets hold %{x} items<extra></extra>"))
    _layout(fig, title, "items in the bucket (codes identical)", "number of buckets (log scale)")
    fig.update_yaxes(type="log")
    return fig


def distance_distribution_figure(same: np.ndarray, diff: np.ndarray, overlap: float | None = None,
                                 title: str = "Hamming distances: same class vs different class",
                                 normalise: bool = True) -> go.Figure:
    """Overlaid bars of the same-class and different-class distance histograms (index = distance).
    Two traces (solid blue "same class", hatched orange "different class"); the overlap goes into
    the title when given."""
    s = _1d(same, "same")
    d = _1d(diff, "diff")
    if s.shape != d.shape:
        raise HashvizError("same and diff histograms must have the same length")
    if normalise:
        s = s / s.sum() if s.sum() else s
        d = d / d.sum() if d.sum() else d
    x = np.arange(s.shape[0])
    ylab = "share of pairs" if normalise else "number of pairs"
    fig = go.Figure()
    fig.add_trace(go.Bar(x=x, y=s, name="same class", marker=dict(color=OK_COLOUR), opacity=0.6,
                         hovertemplate="distance %{x}<br>" + ylab + ": %{y:.3g}<extra>same class</extra>"))
    fig.add_trace(go.Bar(x=x, y=d, name="different class", opacity=0.6,
                         marker=dict(color=BAD_COLOUR, pattern=dict(shape="/")),
                         hovertemplate="distance %{x}<br>" + ylab + ": %{y:.3g}<extra>different class</extra>"))
    if overlap is not None and np.isfinite(overlap):
        title = f"{title} (overlap {overlap:.2f})"
    _layout(fig, title, "Hamming distance", ylab, barmode="overlay", bargap=0.05)
    return fig


def bit_entropy_figure(entropy: Sequence[float] | np.ndarray, dead: Sequence[bool] | np.ndarray | None = None,
                       title: str = "Bit entropy (1 bit = perfectly balanced)") -> go.Figure:
    """Bar per bit of its entropy in bits, [0, 1]. Two traces like `bit_balance_figure`:
    "informative bits" and "dead bits" (orange, cross-hatched, labelled "dead")."""
    h = _1d(entropy, "entropy")
    dead_mask = np.zeros(h.shape, bool) if dead is None else _1d(dead, "dead", bool)
    if dead_mask.shape != h.shape:
        raise HashvizError("dead must have one entry per bit")
    bits = np.arange(h.shape[0])
    fig = go.Figure()
    fig.add_trace(go.Bar(x=bits[~dead_mask], y=h[~dead_mask], name=f"informative bits ({int((~dead_mask).sum())})",
                         marker=dict(color=OK_COLOUR),
                         hovertemplate="bit %{x}<br>entropy %{y:.3f} bits<extra></extra>"))
    fig.add_trace(go.Bar(x=bits[dead_mask], y=np.maximum(h[dead_mask], 0.01), customdata=h[dead_mask],
                         name=f"dead bits ({int(dead_mask.sum())})",
                         marker=dict(color=BAD_COLOUR, pattern=dict(shape="x"),
                                     line=dict(color="#000000", width=1)),
                         text=["dead"] * int(dead_mask.sum()), textposition="outside",
                         hovertemplate="bit %{x} (dead)<br>entropy %{customdata:.3f} bits<extra></extra>"))
    _layout(fig, title, "bit", "entropy (bits)", barmode="overlay", yaxis_range=[0, 1.08], bargap=0.15)
    return fig


def effective_bits_figure(nominal_bits: int, entropy_sum: float, effective: float,
                          title: str = "How many bits the code really uses") -> go.Figure:
    """Three horizontal bars with their values written on them: the nominal code length, the sum of
    per-bit entropies (what balance alone allows) and the effective bits (entropy discounted for
    correlated bits). One trace."""
    values = [float(nominal_bits), float(entropy_sum), float(effective)]
    if not all(np.isfinite(values)) or min(values) < 0:
        raise HashvizError(f"bit counts must be finite and >= 0, got {values}")
    names = ["nominal length", "sum of bit entropies", "effective bits (pairwise)"]
    fig = go.Figure(go.Bar(x=values, y=names, orientation="h", text=[f"{v:.1f}" for v in values],
                           textposition="auto", marker=dict(color=[PALETTE[7], PALETTE[5], OK_COLOUR],
                                                            pattern=dict(shape=["", "/", ""])),
                           hovertemplate="%{y}: %{x:.2f} bits<extra></extra>", name="bits"))
    _layout(fig, title, "bits", "", xaxis_range=[0, max(values[0], 1) * 1.05], height=260)
    fig.update_yaxes(autorange="reversed")
    return fig


def output_error_per_bit_figure(edges: np.ndarray, abs_hist_per_bit: np.ndarray,
                                title: str = "|u| per bit (share of each bit's outputs per bin)") -> go.Figure:
    """Heatmap: one row per bit, one column per |u| bin, cell = share of that bit's outputs in the
    bin (each row sums to 1). Mass near |u| = 0 marks bits whose sign flips easily. One trace."""
    edges = _1d(edges, "edges")
    h = np.asarray(abs_hist_per_bit, dtype=np.float64)
    if h.ndim != 2 or h.shape[1] != edges.shape[0] - 1:
        raise HashvizError(f"per-bit histograms must be (bits, {edges.shape[0] - 1}), got {h.shape}")
    totals = h.sum(axis=1, keepdims=True)
    share = np.divide(h, totals, out=np.zeros_like(h), where=totals > 0)
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure(go.Heatmap(z=share, x=centres, y=np.arange(h.shape[0]), colorscale="Viridis",
                               colorbar=dict(title=dict(text="share of<br>outputs"), tickformat=".0%"),
                               hovertemplate="bit %{y}, |u| ≈ %{x:.3f}<br>%{z:.1%} of its outputs"
                                             "<extra></extra>"))
    _layout(fig, title, "|u| (distance of the output from 0)", "bit")
    fig.update_yaxes(autorange="reversed")
    return fig


# --------------------------------------------------------------------------------------------
# evaluation figures


def _line_style(i: int) -> dict:
    return dict(line=dict(color=PALETTE[i % len(PALETTE)], dash=DASHES[i % len(DASHES)]),
                marker=dict(symbol=SYMBOLS[i % len(SYMBOLS)], size=7, color=PALETTE[i % len(PALETTE)]))


def pr_curve_figure(curves: Mapping[str, Mapping[str, Sequence[float]]],
                    title: str = "Precision-recall over Hamming radius") -> go.Figure:
    """One line per model: name -> {"precision": [...], "recall": [...]} (one point per radius;
    an optional "radius" list goes into the hover). One trace per model."""
    fig = go.Figure()
    for i, (name, c) in enumerate(curves.items()):
        p = _1d(c["precision"], f"{name} precision")
        r = _1d(c["recall"], f"{name} recall")
        if p.shape != r.shape:
            raise HashvizError(f"{name}: precision and recall must have the same length")
        radius = c.get("radius") if hasattr(c, "get") else None
        radius = np.arange(p.shape[0]) if radius is None else _1d(radius, f"{name} radius")
        fig.add_trace(go.Scatter(x=r, y=p, mode="lines+markers", name=str(name), customdata=radius,
                                 hovertemplate="radius %{customdata}<br>recall %{x:.3f}<br>"
                                               "precision %{y:.3f}<extra>" + str(name) + "</extra>",
                                 **_line_style(i)))
    _layout(fig, title, "recall", "precision", xaxis_range=[0, 1.02], yaxis_range=[0, 1.02])
    return fig


def precision_at_k_figure(curves: Mapping[str, Mapping[int, float]],
                          title: str = "Precision@k") -> go.Figure:
    """One line per model: name -> {k: precision}. One trace per model, points sorted by k."""
    fig = go.Figure()
    for i, (name, c) in enumerate(curves.items()):
        ks = sorted(c)
        fig.add_trace(go.Scatter(x=[int(k) for k in ks], y=[float(c[k]) for k in ks], mode="lines+markers",
                                 name=str(name),
                                 hovertemplate="k = %{x}<br>precision %{y:.3f}<extra>" + str(name) + "</extra>",
                                 **_line_style(i)))
    _layout(fig, title, "k (number of retrieved items)", "precision@k", yaxis_range=[0, 1.02])
    return fig


def map_vs_bits_figure(rows: Iterable[tuple[str, int, float]],
                       title: str = "mAP vs code length") -> go.Figure:
    """rows of (method, bits, map): one line per method over its code lengths (sorted). The x axis
    shows exactly the code lengths present (log2 spacing)."""
    by_method: dict[str, list[tuple[int, float]]] = {}
    for method, bits, m in rows:
        by_method.setdefault(str(method), []).append((int(bits), float(m)))
    fig = go.Figure()
    all_bits: set[int] = set()
    for i, (method, pts) in enumerate(by_method.items()):
        pts.sort()
        all_bits.update(b for b, _ in pts)
        fig.add_trace(go.Scatter(x=[b for b, _ in pts], y=[m for _, m in pts], mode="lines+markers",
                                 name=method,
                                 hovertemplate="%{x} bits<br>mAP %{y:.3f}<extra>" + method + "</extra>",
                                 **_line_style(i)))
    _layout(fig, title, "code length (bits)", "mAP")
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
    names_y = [str(c) for c in class_names] if class_names is not None else [str(i) for i in range(m.shape[0])]
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
    _layout(fig, title, x_label, y_label)
    fig.update_yaxes(autorange="reversed")
    return fig


# --------------------------------------------------------------------------------------------
# code map


def _scatter_cls(n: int):
    return go.Scattergl if n > WEBGL_THRESHOLD else go.Scatter


def code_map_figure(xy: np.ndarray, row_ids: np.ndarray, color_values: np.ndarray | None = None,
                    color_kind: str = "label", class_names: Sequence[str] | None = None,
                    title: str = "Code map", marker_size: float | np.ndarray = 5,
                    x_label: str = "map x", y_label: str = "map y", dragmode: str = "lasso") -> go.Figure:
    """Scatter of a 2-D map where every point's `customdata` is its global row id.

    color_kind:
      "label":   color_values are int labels; one trace per class (sorted), named by class_names.
      "correct": color_values in [0, 1] (share of neighbours with the same label, or bool); two traces,
                 "right (>= 0.5)" (blue circles) and "wrong (< 0.5)" (orange x), points coloured by the
                 share on a colour-blind safe scale.
      "bit":     color_values {0,1} or {-1,+1} for one bit; traces "bit = −1" (circle) and "bit = +1"
                 (diamond).
    Uses go.Scattergl above WEBGL_THRESHOLD points. Read selections back with `selected_rows`.
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

    def add(mask: np.ndarray, name: str, symbol: str, color: Any, extra_hover: str = "", **marker: Any) -> None:
        fig.add_trace(Sc(x=xy[mask, 0], y=xy[mask, 1], customdata=rows[mask], mode="markers", name=name,
                         marker=dict(symbol=symbol, color=color, size=marker_size if np.isscalar(marker_size)
                                     else np.asarray(marker_size)[mask], **marker),
                         hovertemplate="row %{customdata}" + extra_hover + "<extra>" + name + "</extra>"))

    if color_values is None:
        add(np.ones(n, bool), "items", "circle", OK_COLOUR)
    elif color_kind == "label":
        labels = color_values.astype(np.int64)
        for i, lab in enumerate(np.unique(labels)):
            if class_names is not None and 0 <= lab < len(class_names):
                name = str(class_names[lab])
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
    _layout(fig, title, x_label, y_label, dragmode=dragmode, legend=dict(itemsizing="constant"))
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
