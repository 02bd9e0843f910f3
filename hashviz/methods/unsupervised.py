"""Deep unsupervised hashing (the survey's unsupervised section): the network is trained from
scratch on the same backbone as the supervised families, but the loss never sees a label. Its
second argument is the network's input (the batch's augmented views, float (views * B, C, H, W)
in [-1, 1]), where the supervised families get the labels; the trainer (DeepHasher.fit) builds
the views (hashviz.augment) and runs the network on all of them at once. Labels still pick the
best epoch on the validation split, as for every method (model selection, not training).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hashviz import randomness
from hashviz.methods.base import DeepHashMethod, off_diagonal, straight_through


class UnsupervisedMethod(DeepHashMethod):
    """Unsupervised: the loss learns from the images (their views) alone."""

    def forward(self, u: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        return self.loss(u, images)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's normalized temperature-scaled cross-entropy of B positive pairs (z1[i], z2[i]).

    With the 2B rows z = [z1; z2] and s_ij = cos(z_i, z_j) / temperature, each row's partner is
    its positive and the other 2B - 2 rows its negatives:
    L = mean_i -log( exp(s_{i,p(i)}) / sum_{j != i} exp(s_ij) ).
    """
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    s = (z @ z.T / temperature).masked_fill(~off_diagonal(len(z), z.device), float("-inf"))
    b = len(z1)
    partner = torch.cat([torch.arange(b, 2 * b), torch.arange(b)]).to(z.device)
    return F.cross_entropy(s, partner)


def bernoulli_kl(p: torch.Tensor, q: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """KL(Bern(p) || Bern(q)) summed over bits, averaged over items: p, q float (B, K) in (0, 1)."""
    kl = p * (torch.log(p + eps) - torch.log(q + eps)) + (1 - p) * (torch.log(1 - p + eps) - torch.log(1 - q + eps))
    return kl.sum(1).mean()


class CIBHash(UnsupervisedMethod, method="cibhash"):
    """CIBHash, contrastive information bottleneck hashing (Qiu, Su, Yang, Chen; IJCAI 2021).

    Two augmented views of each image (its registry row's `views`, hashviz.methods.protocols.MultiView);
    each bit is a Bernoulli variable with p = sigmoid(u) and a view's code z = sign(p - e), e ~ U(0, 1),
    with the straight-through gradient (dz/dp = 1; `stochastic` False uses e = 0.5). L = NT-Xent(z_1, z_2; temperature) + beta (KL(p_1 || p_2)
    + KL(p_2 || p_1)) / 2, the KL against the other view's detached p (the information-bottleneck
    term, as in the authors' code). The code of an image is sign(u) = [p > 0.5].
    """

    def loss(self, u, images):
        p = torch.sigmoid(u)
        stochastic = self.hyper["stochastic"]
        threshold = randomness.uniform(p.shape, self.generator, p.device) if stochastic else torch.full_like(p, 0.5)
        z = straight_through(torch.where(p > threshold, 1.0, -1.0).to(p.dtype), p)
        return self.cib_loss(p, z)

    def cib_loss(self, p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The loss of given probabilities p and codes z, both (2B, K), view 1 in the first B rows."""
        (p1, p2), (z1, z2) = p.chunk(2), z.chunk(2)
        kl = (bernoulli_kl(p1, p2.detach()) + bernoulli_kl(p2, p1.detach())) / 2
        return nt_xent(z1, z2, self.hyper["temperature"]) + self.hyper["beta"] * kl


class BiHalfFunction(torch.autograd.Function):
    """The bi-half layer (Li & van Gemert, AAAI 2021) as an autograd function.

    Forward: per bit (column of u, N rows) the floor(N/2) largest values become +1 and the rest -1
    (ties by row order), so every bit is exactly half-half over the batch: its entropy is maximal.
    Backward: dL/du = dL/db + gamma (u - b) / (N K), the straight-through gradient plus the pull of
    u towards its assigned b (the gradient of the Wasserstein term the layer minimises).
    """

    @staticmethod
    def forward(ctx, u, gamma):
        n = u.shape[0]
        order = torch.sort(u, dim=0, descending=True, stable=True).indices
        halves = torch.where(torch.arange(n, device=u.device) < n // 2, 1.0, -1.0).to(u.dtype)
        b = torch.empty_like(u).scatter_(0, order, halves[:, None].expand_as(u).contiguous())
        ctx.save_for_backward(u, b)
        ctx.gamma = gamma
        return b

    @staticmethod
    def backward(ctx, grad_b):
        u, b = ctx.saved_tensors
        return grad_b + ctx.gamma * (u - b) / u.numel(), None


def bi_half(u: torch.Tensor, gamma: float) -> torch.Tensor:
    """The bi-half codes of a batch u (N, K): {-1, +1} (N, K), see BiHalfFunction."""
    return BiHalfFunction.apply(u, gamma)


class BiHalf(UnsupervisedMethod, method="bihalf"):
    """Bi-half Net, deep unsupervised hashing by maximizing bit entropy (Li, van Gemert; AAAI 2021).

    The bi-half layer (`bi_half`) codes the batch b = bihalf(u); a decoder (bits -> 256 -> 28x28
    logits, a module parameter) must rebuild the image from b: L = BCE(sigmoid(D(b)), x'), summed
    over the pixels and averaged over items, with x' the input in [0, 1] (colour: its grey mean)
    resized to 28x28 — the paper's train-from-scratch setting, an autoencoder through the bi-half
    layer. Summed, not averaged over pixels (the authors' code): averaged, the reconstruction
    gradient is far below the layer's gamma term and the codes learn nothing (docs/recipes.md). One
    view per step (the usual augmentation); the code is sign(u).
    """

    #: the decoder's target side (a fixed size keeps the weights independent of the image shape)
    side = 28

    def __init__(self, bits, num_classes=10, **hyper):
        super().__init__(bits, num_classes, **hyper)
        self.decoder = nn.Sequential(nn.Linear(self.bits, 256), nn.ReLU(inplace=True),
                                     nn.Linear(256, self.side * self.side))

    def loss(self, u, images):
        b = bi_half(u, float(self.hyper["gamma"]))
        target = F.adaptive_avg_pool2d(images.float().mean(1, keepdim=True), self.side).flatten(1)
        bce = F.binary_cross_entropy_with_logits(self.decoder(b), (target + 1) / 2, reduction="none")
        return bce.sum(1).mean()
