"""Pairwise similarity preserving methods (survey family 1): the loss keeps, for each pair of
images, whether they are similar."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hashviz.methods.base import PairwiseMethod, off_diagonal, quantization_gap


class DPSH(PairwiseMethod, method="dpsh"):
    """DPSH, deep pairwise-supervised hashing (Li, Wang, Kang; arXiv:1511.03855).

    L = -sum_ij (s_ij Theta_ij - log(1 + e^Theta_ij)) + eta sum_i ||b_i - u_i||^2,
    Theta_ij = u_i.u_j / 2. Averaged over the batch's pairs (i != j) rather than summed, and
    u is squashed as u = tanh(raw) like the public recipes: unbounded u let Adam push every
    Theta to +/- infinity, which is how the unscaled loss collapses to one code on this data.
    (Pairs against a memory of past outputs, like the paper's U, collapse the codes on this data,
    docs/recipes.md: with nine dissimilar pairs for every similar one and no weighting, codes drift
    apart class-blind.)
    """

    def pair_loss(self, u, s):
        u = torch.tanh(u)
        theta = u @ u.T / 2
        mask = off_diagonal(len(u), u.device)
        likelihood = F.softplus(theta) - s * theta  # log(1 + e^theta) - s theta, stable
        return likelihood[mask].mean() + self.hyper["eta"] * quantization_gap(u) / self.bits


def balance_weights(s: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """HashNet's pair weights (B, B): w_ij = |S| / |S1| on similar pairs, |S| / |S0| on dissimilar
    ones (S: the pairs in mask, S1 / S0: its similar / dissimilar part), so both kinds weigh the
    same in total however rare similar pairs are; 0 outside mask."""
    pairs = mask.sum()
    similar = (s > 0) & mask
    dissimilar = ~(s > 0) & mask
    w = torch.zeros_like(s)
    w[similar] = pairs / similar.sum().clamp(min=1)
    w[dissimilar] = pairs / dissimilar.sum().clamp(min=1)
    return w


class HashNet(PairwiseMethod, method="hashnet"):
    """HashNet, deep learning to hash by continuation (Cao et al.; arXiv:1702.00758).

    L = sum_ij w_ij [log(1 + exp(alpha z_i.z_j)) - alpha s_ij z_i.z_j] / |S|, z = tanh(beta u),
    w_ij from `balance_weights` (similar and dissimilar pairs weigh the same in total). The squash
    is the method itself: continuation raises beta stepwise, beta = sqrt(1 + beta_gamma * stage),
    stage = (epoch - 1) // beta_step (after the (1 + gamma t)^0.5 schedule of HashNet's code), so
    tanh(beta u) tends to sign(u) and the codes need no separate quantization term. alpha = 0.1 follows
    DeepHash-pytorch; alpha * bits sets the logit range, so short codes give soft similarities.
    """

    def __init__(self, bits, num_classes=10, **hyper):
        super().__init__(bits, num_classes, **hyper)
        self.beta = 1.0

    def start_epoch(self, epoch, epochs):
        super().start_epoch(epoch, epochs)
        stage = max(epoch - 1, 0) // max(int(self.hyper["beta_step"]), 1)
        self.beta = (1.0 + self.hyper["beta_gamma"] * stage) ** 0.5

    def pair_loss(self, u, s):
        z = torch.tanh(self.beta * u)
        inner = self.hyper["alpha"] * (z @ z.T)
        mask = off_diagonal(len(u), u.device)
        likelihood = F.softplus(inner) - s * inner  # log(1 + e^x) - s x, stable
        return (balance_weights(s, mask) * likelihood)[mask].mean()


class DSH(PairwiseMethod, method="dsh"):
    """DSH, deep supervised hashing (Liu, Wang, Shan, Chen; Liu et al., CVPR 2016).

    L = 1/2 (1 - y) ||u_1 - u_2||^2 + 1/2 y max(m - ||u_1 - u_2||^2, 0)
        + alpha (|| |u_1| - 1 ||_1 + || |u_2| - 1 ||_1),
    y = 1 for dissimilar pairs, m = 2 bits, averaged over the batch's pairs (i != j). u is not
    squashed, as in the paper: the alpha term is the relaxation that pulls each output to +/-1,
    and the margin bounds how far dissimilar pairs are pushed. At +/-1 codes ||b_1 - b_2||^2 is 4x
    the Hamming distance, so m = 2 bits asks dissimilar codes to differ in half their bits.
    """

    def pair_loss(self, u, s):
        y = 1 - s  # the paper's y: 1 for dissimilar pairs
        margin = 2 * self.bits
        dist = (u[:, None, :] - u[None, :, :]).pow(2).sum(-1)  # ||u_i - u_j||^2, exact at i = j
        reg = (u.abs() - 1).abs().sum(1)
        loss = (0.5 * (1 - y) * dist + 0.5 * y * F.relu(margin - dist)
                + self.hyper["alpha"] * (reg[:, None] + reg[None, :]))
        return loss[off_diagonal(len(u), u.device)].mean()


class DCH(PairwiseMethod, method="dch"):
    """DCH, deep Cauchy hashing (Cao, Long, Liu, Wang; Cao et al., CVPR 2018).

    d_ij = K/2 (1 - cos(u_i, u_j)) (the Hamming distance at +/-1 codes, K = bits);
    L = sum_ij w_ij [s_ij log(d_ij / gamma) + log(1 + gamma / d_ij)] / |S|
        + lambda mean_i log(1 + d(|u_i|, 1) / gamma),
    w_ij from `balance_weights`. The pair term is computed in its equal, stable form
    s log(1 + d/gamma) + (1 - s) log(1 + gamma/d) (no log 0 at d = 0). u is not squashed: the
    cosine ignores scale, and the quantization term pulls |u| towards the all-ones direction.
    """

    def cauchy_distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """K/2 (1 - cos(a_i, b_j)), (len(a), len(b))."""
        return self.bits / 2 * (1 - F.normalize(a, dim=1, eps=1e-8) @ F.normalize(b, dim=1, eps=1e-8).T)

    def pair_loss(self, u, s):
        gamma = self.hyper["gamma"]
        d = self.cauchy_distance(u, u).clamp(min=1e-6)
        mask = off_diagonal(len(u), u.device)
        cauchy = s * torch.log1p(d / gamma) + (1 - s) * torch.log1p(gamma / d)
        pair_term = (balance_weights(s, mask) * cauchy)[mask].mean()
        ones = torch.ones(1, self.bits, device=u.device)
        quantization = torch.log1p(self.cauchy_distance(u.abs(), ones) / gamma).mean()
        return pair_term + self.hyper["lam"] * quantization
