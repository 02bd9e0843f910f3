"""Classification-oriented methods (survey family 4): codes are driven towards per-class
targets or must predict the class."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hashviz.methods.base import ClassificationMethod, hadamard_centres
from hashviz.methods.registry import register_method


@register_method("csq", family="classification", paper="arXiv:1908.00347")
class CSQ(ClassificationMethod):
    """CSQ, central similarity quantization (Yuan et al.; arXiv:1908.00347).

    Each class gets a hash centre (Hadamard rows, see `hadamard_centres`); with
    v = tanh(u), L = BCE((v + 1)/2, (c_y + 1)/2) + lambda mean (|v| - 1)^2.
    """

    defaults = {"lam": 1e-4}
    recipe = {"lr": 1e-3, "epochs": 15}

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
