"""Pairwise similarity preserving methods (survey family 1): the loss keeps, for each pair of
images, whether they are similar."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hashviz.methods.base import PairwiseMethod, off_diagonal, quantization_gap
from hashviz.methods.registry import register_method


@register_method("dpsh", family="pairwise", paper="arXiv:1511.03855")
class DPSH(PairwiseMethod):
    """DPSH, deep pairwise-supervised hashing (Li, Wang, Kang; arXiv:1511.03855).

    L = -sum_ij (s_ij Theta_ij - log(1 + e^Theta_ij)) + eta sum_i ||b_i - u_i||^2,
    Theta_ij = u_i.u_j / 2. Averaged over the batch's pairs (i != j) rather than summed, and
    u is squashed as u = tanh(raw) like the public recipes: unbounded u let Adam push every
    Theta to +/- infinity, which is how the unscaled loss collapses to one code on this data.
    """

    defaults = {"eta": 0.1}
    recipe = {"lr": 1e-3, "epochs": 15}

    def pair_loss(self, u, s):
        u = torch.tanh(u)
        theta = u @ u.T / 2
        mask = off_diagonal(len(u), u.device)
        likelihood = F.softplus(theta) - s * theta  # log(1 + e^theta) - s theta, stable
        return likelihood[mask].mean() + self.hyper["eta"] * quantization_gap(u) / self.bits
