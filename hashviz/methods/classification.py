"""Classification-oriented methods (survey family 4): codes are driven towards per-class
targets or must predict the class."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hashviz.methods.base import ClassificationMethod, hadamard_centres, straight_through
from hashviz.methods.registry import register_method


@register_method("csq", family="classification", paper="arXiv:1908.00347")
class CSQ(ClassificationMethod):
    """CSQ, central similarity quantization (Yuan et al.; arXiv:1908.00347).

    Each class gets a hash centre (Hadamard rows, see `hadamard_centres`); with
    v = tanh(u), L = BCE((v + 1)/2, (c_y + 1)/2) + lambda mean (|v| - 1)^2.
    """

    defaults = {"lam": 1e-4}
    recipe = {"lr": 1e-3, "epochs": 46, "batch_size": 64, "weight_decay": 0.5}

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


@register_method("greedyhash", family="classification", paper="NeurIPS 2018")
class GreedyHash(ClassificationMethod):
    """GreedyHash, greedy hash (Su, Zhang, Tian, Gao, Zhou; Su et al., NeurIPS 2018).

    b = sign(u) in the forward pass and the identity in the backward pass (dL/du = dL/db,
    `straight_through`); a linear classifier W (bits -> classes, a module parameter) must read
    the class from b: L = CE(W b, y) + alpha mean | |u| - 1 |^3 (the cubic term, averaged over
    items and bits like the authors' code, pulls u onto +/-1 so the straight-through gradient
    is nearly exact). u is not squashed: sign needs none and the cubic term bounds |u|.
    """

    defaults = {"alpha": 0.1}
    # batch 256 at twice the rate: 0.863 mAP@all at 32 bits on the lean backbone (layout 4), against
    # 0.854 at batch 128 and 0.862 on the old one, in half the steps (docs/recipes.md, issue 20)
    recipe = {"lr": 2e-3, "epochs": 40, "batch_size": 256}

    def __init__(self, bits, num_classes=10, **hyper):
        super().__init__(bits, num_classes, **hyper)
        self.classifier = nn.Linear(self.bits, self.num_classes, bias=False)

    def class_loss(self, u, labels):
        b = straight_through(binary_signs(u), u)
        cubic = (u.abs() - 1).abs().pow(3).mean()
        return label_loss(self.classifier(b), labels) + self.hyper["alpha"] * cubic


@register_method("ssdh", family="classification", paper="arXiv:1507.00101")
class SSDH(ClassificationMethod):
    """SSDH, supervised semantics-preserving deep hashing (Yang, Lin, Chen; arXiv:1507.00101).

    A latent layer h = sigmoid(u) feeds a linear classifier W (bits -> classes, a module
    parameter); code bit k is h_k > 0.5, i.e. sign(u). With K = bits,
    L = CE(W h, y) - alpha mean_n (1/K) ||h_n - 0.5||^2 + beta mean_n (mean_k h_nk - 0.5)^2:
    the second term pushes every h to 0 or 1, the third asks each code to be half ones.
    The sigmoid is the paper's latent layer; it bounds h so the push to 0/1 has an end.
    """

    defaults = {"alpha": 1.0, "beta": 1.0}
    recipe = {"lr": 1e-3, "epochs": 40}

    def __init__(self, bits, num_classes=10, **hyper):
        super().__init__(bits, num_classes, **hyper)
        self.classifier = nn.Linear(self.bits, self.num_classes)

    def class_loss(self, u, labels):
        h = torch.sigmoid(u)
        binarize = -(h - 0.5).pow(2).mean()
        balance = (h.mean(1) - 0.5).pow(2).mean()
        return (label_loss(self.classifier(h), labels)
                + self.hyper["alpha"] * binarize + self.hyper["beta"] * balance)
