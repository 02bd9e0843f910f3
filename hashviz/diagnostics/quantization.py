"""The Quantization tab: how far a deep model's continuous outputs u are from sign(u); for
product-quantisation models, codeword usage and perplexity per codebook."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hashviz.codes import check_packed, unpack_bits01
from hashviz.errors import HashvizError


@dataclass
class OutputError:
    """How far continuous outputs u (before sign) are from their binary codes sign(u).

    edges: float64 (n_bins + 1,) shared bin edges for both histograms (from 0).
    abs_hist / err_hist: int64 (n_bins,) histograms of |u| and |u - sign(u)| over all values.
    abs_hist_per_bit / err_hist_per_bit: int64 (bits, n_bins) the same per bit.
    mean_abs / mean_err: float64 (bits,) per-bit means of |u| and |u - sign(u)|.
    overall_mean_abs / overall_mean_err: float means over everything.
    near_zero_share: float64 (bits,) share of |u| < near_zero (outputs that flip sign easily).
    sign_agreement: share of sign(u) equal to the stored code bits (None when rows not given).
    sign(0) is taken as -1, as in `hashviz.codes.pack_signs`.
    """

    edges: np.ndarray
    abs_hist: np.ndarray
    err_hist: np.ndarray
    abs_hist_per_bit: np.ndarray
    err_hist_per_bit: np.ndarray
    mean_abs: np.ndarray
    mean_err: np.ndarray
    overall_mean_abs: float
    overall_mean_err: float
    near_zero: float
    near_zero_share: np.ndarray
    n_samples: int
    sign_agreement: float | None = None


def _hist_per_column(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """int64 (cols, n_bins) histogram of every column with shared edges (right edge inclusive)."""
    n_bins = len(edges) - 1
    idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, n_bins - 1)
    cols = values.shape[1]
    flat = idx + (np.arange(cols) * n_bins)[None, :]
    return np.bincount(flat.ravel(), minlength=cols * n_bins).reshape(cols, n_bins).astype(np.int64)


def output_error(outputs: np.ndarray, codes: np.ndarray | None = None, rows: np.ndarray | None = None,
                 n_bins: int = 50, near_zero: float = 0.1) -> OutputError:
    """Distribution of |u| and |u - sign(u)| per bit and overall for continuous outputs (n_s, bits).

    When `codes` (packed database codes) and `rows` (the database row of each output) are given,
    also reports the share of sign(u) that agree with the stored codes.
    """
    u = np.asarray(outputs)
    if u.ndim != 2 or u.shape[0] == 0 or not np.issubdtype(u.dtype, np.floating):
        raise HashvizError(f"outputs must be a non-empty float array (n, bits), got {u.dtype} {u.shape}")
    u = u.astype(np.float64, copy=False)
    if not np.isfinite(u).all():
        raise HashvizError("outputs contain NaN or infinite values; export the network outputs again")
    if n_bins < 1:
        raise HashvizError(f"n_bins must be >= 1, got {n_bins}")
    a = np.abs(u)
    s = np.where(u > 0, 1.0, -1.0)
    e = np.abs(u - s)
    top = float(max(a.max(), e.max()))
    if top <= 0:
        top = 1.0
    edges = np.linspace(0.0, top, n_bins + 1)
    abs_pb = _hist_per_column(a, edges)
    err_pb = _hist_per_column(e, edges)
    agreement = None
    if codes is not None and rows is not None:
        rows = np.asarray(rows)
        check_packed(codes, u.shape[1])
        if rows.shape != (u.shape[0],):
            raise HashvizError(f"output rows must have one database row per output ({u.shape[0]}), "
                               f"got shape {rows.shape}")
        if rows.size and (rows.min() < 0 or rows.max() >= codes.shape[0]):
            raise HashvizError("output rows point outside the database codes")
        stored = unpack_bits01(codes[rows.astype(np.int64)], u.shape[1]).astype(bool)
        agreement = float(np.mean(stored == (u > 0)))
    return OutputError(edges=edges, abs_hist=abs_pb.sum(0), err_hist=err_pb.sum(0),
                       abs_hist_per_bit=abs_pb, err_hist_per_bit=err_pb,
                       mean_abs=a.mean(0), mean_err=e.mean(0),
                       overall_mean_abs=float(a.mean()), overall_mean_err=float(e.mean()),
                       near_zero=float(near_zero), near_zero_share=(a < near_zero).mean(0),
                       n_samples=int(u.shape[0]), sign_agreement=agreement)


# --------------------------------------------------------------------------------------------
# codeword usage of quantization models


@dataclass
class CodewordUsage:
    """counts: int64 (M, K) how many codes use codeword k of codebook m.
    perplexity: float64 (M,) exp(entropy) of each codebook's usage, in [1, K]; K = all used evenly.
    unused: int64 (M,) codewords never used per codebook.
    """

    counts: np.ndarray
    perplexity: np.ndarray
    unused: np.ndarray
    n_codewords: int

    @property
    def mean_perplexity(self) -> float:
        return float(self.perplexity.mean())


def codeword_usage(codes: np.ndarray, n_codewords: int = 256) -> CodewordUsage:
    """Codeword usage of pq codes uint8 (n, M) with K = n_codewords codewords per codebook."""
    codes = np.asarray(codes)
    if codes.dtype != np.uint8 or codes.ndim != 2 or codes.shape[0] == 0:
        raise HashvizError(f"pq codes must be a non-empty uint8 array (n, M), got {codes.dtype} {codes.shape}")
    k = int(n_codewords)
    if not 1 <= k <= 256:
        raise HashvizError(f"number of codewords must be 1..256 for uint8 codes, got {n_codewords}")
    if int(codes.max()) >= k:
        raise HashvizError(f"pq codes hold index {int(codes.max())} but there are only {k} codewords")
    m = codes.shape[1]
    flat = codes.astype(np.int64) + (np.arange(m) * k)[None, :]
    counts = np.bincount(flat.ravel(), minlength=m * k).reshape(m, k).astype(np.int64)
    p = counts / codes.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(1)
    return CodewordUsage(counts=counts, perplexity=np.exp(h), unused=(counts == 0).sum(1).astype(np.int64),
                         n_codewords=k)
