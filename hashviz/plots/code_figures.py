"""Figures of the Diagnostics page: bit balance and entropy, bit correlation and mutual information,
effective bits, quantization error, codeword usage, bucket sizes, distance distributions."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hashviz.errors import HashvizError
from hashviz.plots.style import BAD_COLOUR, OK_COLOUR, PALETTE, as_1d, as_square, layout


def bit_balance_figure(share_plus: Sequence[float] | np.ndarray, dead: Sequence[bool] | np.ndarray | None = None,
                       threshold: float = 0.02, title: str = "Bit balance: share of +1 per bit") -> go.Figure:
    """Bar per bit of the share of +1. Two traces: "balanced bits" and "dead bits" (always both,
    the latter possibly empty); dead bars are orange, cross-hatched and labelled "dead".
    Dotted lines mark 0.5 (ideal) and the dead thresholds."""
    p = as_1d(share_plus, "share_plus")
    dead_mask = ((p < threshold) | (p > 1 - threshold)) if dead is None else as_1d(dead, "dead", bool)
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
    layout(fig, title, "bit", "share of codes with this bit = +1", barmode="overlay",
            yaxis_range=[0, 1.08], bargap=0.15)
    return fig


def _heatmap(m: np.ndarray, title: str, colorbar: str, zmin: float, zmax: float, colorscale: str,
             x_label: str = "bit", y_label: str = "bit", hover: str = "z") -> go.Figure:
    fig = go.Figure(go.Heatmap(z=m, zmin=zmin, zmax=zmax, colorscale=colorscale,
                               colorbar=dict(title=dict(text=colorbar)),
                               hovertemplate=f"{y_label} %{{y}}, {x_label} %{{x}}<br>{hover}: %{{z:.3f}}"
                                             "<extra></extra>"))
    layout(fig, title, x_label, y_label)
    fig.update_yaxes(autorange="reversed")
    return fig


HEATMAP_MAX_BITS = 256   # drawn whole up to this side, in blocks above: a figure's size stays bounded (docs/recipes.md)


def strongest_in_blocks(m: np.ndarray, side: int = HEATMAP_MAX_BITS) -> tuple[np.ndarray, int]:
    """(a (ceil(b/k), ceil(b/k)) matrix, k): each cell the value of largest magnitude among the
    off-diagonal entries of its k x k block of the (b, b) matrix `m` (k = ceil(b / side)), so a
    strongly dependent pair of bits stays visible; k = 1 returns `m` unchanged."""
    b = m.shape[0]
    k = -(-b // side)
    if k == 1:
        return m, 1
    n = -(-b // k)
    padded = np.full((n * k, n * k), np.nan)
    padded[:b, :b] = m
    np.fill_diagonal(padded, np.nan)               # a bit against itself says nothing about pairs
    blocks = padded.reshape(n, k, n, k).transpose(0, 2, 1, 3).reshape(n, n, k * k)
    strongest = np.nanargmax(np.nan_to_num(np.abs(blocks), nan=-1.0), axis=2)
    return np.take_along_axis(blocks, strongest[..., None], axis=2)[..., 0], k


def _bit_heatmap(m: np.ndarray, title: str, colorbar: str, zmin: float, zmax: float, colorscale: str,
                 hover: str) -> go.Figure:
    small, k = strongest_in_blocks(m)
    if k == 1:
        return _heatmap(m, title, colorbar, zmin, zmax, colorscale, hover=hover)
    starts = np.arange(small.shape[0]) * k           # each cell is placed at its block's first bit
    fig = go.Figure(go.Heatmap(z=small, x=starts, y=starts, zmin=zmin, zmax=zmax, colorscale=colorscale,
                               colorbar=dict(title=dict(text=colorbar)),
                               hovertemplate=f"bits %{{y}}.. x bits %{{x}}.. (blocks of {k})<br>strongest "
                                             f"{hover}: %{{z:.3f}}<extra></extra>"))
    layout(fig, f"{title}: {m.shape[0]} bits in blocks of {k}, each cell the strongest pair in its block",
           "bit", "bit")
    fig.update_yaxes(autorange="reversed")
    return fig


def correlation_heatmap(corr: np.ndarray, title: str = "Bit correlation (Pearson, ±1 bits)") -> go.Figure:
    """(bits, bits) correlation heatmap, diverging scale fixed to [-1, 1]. One trace; above
    HEATMAP_MAX_BITS bits, blocks of bits (strongest_in_blocks)."""
    m = as_square(corr, "correlation")
    return _bit_heatmap(m, title, "correlation", -1.0, 1.0, "RdBu_r", hover="correlation")


def mutual_info_heatmap(mi: np.ndarray,
                        title: str = "Pairwise mutual information (bits; diagonal = bit entropy)") -> go.Figure:
    """(bits, bits) mutual information heatmap, scale [0, 1] bit. One trace; above
    HEATMAP_MAX_BITS bits, blocks of bits (strongest_in_blocks)."""
    m = as_square(mi, "mutual information")
    return _bit_heatmap(m, title, "MI (bits)", 0.0, 1.0, "Viridis", hover="MI (bits)")


def quantization_error_figure(edges: np.ndarray, abs_hist: np.ndarray, err_hist: np.ndarray,
                              title: str = "Quantization: continuous outputs vs their signs") -> go.Figure:
    """Two histogram panels (pre-binned counts with shared edges): |u| and |u - sign(u)|. Two traces."""
    edges = as_1d(edges, "edges")
    a = as_1d(abs_hist, "abs_hist")
    e = as_1d(err_hist, "err_hist")
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
    layout(fig, title, "codeword", "codebook")
    fig.update_yaxes(autorange="reversed")
    return fig


def bucket_size_figure(size_values: np.ndarray, size_counts: np.ndarray,
                       title: str = "Bucket sizes: how many codes share one code") -> go.Figure:
    """Bars: number of buckets (log y) holding each number of items. One trace."""
    sv = as_1d(size_values, "size_values", np.int64)
    sc = as_1d(size_counts, "size_counts", np.int64)
    if sv.shape != sc.shape:
        raise HashvizError("size_values and size_counts must have the same length")
    fig = go.Figure(go.Bar(x=sv, y=sc, marker=dict(color=OK_COLOUR), name="buckets",
                           hovertemplate="%{y} buckets hold %{x} items<extra></extra>"))
    layout(fig, title, "items in the bucket (codes identical)", "number of buckets (log scale)")
    fig.update_yaxes(type="log")
    return fig


def distance_distribution_figure(same: np.ndarray, diff: np.ndarray, overlap: float | None = None,
                                 title: str = "Hamming distances: same class vs different class",
                                 normalise: bool = True) -> go.Figure:
    """Overlaid bars of the same-class and different-class distance histograms (index = distance).
    Two traces (solid blue "same class", hatched orange "different class"); the overlap goes into
    the title when given."""
    s = as_1d(same, "same")
    d = as_1d(diff, "diff")
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
    layout(fig, title, "Hamming distance", ylab, barmode="overlay", bargap=0.05)
    return fig


def bit_entropy_figure(entropy: Sequence[float] | np.ndarray, dead: Sequence[bool] | np.ndarray | None = None,
                       title: str = "Bit entropy (1 bit = perfectly balanced)") -> go.Figure:
    """Bar per bit of its entropy in bits, [0, 1]. Two traces like `bit_balance_figure`:
    "informative bits" and "dead bits" (orange, cross-hatched, labelled "dead")."""
    h = as_1d(entropy, "entropy")
    dead_mask = np.zeros(h.shape, bool) if dead is None else as_1d(dead, "dead", bool)
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
    layout(fig, title, "bit", "entropy (bits)", barmode="overlay", yaxis_range=[0, 1.08], bargap=0.15)
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
    layout(fig, title, "bits", "", xaxis_range=[0, max(values[0], 1) * 1.05], height=260)
    fig.update_yaxes(autorange="reversed")
    return fig


def output_error_per_bit_figure(edges: np.ndarray, abs_hist_per_bit: np.ndarray,
                                title: str = "|u| per bit (share of each bit's outputs per bin)") -> go.Figure:
    """Heatmap: one row per bit, one column per |u| bin, cell = share of that bit's outputs in the
    bin (each row sums to 1). Mass near |u| = 0 marks bits whose sign flips easily. One trace."""
    edges = as_1d(edges, "edges")
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
    layout(fig, title, "|u| (distance of the output from 0)", "bit")
    fig.update_yaxes(autorange="reversed")
    return fig
