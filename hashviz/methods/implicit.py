"""Implicit similarity preserving methods (survey family 3): every item of a batch is a query
against the others, and the loss scores the whole distribution of its Hamming distances (a
ranking metric, an information measure) instead of single pairs or triplets.

Both methods here see a query's neighbours only through two soft histograms over the Hamming
distances 0..bits, one of positives and one of negatives (Ustinova & Lempitsky's histogram
trick): the family base builds them once per step and each method writes one formula on them.
"""

from __future__ import annotations

import math

import torch

from hashviz.methods.base import DeepHashMethod, off_diagonal, similarity_matrix
from hashviz.methods.regularizers import bit_balance


def relaxed_hamming(u: torch.Tensor, bits: int) -> torch.Tensor:
    """d_ij = (bits - v_i.v_j) / 2 with v = tanh(u): float (B, B) in [0, bits].

    Equals the Hamming distance when v is in {-1, +1}^bits.
    """
    v = torch.tanh(u)
    return ((bits - v @ v.T) / 2).clamp(0, bits)


def soft_histogram(d: torch.Tensor, weights: torch.Tensor, bits: int, step: int = 1) -> torch.Tensor:
    """Triangular-kernel histograms of distances over the bins 0, step, 2 step, ..., bits.

    d: float (B, N) distances in [0, bits]; weights: float (B, N) (a 0/1 mask picks the items
    counted); step divides bits. Returns float (B, bits // step + 1): item j of row i adds
    weights_ij * max(0, 1 - |d_ij - c_k| / step) to the bin at c_k, so an item splits linearly
    between its two nearest bins, each row sums to the weight it counted, and the counts are
    differentiable in d.
    """
    centres = torch.arange(0, bits + 1, step, device=d.device, dtype=d.dtype)
    kernel = (1 - (d[..., None] - centres).abs() / step).clamp_min(0)  # (B, N, bins)
    return torch.einsum("bn,bnk->bk", weights, kernel)


class ImplicitMethod(DeepHashMethod):
    """Implicit similarity preserving: per-query histograms of positive and negative distances.

    The base relaxes the batch's Hamming distances once (`relaxed_hamming`, v = tanh(u): the
    squashing keeps every distance inside the histogram's bins 0..bits), masks out each query's
    own row entry, and hands each method c_pos, c_neg: float (B, bits + 1), the soft counts of
    positives and negatives at each distance.
    """

    #: histogram bin width in bits (1: a bin per Hamming distance)
    histogram_step = 1

    def loss(self, u, labels):
        d = relaxed_hamming(u, self.bits)
        s = similarity_matrix(labels)
        others = off_diagonal(len(u), u.device).float()
        c_pos = soft_histogram(d, s * others, self.bits, self.histogram_step)
        c_neg = soft_histogram(d, (1 - s) * others, self.bits, self.histogram_step)
        return self.histogram_loss(c_pos, c_neg)

    def histogram_loss(self, c_pos: torch.Tensor, c_neg: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def tie_aware_ap(c_pos: torch.Tensor, c_neg: torch.Tensor) -> torch.Tensor:
    """Relaxed tie-aware average precision per query, float (B,) (0 where a query has no positive).

    With c_d = c+_d + c-_d the items at distance d and N+_{d-1}, N_{d-1} the positives and items
    strictly closer, the exact tie-aware AP (McSherry & Najork) averages over the c_d equally likely
    orders inside the tie at d. Replacing that average of ratios by the ratio of averages gives
    the closed form used here:

        AP_T = (1/N+) sum_d c+_d (N+_{d-1} + (c+_d + 1)/2) / (N_{d-1} + (c_d + 1)/2),

    which is exact without ties (each positive then scores its precision at its rank), is 1 when
    all positives come before all negatives, and is smooth in the soft counts.
    """
    c_all = c_pos + c_neg
    pos_before = torch.cumsum(c_pos, 1) - c_pos
    all_before = torch.cumsum(c_all, 1) - c_all
    precision = (pos_before + (c_pos + 1) / 2) / (all_before + (c_all + 1) / 2)
    n_pos = c_pos.sum(1)
    return (c_pos * precision).sum(1) / n_pos.clamp_min(1e-12)


def _entropy(p: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in nats of each row of p; 0 log 0 = 0 with a finite gradient there."""
    return -(p * p.clamp_min(1e-12).log()).sum(-1)


def distance_mutual_information(c_pos: torch.Tensor, c_neg: torch.Tensor) -> torch.Tensor:
    """I(D; C) in bits per query, float (B,): how much a neighbour's distance D tells about C = +/-.

    I = H(D) - p+ H(D|+) - p- H(D|-), with p(D|+) = c_pos / N+, p(D|-) = c_neg / N-, p(D) the
    pooled histogram and p+ = N+ / N. Always >= 0; it reaches H(C) <= 1 bit exactly when the two
    histograms do not overlap, and is 0 when they have the same shape (or one is empty).
    """
    n_pos, n_neg = c_pos.sum(1), c_neg.sum(1)
    n_all = (n_pos + n_neg).clamp_min(1e-12)
    h_d = _entropy((c_pos + c_neg) / n_all[:, None])
    h_pos = _entropy(c_pos / n_pos.clamp_min(1e-12)[:, None])
    h_neg = _entropy(c_neg / n_neg.clamp_min(1e-12)[:, None])
    return (h_d - n_pos / n_all * h_pos - n_neg / n_all * h_neg) / math.log(2)


class HashAP(ImplicitMethod, method="hashap"):
    """HashAP, hashing as tie-aware ranking (He, Cakir, Bargal, Sclaroff; arXiv:1705.08562).

    Every batch item queries the rest; L = 1 - mean AP_T over the queries with at least one
    positive, AP_T the relaxed tie-aware AP of `tie_aware_ap` computed on triangular-kernel
    histograms of the tanh-relaxed Hamming distances (tanh so they stay in 0..bits). L lies in
    [0, 1] whatever the batch size.
    """

    def histogram_loss(self, c_pos, c_neg):
        has_pos = c_pos.sum(1) > 0.5
        if not has_pos.any():
            return c_pos.sum() * 0
        return 1 - tie_aware_ap(c_pos, c_neg)[has_pos].mean()


class MIHash(ImplicitMethod, method="mihash"):
    """MIHash, hashing with mutual information (Cakir, He, Bargal, Sclaroff; arXiv:1703.08919).

    For each query, I(D; C) = H(D) - p+ H(D|+) - p- H(D|-) between the Hamming distance D to a
    batch item and whether that item is a neighbour (C), from triangular-kernel histograms of
    the tanh-relaxed distances (tanh so they stay in 0..bits). L = -mean I over the queries with
    both positives and negatives (the others carry no information and no gradient). I is
    measured in bits (divided by log 2), so L lies in [-1, 0].

    Departure from the paper: + balance * `bit_balance(u)`. From scratch, MI alone can drive the
    codes into one saturated code (docs/recipes.md): every distance is then 0, MI is 0 and tanh
    passes no gradient back. Batches of 128 give each query
    more positives for its histograms. The histograms keep at least `bins` (16) bins of equal
    width (`histogram_step`): with a bin per distance, 64-bit codes spread each query's dozen
    positives over 65 bins and training stalls (the runs: docs/recipes.md; at 16 bits the two are
    the same loss).
    """

    @property
    def histogram_step(self) -> int:
        """The widest bin (a divisor of bits) that keeps at least `bins` bins."""
        widest = max(1, self.bits // self.hyper["bins"])
        return max(s for s in range(1, widest + 1) if self.bits % s == 0)

    def loss(self, u, labels):
        return super().loss(u, labels) + self.hyper["balance"] * bit_balance(u)

    def histogram_loss(self, c_pos, c_neg):
        mixed = (c_pos.sum(1) > 0.5) & (c_neg.sum(1) > 0.5)
        if not mixed.any():
            return c_pos.sum() * 0
        return -distance_mutual_information(c_pos, c_neg)[mixed].mean()
