"""Multiwise similarity preserving methods (survey family 2): the loss ranks, for each anchor, a
similar image above a dissimilar one (`TripletMethod` builds the batch's triplets)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hashviz.methods.base import TripletMethod


class DTSH(TripletMethod, method="dtsh"):
    """DTSH, deep supervised hashing with triplet labels (Wang, Shi, Kitani; arXiv:1612.03900).

    L = -sum_(q,p,n) [Theta_qp - Theta_qn - alpha - log(1 + e^(Theta_qp - Theta_qn - alpha))]
        + lambda sum_i ||b_i - u_i||^2,  Theta_ij = u_i.u_j / 2,
    i.e. softplus(-(Theta_qp - Theta_qn - alpha)) averaged over the triplets, and the quantization
    term averaged over items and bits. u is squashed, u = tanh(raw), as DPSH here: Theta is then
    bits/2 minus the Hamming distance at +/-1 codes, so alpha is a margin in bits, and unbounded
    outputs cannot satisfy every triplet by growing. alpha = 2 (bits of margin) beat alpha = 5
    on digits at 16 and 64 bits.
    """

    def triplet_loss(self, u, a, p, n):
        u = torch.tanh(u)
        theta = u @ u.T / 2
        x = theta[a, p] - theta[a, n] - self.hyper["alpha"]
        likelihood = F.softplus(-x)  # -(x - log(1 + e^x)), stable
        quantization = (u.sign().detach() - u).pow(2).mean()
        return likelihood.mean() + self.hyper["lam"] * quantization


class TripletMargin(TripletMethod, method="triplet-margin"):
    """Margin triplet ranking on a Hamming-like distance, the core of DRSCH (Zhang et al.,
    bit-scalable deep hashing with regularized similarity learning; arXiv:1508.04535).

    With v = tanh(u) and d(i, j) = (bits - v_i.v_j) / 2 (the Hamming distance at +/-1 codes),
    L = mean_(a,p,n) max(d(a, p) - d(a, n) + margin * bits, 0) + lambda mean (|v| - 1)^2.
    The squash makes d a relaxed Hamming distance bounded by bits, so the margin (a fraction of
    the code length) means the same at every length. DRSCH's bit-scalable weights and its
    Laplacian regulariser are left out.
    """

    def triplet_loss(self, u, a, p, n):
        v = torch.tanh(u)
        dist = (self.bits - v @ v.T) / 2
        ranking = F.relu(dist[a, p] - dist[a, n] + self.hyper["margin"] * self.bits)
        return ranking.mean() + self.hyper["lam"] * (v.abs() - 1).pow(2).mean()
