"""Classification-oriented methods (survey family 4): codes are driven towards per-class
targets or must predict the class."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hashviz.codes import pack_signs
from hashviz.errors import HashvizError
from hashviz.methods.base import ClassificationMethod, hadamard_centres, orthogonal_targets, straight_through


class CSQ(ClassificationMethod, method="csq"):
    """CSQ, central similarity quantization (Yuan et al.; arXiv:1908.00347).

    Each class gets a hash centre (Hadamard rows, see `hadamard_centres`); with
    v = tanh(u), L = BCE((v + 1)/2, (c_y + 1)/2) + lambda mean (|v| - 1)^2.
    """

    def __init__(self, bits, num_classes=10, **hyper):
        super().__init__(bits, num_classes, **hyper)
        self.register_buffer("centres", hadamard_centres(bits, num_classes))

    def class_loss(self, u, labels):
        v = torch.tanh(u)
        if labels.dim() == 2:  # multi-label: the centre is the sign of the mean of its labels' centres
            target = torch.sign(labels.float() @ self.centres + 1e-6)
        else:
            target = self.centres[labels]
        centre_loss = F.binary_cross_entropy((v + 1) / 2, (target + 1) / 2)
        return centre_loss + self.hyper["lam"] * (v.abs() - 1).pow(2).mean()


def label_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of class logits (B, C) against int64 labels (B,), or mean binary
    cross-entropy against multi-hot labels (B, C)."""
    if labels.dim() == 2:
        return F.binary_cross_entropy_with_logits(logits, labels.float())
    return F.cross_entropy(logits, labels)


def binary_signs(u: torch.Tensor) -> torch.Tensor:
    """b = sign(u) in {-1, +1} with sign(0) = -1, as `pack_signs` encodes it."""
    return torch.where(u > 0, 1.0, -1.0).to(u.dtype)


class GreedyHash(ClassificationMethod, method="greedyhash"):
    """GreedyHash, greedy hash (Su, Zhang, Tian, Gao, Zhou; Su et al., NeurIPS 2018).

    b = sign(u) in the forward pass and the identity in the backward pass (dL/du = dL/db,
    `straight_through`); a linear classifier W (bits -> classes, a module parameter) must read
    the class from b: L = CE(W b, y) + alpha mean | |u| - 1 |^3 (the cubic term, averaged over
    items and bits like the authors' code, pulls u onto +/-1 so the straight-through gradient
    is nearly exact). u is not squashed: sign needs none and the cubic term bounds |u|.
    """

    def __init__(self, bits, num_classes=10, **hyper):
        super().__init__(bits, num_classes, **hyper)
        self.classifier = nn.Linear(self.bits, self.num_classes, bias=False)

    def class_loss(self, u, labels):
        b = straight_through(binary_signs(u), u)
        cubic = (u.abs() - 1).abs().pow(3).mean()
        return label_loss(self.classifier(b), labels) + self.hyper["alpha"] * cubic


class SSDH(ClassificationMethod, method="ssdh"):
    """SSDH, supervised semantics-preserving deep hashing (Yang, Lin, Chen; arXiv:1507.00101).

    A latent layer h = sigmoid(u) feeds a linear classifier W (bits -> classes, a module
    parameter); code bit k is h_k > 0.5, i.e. sign(u). With K = bits,
    L = CE(W h, y) - alpha mean_n (1/K) ||h_n - 0.5||^2 + beta mean_n (mean_k h_nk - 0.5)^2:
    the second term pushes every h to 0 or 1, the third asks each code to be half ones.
    The sigmoid is the paper's latent layer; it bounds h so the push to 0/1 has an end.
    """

    def __init__(self, bits, num_classes=10, **hyper):
        super().__init__(bits, num_classes, **hyper)
        self.classifier = nn.Linear(self.bits, self.num_classes)

    def class_loss(self, u, labels):
        h = torch.sigmoid(u)
        binarize = -(h - 0.5).pow(2).mean()
        balance = (h.mean(1) - 0.5).pow(2).mean()
        return (label_loss(self.classifier(h), labels)
                + self.hyper["alpha"] * binarize + self.hyper["beta"] * balance)


class OrthoHash(ClassificationMethod, method="orthohash"):
    """OrthoHash, one cosine loss for all (Hoe, Ng, Zhang, Chan, Song, Xiang; NeurIPS 2021, arXiv:2109.14449).

    Class c has a fixed target code o_c in {-1,+1}^K (`orthogonal_targets`: orthogonal Hadamard
    rows, or Bernoulli(0.5) draws when the classes do not fit). v = BN(u), a batch normalisation
    that centres every bit (the paper's bit balance, no loss term); the code is sign(v). With
    cos_c = cos(v, o_c), logits z_c = s (cos_c - m [c = y]) and
    L = CE(z, y) + q mean_n (1 - cos(v_n, sign(v_n))). Multi-label: the paper's label smoothing,
    CE against y / sum(y) with the margin on every label of the item. q = 0 is the paper's single
    loss (pulling v towards a {-1,+1} target already shrinks its quantization gap); q > 0 adds the
    cosine quantization term of the authors' code (kamwoh/orthohash, off by default there too).
    """

    def __init__(self, bits, num_classes=10, **hyper):
        super().__init__(bits, num_classes, **hyper)
        self.register_buffer("targets", orthogonal_targets(bits, num_classes))
        self.balance = nn.BatchNorm1d(self.bits)

    def balanced(self, u: torch.Tensor) -> torch.Tensor:
        """v = BN(u): batch statistics in a training step of two or more items, else the running ones."""
        bn = self.balance
        batch_stats = bn.training and len(u) > 1
        return F.batch_norm(u, bn.running_mean, bn.running_var, bn.weight, bn.bias, training=batch_stats,
                            momentum=bn.momentum, eps=bn.eps)

    def class_loss(self, u, labels):
        v = self.balanced(u)
        cosines = F.normalize(v, dim=1) @ F.normalize(self.targets, dim=1).T
        onehot = labels.float() if labels.dim() == 2 else F.one_hot(labels, self.num_classes).float()
        logits = self.hyper["scale"] * (cosines - self.hyper["margin"] * onehot)
        smoothed = onehot / onehot.sum(1, keepdim=True).clamp_min(1)
        loss = -(smoothed * F.log_softmax(logits, dim=1)).sum(1).mean()
        if self.hyper["quantization"]:
            gap = 1 - F.cosine_similarity(v, binary_signs(v).detach(), dim=1)
            loss = loss + self.hyper["quantization"] * gap.mean()
        return loss

    @torch.no_grad()
    def encode_outputs(self, u):
        """b = sign(BN(u)) with BN's running statistics (sign(0) = -1)."""
        was_training = self.balance.training
        self.balance.eval()
        try:
            return pack_signs(self.balanced(u.float()).float().cpu().numpy())
        finally:
            self.balance.train(was_training)


class ClassifierCode(ClassificationMethod, method="classifier-code"):
    """Calibration row: a plain classifier whose predicted class's codeword is the code
    (Sablayrolles, Douze, Usunier, Jegou; arXiv:1609.06753).

    Not a hashing method: the network outputs class logits z (one per class) trained with
    L = CE(z, y); an image's code is the CSQ centre (`hadamard_centres`) of argmax_c z_c, so every
    image predicted in one class gets the same code and two classes' codes are bits/2 (or bits)
    apart. Single-label data only.
    """

    def __init__(self, bits, num_classes=10, **hyper):
        super().__init__(bits, num_classes, **hyper)
        self.register_buffer("centres", hadamard_centres(bits, num_classes))

    @property
    def output_dim(self) -> int:
        return self.num_classes

    def class_loss(self, u, labels):
        if labels.dim() == 2:
            raise HashvizError("classifier-code calibrates single-label data (one predicted class, one "
                               "codeword); this dataset is multi-label")
        return F.cross_entropy(u, labels)

    @torch.no_grad()
    def encode_outputs(self, u):
        """The packed codeword of each row's highest logit (the first such class on a tie)."""
        return pack_signs(self.centres[u.argmax(1)].cpu().numpy())
