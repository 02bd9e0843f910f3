"""Diagnostics of learned hash codes: pure functions, numpy in, numpy / dataclasses out.

What a page can show about one model's database codes:

* bit balance       -- share of +1 per bit, its entropy, a balance score, dead bits;
* bit independence  -- correlation and mutual-information matrices, "effective bits";
* quantization      -- deep models: how far the continuous outputs u are from sign(u);
                       quantization (pq) models: codeword usage and perplexity per codebook;
* bucket occupancy  -- distinct codes, largest buckets, bucket sizes, cross-class collisions;
* distances         -- Hamming distance histograms of same-class vs different-class pairs.

`diagnose(...)` runs all of them. Everything is vectorised; pairwise statistics are sampled
(seeded), so n = 69,000 codes of 64 bits take well under a second.

Codes follow the contract in docs/CONTRACTS.md: packed uint8 (n, bits // 8), bit value 1 means +1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hashviz.codes import bit_strip, check_bits, check_packed, unpack_bits01
from hashviz.errors import HashvizError
from hashviz.hamming import paired_distances

__all__ = [
    "BitBalance", "BitIndependence", "OutputError", "CodewordUsage", "BucketStats", "Bucket",
    "DistanceStats", "Diagnosis",
    "bit_balance", "bit_independence", "output_error", "codeword_usage", "bucket_occupancy",
    "distance_distributions", "diagnose", "binary_entropy", "effective_bits",
    "primary_labels", "diagnose_model", "bit_table", "bucket_table", "summary_table", "SUMMARY_LABELS",
]


# --------------------------------------------------------------------------------------------
# helpers


def binary_entropy(p: np.ndarray | float) -> np.ndarray:
    """Entropy in bits of a Bernoulli(p) variable; 0 at p = 0 or 1 (no NaN)."""
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return np.nan_to_num(h, nan=0.0)


def _xlogx_ratio(pxy: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """pxy * log2(pxy / (px * py)) with 0 log 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = pxy * np.log2(pxy / (px * py))
    return np.where(pxy > 0, np.nan_to_num(t, nan=0.0, posinf=0.0, neginf=0.0), 0.0)


def _check_labels(labels: np.ndarray, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise HashvizError(f"labels must be a 1-D array with one label per code ({n}), "
                           f"got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise HashvizError(f"labels must be integers, got dtype {labels.dtype}")
    return labels.astype(np.int64, copy=False)


def _bits01(codes: np.ndarray, bits: int | None) -> np.ndarray:
    check_packed(codes, bits)
    if codes.shape[0] == 0:
        raise HashvizError("no codes to diagnose (0 rows)")
    return unpack_bits01(codes, bits)


# --------------------------------------------------------------------------------------------
# bit balance


@dataclass
class BitBalance:
    """Per-bit balance. Arrays have one entry per bit (bit 0 first)."""

    share_plus: np.ndarray   # float64 (bits,): share of codes with this bit = +1
    entropy: np.ndarray      # float64 (bits,): Bernoulli entropy in bits, 1 = perfectly balanced
    balance: np.ndarray      # float64 (bits,): 1 - |2p - 1|, 1 = balanced, 0 = constant
    dead: np.ndarray         # bool (bits,): share_plus < threshold or > 1 - threshold
    threshold: float

    @property
    def n_dead(self) -> int:
        return int(self.dead.sum())

    @property
    def dead_bits(self) -> np.ndarray:
        """Indices (int64) of the dead bits."""
        return np.flatnonzero(self.dead).astype(np.int64)


def bit_balance(codes: np.ndarray, bits: int | None = None, dead_threshold: float = 0.02,
                *, bits01: np.ndarray | None = None) -> BitBalance:
    """Share of +1 per bit, its entropy, a balance score, and dead (near-constant) bits.

    A bit is dead when its share of +1 is below `dead_threshold` or above 1 - `dead_threshold`
    (with threshold 0: exactly constant). `bits01` may pass the already unpacked {0,1} codes.
    """
    if not 0 <= dead_threshold < 0.5:
        raise HashvizError(f"dead_threshold must be in [0, 0.5), got {dead_threshold}")
    x = bits01 if bits01 is not None else _bits01(codes, bits)
    p = x.mean(axis=0, dtype=np.float64)
    dead = (p < dead_threshold) | (p > 1 - dead_threshold)
    if dead_threshold == 0:
        dead = (p == 0) | (p == 1)
    return BitBalance(share_plus=p, entropy=binary_entropy(p), balance=1 - np.abs(2 * p - 1),
                      dead=dead, threshold=float(dead_threshold))


# --------------------------------------------------------------------------------------------
# bit independence


@dataclass
class BitIndependence:
    """Pairwise dependence between bits.

    correlation: float64 (bits, bits) Pearson correlation of the {-1,+1} bits; diagonal 1;
                 rows/columns of constant bits are 0 off the diagonal (never NaN).
    mutual_info: float64 (bits, bits) mutual information in bits; the diagonal is each bit's entropy.
    effective_bits: see `effective_bits` (0 .. nominal_bits).
    entropy_sum: sum of per-bit entropies (upper bound ignoring redundancy).
    nominal_bits: code length.
    n_samples: number of codes the estimates used.
    """

    correlation: np.ndarray
    mutual_info: np.ndarray
    effective_bits: float
    entropy_sum: float
    nominal_bits: int
    n_samples: int

    @property
    def max_abs_correlation(self) -> float:
        """Largest |correlation| between two different bits (0 for a 1-bit code)."""
        c = np.abs(self.correlation.copy())
        np.fill_diagonal(c, 0)
        return float(c.max()) if c.size else 0.0

    def most_correlated_pairs(self, top: int = 10) -> list[tuple[int, int, float]]:
        """(bit_i, bit_j, correlation) for the `top` pairs i < j with largest |correlation|."""
        b = self.correlation.shape[0]
        i, j = np.triu_indices(b, k=1)
        c = self.correlation[i, j]
        order = np.argsort(-np.abs(c), kind="stable")[:top]
        return [(int(i[o]), int(j[o]), float(c[o])) for o in order]


def effective_bits(correlation: np.ndarray, entropy: np.ndarray, n_samples: int) -> float:
    """Effective number of bits: each bit's entropy divided by how many copies of it the code holds.

        effective_bits = sum_i  H_i / c_i,
        c_i = 1 + max(0, sum_{j != i} (rho_ij^2 - 1 / n_samples))

    H_i is bit i's entropy (bits), rho_ij the Pearson correlation of bits i and j. The squared
    correlations count soft "copies" c_i of a bit; subtracting 1/n removes the sampling noise of a
    correlation estimated from n codes (E[rho^2] ~ 1/n for independent bits), so the value does
    not sink with the code length for small samples (64 random balanced bits: ~64.0 from
    69,000 codes, ~61.9 from 200 codes).

    Properties: balanced independent bits give ~ nominal bits; k exact copies (or negations) of a
    balanced bit together contribute 1 bit; a constant bit contributes 0; an unbalanced bit
    contributes its entropy (< 1). It is a pairwise (second-order) estimate: dependence visible only
    in three or more bits at once (e.g. a bit that is the XOR of two others) is not detected. The
    joint code entropy itself cannot be estimated from n codes once 2^bits >> n.
    """
    correlation = np.asarray(correlation, dtype=np.float64)
    entropy = np.asarray(entropy, dtype=np.float64)
    r2 = np.square(correlation) - 1.0 / max(int(n_samples), 1)
    np.fill_diagonal(r2, 0.0)
    copies = 1.0 + np.maximum(r2.sum(axis=1), 0.0)
    return float(np.sum(entropy / copies))


def _correlation_and_mi(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Correlation (±1 Pearson), mutual information, and per-bit entropy from {0,1} bits (n, b)."""
    n, b = x.shape
    xf = x.astype(np.float32)
    n11 = (xf.T @ xf).astype(np.float64)           # both bits 1 (exact: integer counts < 2^24)
    if n >= 2 ** 24:
        n11 = x.astype(np.float64).T @ x.astype(np.float64)
    n1 = np.diag(n11).copy()                         # bit = 1
    p1 = n1 / n
    p11 = n11 / n
    p10 = p1[:, None] - p11                          # i = 1, j = 0
    p01 = p1[None, :] - p11
    p00 = 1 - p1[:, None] - p1[None, :] + p11
    q1 = 1 - p1

    # Pearson correlation of s = 2x - 1: cov = 4 (p11 - p1_i p1_j), var = 4 p (1 - p)
    cov = p11 - np.outer(p1, p1)
    sd = np.sqrt(p1 * q1)
    denom = np.outer(sd, sd)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.where(denom > 0, cov / denom, 0.0)
    corr = np.clip(np.nan_to_num(corr, nan=0.0), -1.0, 1.0)
    np.fill_diagonal(corr, 1.0)

    mi = (_xlogx_ratio(p11, p1[:, None], p1[None, :]) + _xlogx_ratio(p10, p1[:, None], q1[None, :])
          + _xlogx_ratio(p01, q1[:, None], p1[None, :]) + _xlogx_ratio(p00, q1[:, None], q1[None, :]))
    mi = np.maximum(mi, 0.0)
    h = binary_entropy(p1)
    np.fill_diagonal(mi, h)
    mi = np.minimum(mi, np.minimum.outer(h, h))       # I(X;Y) <= min(H(X), H(Y)); removes fp noise
    return corr, mi, h


def bit_independence(codes: np.ndarray, bits: int | None = None, max_samples: int | None = 200_000,
                     seed: int = 0, *, bits01: np.ndarray | None = None) -> BitIndependence:
    """Correlation matrix, pairwise mutual information, and effective bits of packed codes.

    Uses all codes up to `max_samples` (a seeded sample beyond that). `bits01` may pass the
    already unpacked {0,1} codes (n, bits) to skip unpacking.
    """
    x = bits01 if bits01 is not None else _bits01(codes, bits)
    if max_samples is not None and x.shape[0] > max_samples:
        rows = np.sort(np.random.default_rng(seed).choice(x.shape[0], max_samples, replace=False))
        x = x[rows]
    corr, mi, h = _correlation_and_mi(x)
    return BitIndependence(correlation=corr, mutual_info=mi,
                           effective_bits=effective_bits(corr, h, x.shape[0]),
                           entropy_sum=float(h.sum()), nominal_bits=int(x.shape[1]),
                           n_samples=int(x.shape[0]))


# --------------------------------------------------------------------------------------------
# quantization error of deep models


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


# --------------------------------------------------------------------------------------------
# bucket occupancy


@dataclass
class Bucket:
    """One bucket (all codes identical). code: bit string (binary) or "i-j-..." indices (pq)."""

    code: str
    size: int
    class_counts: dict[int, int]   # label -> count, largest first
    first_row: int                 # lowest database row in the bucket


@dataclass
class BucketStats:
    """Occupancy of the code space.

    n_codes / n_distinct: items and distinct codes (buckets).
    largest: the biggest buckets, largest first (ties by lowest row).
    size_values / size_counts: int64, size_counts[i] buckets hold size_values[i] items (sizes present only).
    bucket_of_row: int64 (n,) bucket id of each row (bucket ids rank the distinct codes in sorted
                   order); bucket_sizes: int64 (n_distinct,) size of each bucket id.
    mixed_buckets: buckets holding more than one class.
    cross_class_pairs: unordered pairs of items of different classes that share a code.
    same_class_pairs: unordered pairs of items of the same class that share a code.
    items_in_shared: items whose bucket holds at least one other item.
    """

    n_codes: int
    n_distinct: int
    largest: list[Bucket]
    size_values: np.ndarray
    size_counts: np.ndarray
    bucket_of_row: np.ndarray
    bucket_sizes: np.ndarray
    mixed_buckets: int
    cross_class_pairs: int
    same_class_pairs: int
    items_in_shared: int

    @property
    def distinct_share(self) -> float:
        return self.n_distinct / self.n_codes if self.n_codes else 0.0


def _row_keys(codes: np.ndarray) -> np.ndarray:
    """One hashable/sortable key per row: uint64 when it fits, else a void view."""
    width = codes.shape[1]
    c = np.ascontiguousarray(codes)
    if width <= 8:
        padded = np.zeros((c.shape[0], 8), dtype=np.uint8)
        padded[:, :width] = c
        return padded.view(">u8").ravel()
    return c.view(np.dtype((np.void, width))).ravel()


def bucket_occupancy(codes: np.ndarray, labels: np.ndarray, bits: int | None = None,
                     code_type: str = "binary", top: int = 10) -> BucketStats:
    """Buckets of identical codes: how many, how big, which classes share them.

    Bucket ids are ranks of the sorted codes (bucket 0 = smallest code value).
    """
    if code_type == "binary":
        check_packed(codes, bits)
    elif code_type == "pq":
        if not isinstance(codes, np.ndarray) or codes.dtype != np.uint8 or codes.ndim != 2:
            raise HashvizError("pq codes must be a uint8 array (n, M)")
    else:
        raise HashvizError(f"code_type must be 'binary' or 'pq', got {code_type!r}")
    n = codes.shape[0]
    labels = _check_labels(labels, n)
    if n == 0:
        raise HashvizError("no codes to diagnose (0 rows)")
    keys = _row_keys(codes)
    _, first, inverse, sizes = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
    inverse = inverse.ravel().astype(np.int64)
    sizes = sizes.astype(np.int64)
    n_b = sizes.shape[0]

    # (bucket, class) counts
    ulab, lab_idx = np.unique(labels, return_inverse=True)
    pair_key = inverse * len(ulab) + lab_idx.ravel()
    pk, pc = np.unique(pair_key, return_counts=True)
    pb = pk // len(ulab)
    classes_per_bucket = np.bincount(pb, minlength=n_b)
    same_pairs_per_bucket = np.bincount(pb, weights=pc * (pc - 1) / 2, minlength=n_b)
    all_pairs = sizes * (sizes - 1) // 2
    same_pairs = int(round(same_pairs_per_bucket.sum()))
    cross = int(all_pairs.sum()) - same_pairs

    size_values, size_counts = np.unique(sizes, return_counts=True)

    order = np.lexsort((first, -sizes))[:max(int(top), 0)]
    largest = []
    for b in order:
        sel = pb == b
        labs, cnts = ulab[pk[sel] % len(ulab)], pc[sel]
        o = np.lexsort((labs, -cnts))
        row = int(first[b])
        if code_type == "binary":
            code = bit_strip(codes[row])
        else:
            code = "-".join(str(int(v)) for v in codes[row])
        largest.append(Bucket(code=code, size=int(sizes[b]),
                              class_counts={int(labs[i]): int(cnts[i]) for i in o}, first_row=row))
    return BucketStats(n_codes=int(n), n_distinct=int(n_b), largest=largest,
                       size_values=size_values.astype(np.int64), size_counts=size_counts.astype(np.int64),
                       bucket_of_row=inverse, bucket_sizes=sizes,
                       mixed_buckets=int((classes_per_bucket > 1).sum()), cross_class_pairs=cross,
                       same_class_pairs=same_pairs, items_in_shared=int(sizes[sizes > 1].sum()))


# --------------------------------------------------------------------------------------------
# distance distributions


@dataclass
class DistanceStats:
    """Hamming distances of sampled same-class and different-class pairs.

    edges: float64 (bits + 2,) bin edges -0.5 .. bits + 0.5 (one bin per distance 0..bits).
    same_hist / diff_hist: int64 (bits + 1,) pair counts per distance.
    same_density / diff_density: float64 normalised (sum 1; zeros when no pairs).
    overlap: sum of min(same_density, diff_density) in [0, 1]; 0 = perfectly separated.
    """

    edges: np.ndarray
    same_hist: np.ndarray
    diff_hist: np.ndarray
    same_density: np.ndarray
    diff_density: np.ndarray
    overlap: float
    mean_same: float
    mean_diff: float
    n_same: int
    n_diff: int

    @property
    def distances(self) -> np.ndarray:
        return np.arange(self.same_hist.shape[0], dtype=np.int64)


def _pair_distances(codes: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return paired_distances(codes[i], codes[j])


def distance_distributions(codes: np.ndarray, labels: np.ndarray, bits: int | None = None,
                           n_pairs: int = 20_000, seed: int = 0) -> DistanceStats:
    """Hamming distance histograms of `n_pairs` same-class and `n_pairs` different-class pairs.

    Pairs (i != j) are drawn uniformly with a seeded generator: same-class pairs by drawing i and
    then j from i's class, different-class pairs by rejection. Fewer pairs come out when the data
    hold none (one class only, or only singleton classes).
    """
    check_packed(codes, bits)
    n = codes.shape[0]
    labels = _check_labels(labels, n)
    b = codes.shape[1] * 8
    rng = np.random.default_rng(seed)
    n_pairs = max(int(n_pairs), 0)

    # same-class pairs: only items whose class has >= 2 members can start one
    order = np.argsort(labels, kind="stable")
    sl = labels[order]
    starts = np.flatnonzero(np.r_[True, sl[1:] != sl[:-1]])
    lens = np.diff(np.r_[starts, n])
    group_of_sorted = np.repeat(np.arange(len(starts)), lens)
    eligible = np.flatnonzero(lens[group_of_sorted] >= 2)          # positions in sorted order
    if eligible.size and n_pairs:
        pos_i = eligible[rng.integers(0, eligible.size, n_pairs)]
        g = group_of_sorted[pos_i]
        off_i = pos_i - starts[g]
        off_j = (off_i + 1 + rng.integers(0, lens[g] - 1)) % lens[g]   # uniform over the others
        si, sj = order[pos_i], order[starts[g] + off_j]
        d_same = _pair_distances(codes, si, sj)
    else:
        d_same = np.zeros(0, dtype=np.int64)

    # different-class pairs by rejection
    d_diff_parts: list[np.ndarray] = []
    got = 0
    if len(starts) > 1 and n_pairs:
        for _ in range(50):
            need = n_pairs - got
            if need <= 0:
                break
            m = int(need * 1.3) + 16
            i = rng.integers(0, n, m)
            j = rng.integers(0, n, m)
            keep = labels[i] != labels[j]
            i, j = i[keep][:need], j[keep][:need]
            d_diff_parts.append(_pair_distances(codes, i, j))
            got += i.size
    d_diff = np.concatenate(d_diff_parts) if d_diff_parts else np.zeros(0, dtype=np.int64)

    same_hist = np.bincount(d_same, minlength=b + 1).astype(np.int64)
    diff_hist = np.bincount(d_diff, minlength=b + 1).astype(np.int64)
    same_den = same_hist / same_hist.sum() if same_hist.sum() else np.zeros(b + 1)
    diff_den = diff_hist / diff_hist.sum() if diff_hist.sum() else np.zeros(b + 1)
    overlap = float(np.minimum(same_den, diff_den).sum()) if d_same.size and d_diff.size else float("nan")
    return DistanceStats(edges=np.arange(b + 2) - 0.5, same_hist=same_hist, diff_hist=diff_hist,
                         same_density=same_den, diff_density=diff_den, overlap=overlap,
                         mean_same=float(d_same.mean()) if d_same.size else float("nan"),
                         mean_diff=float(d_diff.mean()) if d_diff.size else float("nan"),
                         n_same=int(d_same.size), n_diff=int(d_diff.size))


# --------------------------------------------------------------------------------------------
# everything at once


@dataclass
class Diagnosis:
    """All diagnostics of one model's database codes. Parts that do not apply are None.

    binary codes: balance, independence, buckets, distances (+ output_error when outputs given).
    pq codes: usage, buckets (balance / independence / distances / output_error are None).
    """

    code_type: str
    bits: int
    n_codes: int
    n_classes: int
    balance: BitBalance | None = None
    independence: BitIndependence | None = None
    output_error: OutputError | None = None
    usage: CodewordUsage | None = None
    buckets: BucketStats | None = None
    distances: DistanceStats | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Headline numbers (plain Python values) for a page's metric row or a JSON report."""
        s: dict[str, Any] = {"code_type": self.code_type, "bits": self.bits, "codes": self.n_codes,
                             "classes": self.n_classes}
        if self.balance is not None:
            s["dead_bits"] = self.balance.n_dead
            s["mean_bit_entropy"] = float(self.balance.entropy.mean())
        if self.independence is not None:
            s["effective_bits"] = self.independence.effective_bits
            s["max_abs_correlation"] = self.independence.max_abs_correlation
        if self.output_error is not None:
            s["mean_abs_output"] = self.output_error.overall_mean_abs
            s["mean_quantization_error"] = self.output_error.overall_mean_err
            if self.output_error.sign_agreement is not None:
                s["output_sign_agreement"] = self.output_error.sign_agreement
        if self.usage is not None:
            s["mean_codebook_perplexity"] = self.usage.mean_perplexity
            s["unused_codewords"] = int(self.usage.unused.sum())
        if self.buckets is not None:
            s["distinct_codes"] = self.buckets.n_distinct
            s["largest_bucket"] = self.buckets.largest[0].size if self.buckets.largest else 0
            s["mixed_buckets"] = self.buckets.mixed_buckets
            s["cross_class_pairs"] = self.buckets.cross_class_pairs
        if self.distances is not None:
            s["distance_overlap"] = self.distances.overlap
            s["mean_distance_same"] = self.distances.mean_same
            s["mean_distance_diff"] = self.distances.mean_diff
        return s


def diagnose(codes: np.ndarray, labels: np.ndarray, bits: int, outputs: np.ndarray | None = None,
             code_type: str = "binary", *, output_rows: np.ndarray | None = None,
             n_codewords: int = 256, dead_threshold: float = 0.02, n_pairs: int = 20_000,
             top_buckets: int = 10, n_bins: int = 50, seed: int = 0) -> Diagnosis:
    """Run every diagnostic that applies to `code_type` ("binary" packed codes or "pq" indices).

    bits: code length (binary: codes.shape[1] * 8; pq: M * log2(K), only reported).
    outputs / output_rows: optional continuous outputs (n_s, bits) of a deep model and the database
    row of each; used for the quantization-error part.
    """
    if code_type not in ("binary", "pq"):
        raise HashvizError(f"code_type must be 'binary' or 'pq', got {code_type!r}")
    if not isinstance(codes, np.ndarray):
        raise HashvizError(f"codes must be a numpy array, got {type(codes).__name__}")
    labels = _check_labels(labels, codes.shape[0] if codes.ndim >= 1 else -1)
    n_classes = int(np.unique(labels).size)
    if code_type == "pq":
        usage = codeword_usage(codes, n_codewords)
        d = Diagnosis(code_type="pq", bits=int(bits), n_codes=int(codes.shape[0]), n_classes=n_classes,
                      usage=usage, buckets=bucket_occupancy(codes, labels, code_type="pq", top=top_buckets))
        d.notes.append("product-quantisation codes: bit balance, bit independence and Hamming distances "
                       "do not apply; codeword usage is shown instead")
        if outputs is not None:
            d.notes.append("continuous outputs were ignored for pq codes")
        return d

    bits = check_bits(bits)
    x = _bits01(codes, bits)
    d = Diagnosis(code_type="binary", bits=bits, n_codes=int(codes.shape[0]), n_classes=n_classes)
    d.balance = bit_balance(codes, bits, dead_threshold, bits01=x)
    d.independence = bit_independence(codes, bits, seed=seed, bits01=x)
    d.buckets = bucket_occupancy(codes, labels, bits, top=top_buckets)
    d.distances = distance_distributions(codes, labels, bits, n_pairs=n_pairs, seed=seed)
    if outputs is not None:
        outputs = np.asarray(outputs)
        if outputs.ndim != 2 or outputs.shape[1] != bits:
            raise HashvizError(f"outputs must have shape (n, {bits}) to match the codes, got {outputs.shape}")
        d.output_error = output_error(outputs, codes if output_rows is not None else None, output_rows,
                                      n_bins=n_bins)
    return d


# --------------------------------------------------------------------------------------------
# model-level glue for the Diagnostics page


def primary_labels(labels: np.ndarray) -> np.ndarray:
    """int64 (n,): single labels as they are; multi-hot (n, C) -> each item's first label (-1: none)."""
    labels = np.asarray(labels)
    if labels.ndim == 1:
        return labels.astype(np.int64, copy=False)
    if labels.ndim == 2:
        return np.where(labels.any(axis=1), np.argmax(labels != 0, axis=1), -1).astype(np.int64)
    raise HashvizError(f"labels must be (n,) or multi-hot (n, C), got shape {labels.shape}")


def diagnose_model(model, **kw: Any) -> Diagnosis:
    """`diagnose` of a model directory's database codes (hashviz.zoo.ModelDir), with its saved
    continuous outputs (binary codes) or its codebook size K (pq codes). Multi-hot labels are
    reduced to each item's first label (said in the notes)."""
    labels = primary_labels(model.database_labels)
    outputs = rows = None
    if model.code_type == "binary" and model.outputs_sample is not None \
            and model.outputs_sample.ndim == 2 and model.outputs_sample.shape[1] == model.bits:
        outputs, rows = model.outputs_sample, model.outputs_sample_rows
    k = int((model.config.get("pq") or {}).get("K", 256))
    d = diagnose(model.database_codes, labels, model.bits, outputs, model.code_type, output_rows=rows,
                 n_codewords=k, **kw)
    if np.asarray(model.database_labels).ndim == 2:
        d.notes.append("multi-label data: classes here are each item's first label")
    if model.code_type == "binary" and outputs is None:
        d.notes.append("this model saved no continuous outputs, so the quantization error is not shown")
    elif outputs is not None and model.family == "shallow":
        d.notes.append("shallow hasher: the 'outputs' are its real-valued projections before the sign")
    return d


def bit_table(balance: BitBalance) -> list[dict[str, Any]]:
    """One row per bit: bit, share of +1, entropy, balance score, dead."""
    return [{"bit": i, "share of +1": float(p), "entropy (bits)": float(h), "balance": float(b), "dead": bool(d)}
            for i, (p, h, b, d) in enumerate(zip(balance.share_plus, balance.entropy, balance.balance,
                                                 balance.dead))]


def bucket_table(buckets: BucketStats, class_names: list[str] | None = None) -> list[dict[str, Any]]:
    """The largest buckets: code, size, classes in it ("name ×count", largest first), first row."""
    def cls(label: int) -> str:
        return class_names[label] if class_names and 0 <= label < len(class_names) else f"class {label}"
    return [{"code": b.code, "items": b.size, "classes": len(b.class_counts),
             "class counts": ", ".join(f"{cls(k)} ×{v}" for k, v in b.class_counts.items()),
             "first row": b.first_row} for b in buckets.largest]


SUMMARY_LABELS = {
    "code_type": "code type", "bits": "bits", "codes": "database codes", "classes": "classes",
    "dead_bits": "dead bits", "mean_bit_entropy": "mean bit entropy (bits)",
    "effective_bits": "effective bits", "max_abs_correlation": "max |correlation| between bits",
    "mean_abs_output": "mean |u|", "mean_quantization_error": "mean |u − sign(u)|",
    "output_sign_agreement": "sign(u) agrees with stored code",
    "mean_codebook_perplexity": "mean codebook perplexity", "unused_codewords": "unused codewords",
    "distinct_codes": "distinct codes (buckets)", "largest_bucket": "largest bucket",
    "mixed_buckets": "buckets holding several classes", "cross_class_pairs": "cross-class collisions (pairs)",
    "distance_overlap": "same/different distance overlap", "mean_distance_same": "mean distance, same class",
    "mean_distance_diff": "mean distance, different class",
}


def summary_table(diagnoses: dict[str, Diagnosis]) -> list[dict[str, Any]]:
    """Headline numbers of one or more models: one row per measure, one column per model name
    (values as text; "–" where a measure does not apply)."""
    summaries = {name: d.summary() for name, d in diagnoses.items()}
    keys = [k for k in SUMMARY_LABELS if any(k in s for s in summaries.values())]

    def fmt(v: Any) -> str:
        if v is None:
            return "–"
        if isinstance(v, float):
            return "–" if not np.isfinite(v) else f"{v:.3f}"
        return f"{v:,}" if isinstance(v, int) else str(v)
    return [{"measure": SUMMARY_LABELS[k], **{name: fmt(s.get(k)) for name, s in summaries.items()}}
            for k in keys]
