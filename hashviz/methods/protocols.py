"""What the trainer, the estimators and the code space may ask of a deep method object, written once.

Every deep method (hashviz.methods.base.DeepHashMethod) is a `DeepMethod`. Its registry facts
(hashviz.methods.registry) say which further protocol it follows: code_type "pq" a
`ProductQuantizer` (hashviz.methods.quantization), views above 1 a `MultiView` (CIBHash). Nothing
checks these at run time; they are the contract a new method meets, and the annotations of the
code that reads it. Torch appears in annotations only, so this module imports without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    import torch


class DeepMethod(Protocol):
    """A loss module on the network's outputs u float (B, output_dim), trained inside a network
    (hashviz.estimators.DeepHasher) and saved with it ("method.*" weights)."""

    method_name: str         # its registry row; the facts below come from there
    code_type: str           # "binary" (packed sign bits) or "pq" (ProductQuantizer)
    views: int               # augmented views of each image per step (MultiView when above 1)
    supervised: bool         # the loss's second argument: the labels (True) or the views' images
    bits: int
    hyper: dict
    generator: torch.Generator | None   # where the loss draws while a run trains (hashviz.randomness)

    @property
    def output_dim(self) -> int:
        """Width of the network output u."""

    def __call__(self, u: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of one step: labels int (B,) / multi-hot (B, C), or images (see MultiView)."""

    def start_epoch(self, epoch: int, epochs: int) -> None:
        """Called before each epoch (continuation schedules hook in here)."""

    def encode_outputs(self, u: torch.Tensor) -> np.ndarray:
        """The stored codes of outputs u: uint8 (n, bits // 8) packed bits, or (n, M) indices (pq)."""

    def extra_config(self) -> dict:
        """What config.json records beyond bits and hyper-parameters ({"pq": ...} for pq)."""

    def search_arrays(self, query_outputs: torch.Tensor) -> dict[str, np.ndarray]:
        """What a model directory stores beside the codes for its queries to search with."""


class ProductQuantizer(DeepMethod, Protocol):
    """A method with code_type "pq": an item's code is M codeword indices uint8 (n, M); a query keeps
    its real vector and ranks the database by the asymmetric `pq_metric` distance to the codewords
    (hashviz.code_space.PQSpace). extra_config()["pq"] records M, K, d_sub, code_bits, normalize and
    metric (config.json's "pq"); search_arrays(u) gives {"query_vectors", "codebooks"}."""

    pq_metric: str           # "l2": training assigns codewords by it, so search ranks by it

    def embed_outputs(self, u: torch.Tensor) -> np.ndarray:
        """Query vectors float32 (n, M * d_sub) of outputs u."""

    def codebooks(self) -> np.ndarray:
        """The codebooks float32 (M, K, d_sub)."""


class MultiView(DeepMethod, Protocol):
    """A method that learns from `views` (2 or more) augmented views of each image per step, made by
    hashviz.augment.batch_augmentation (stronger than a single view's). The trainer runs the network on
    all views of a batch at once: u has views * B rows, view v of item i at row v * B + i, and an
    unsupervised loss gets the views' images float (views * B, C, H, W) in [-1, 1] in the same order.
    A frozen backbone's cached features have no views: such a method fine-tunes instead."""
