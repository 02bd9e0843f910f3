"""Shared mechanism of the deep methods: each family base turns a batch's labels into what its
losses need (a similarity matrix, triplets, class centres, codebooks) once; a method then writes
only its loss (after pytorch-metric-learning's GenericPairLoss).

Every deep method is a torch Module taking the network output u (B, output_dim) and integer
labels (B,); whatever parameters the loss owns (a classifier, codebooks) live in the module and
are saved with the network.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hashviz.codes import check_bits, pack_signs
from hashviz.errors import HashvizError
from hashviz.methods.registry import BoundToRow, merge_hyper


class DeepHashMethod(BoundToRow, nn.Module):
    """Base of all deep methods (hashviz.methods.protocols.DeepMethod): hyper-parameters and sign
    encoding. A method's class statement names its registry row, `class DPSH(PairwiseMethod,
    method="dpsh")`, which gives it method_name, code_type, defaults (hyper-parameter defaults;
    unknown keywords are refused), views and supervised (whether the loss gets the labels or, for
    an unsupervised method, the network's input images)."""

    method_name: str
    code_type: str
    defaults: dict
    views: int
    supervised: bool
    #: where the loss draws (hashviz.randomness): the training run's own generator, set while it
    #: trains; None: torch's global generator.
    generator = None

    def __init__(self, bits: int, num_classes: int = 10, **hyper):
        super().__init__()
        self.hyper = merge_hyper(self.defaults, hyper)
        self.bits = check_bits(bits)
        self.num_classes = int(num_classes)
        self.epoch, self.epochs = 0, 1

    @property
    def output_dim(self) -> int:
        """Width of the network output u."""
        return self.bits

    def start_epoch(self, epoch: int, epochs: int) -> None:
        """Called by the trainer before each epoch (continuation schedules hook in here)."""
        self.epoch, self.epochs = epoch, epochs

    def forward(self, u: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.loss(u, labels)

    def loss(self, u: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def encode_outputs(self, u: torch.Tensor) -> np.ndarray:
        """Network outputs -> packed codes uint8 (n, bits // 8); b = sign(u) with sign(0) = -1."""
        return pack_signs(u.detach().cpu().numpy())

    def extra_config(self) -> dict:
        """What config.json should record beyond bits and hyper-parameters."""
        return {}

    def search_arrays(self, query_outputs: torch.Tensor) -> dict[str, np.ndarray]:
        """What a model directory stores beside the codes for its queries to search with: nothing
        here, where a query's code is its search key (pq methods store more)."""
        return {}


def similarity_matrix(labels: torch.Tensor) -> torch.Tensor:
    """s_ij = 1 if items i and j share a label (multi-hot: at least one), else 0; float (B, B)."""
    if labels.dim() == 2:
        return (labels.float() @ labels.float().T > 0).float()
    return (labels[:, None] == labels[None, :]).float()


def quantization_gap(u: torch.Tensor) -> torch.Tensor:
    """Mean over items of ||sign(u) - u||^2 (the usual quantization penalty)."""
    return (u.sign().detach() - u).pow(2).sum(1).mean()


def straight_through(forward: torch.Tensor, backward: torch.Tensor) -> torch.Tensor:
    """The value of `forward` with the gradient of `backward` (the straight-through estimator).

    `straight_through(signs, u)` is sign in the forward pass and identity in the backward pass.
    """
    return backward + (forward - backward).detach()


class PairwiseMethod(DeepHashMethod):
    """Pairwise similarity preserving: the batch's similarity matrix is built once per step."""

    def loss(self, u, labels):
        return self.pair_loss(u, similarity_matrix(labels))

    def pair_loss(self, u: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def off_diagonal(n: int, device=None) -> torch.Tensor:
    return ~torch.eye(n, dtype=torch.bool, device=device)


def batch_triplets(labels: torch.Tensor, max_triplets: int, generator: torch.Generator | None = None):
    """(anchor, positive, negative) index tensors, int64 (T,), of the batch's valid triplets.

    Valid: a != p, s_ap = 1, s_an = 0 (`similarity_matrix`). All of them when there are at most
    max_triplets, else max_triplets drawn uniformly (with replacement) from all of them with
    `generator`. Memory is O(B^2 + T): the triplets of each positive pair are counted, never
    materialised as a (B, B, B) mask.
    """
    s = similarity_matrix(labels) > 0
    positive = s & off_diagonal(len(s), s.device)
    negative = ~s
    pair_a, pair_p = positive.nonzero(as_tuple=True)
    counts = negative.sum(1)[pair_a]  # triplets per positive pair
    ends = counts.cumsum(0)
    total = int(ends[-1]) if len(ends) else 0
    if total <= max_triplets:
        t = torch.arange(total, device=s.device)
    else:
        t = torch.randint(total, (max_triplets,), generator=generator).to(s.device)
    pair = torch.searchsorted(ends, t, right=True)
    offset = t - (ends - counts)[pair]
    negatives_first = torch.argsort((~negative).to(torch.int8), dim=1, stable=True)
    a = pair_a[pair]
    return a, pair_p[pair], negatives_first[a, offset]


class TripletMethod(DeepHashMethod):
    """Multiwise (triplet) similarity preserving: the batch's triplets are built once per step.

    A batch without a valid triplet (one class only, or no two items alike) gives a zero loss.
    The sampling generator is seeded from the run's generator on first use, so a run of the same
    seed samples the same triplets again.
    """

    def __init__(self, bits: int, num_classes: int = 10, **hyper):
        super().__init__(bits, num_classes, **hyper)
        cap = self.hyper["max_triplets"]
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise HashvizError(f"max_triplets must be a positive integer, got {cap!r}")
        self._generator: torch.Generator | None = None

    def loss(self, u, labels):
        if self._generator is None:
            self._generator = torch.Generator().manual_seed(int(torch.randint(2 ** 62, (1,), generator=self.generator)))
        a, p, n = batch_triplets(labels, self.hyper["max_triplets"], self._generator)
        if len(a) == 0:
            return u.sum() * 0
        return self.triplet_loss(u, a, p, n)

    def triplet_loss(self, u: torch.Tensor, a: torch.Tensor, p: torch.Tensor,
                     n: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class ClassificationMethod(DeepHashMethod):
    """Classification-oriented: a method learns codes that predict (or sit at) class targets."""

    def loss(self, u, labels):
        return self.class_loss(u, labels)

    def class_loss(self, u: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def sylvester_hadamard(size: int) -> torch.Tensor:
    """The Sylvester Hadamard matrix of a power-of-two size: {-1,+1} float (size, size), H H^T =
    size I, first row all ones."""
    h = torch.ones(1, 1)
    while h.shape[0] < size:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h


def orthogonal_targets(bits: int, num_classes: int, seed: int = 0) -> torch.Tensor:
    """OrthoHash's class target codes, {-1,+1} float (num_classes, bits).

    Rows 1..C of the Sylvester Hadamard matrix when bits is a power of two above the number of
    classes: mutually orthogonal (o_i . o_j = 0) and balanced (the all-ones row 0 is left out).
    Otherwise each bit is a seeded Bernoulli(0.5) draw, as the paper does: at large bits random
    codes are nearly orthogonal (o_i . o_j / bits has mean 0 and standard deviation 1/sqrt(bits)).
    """
    if is_power_of_two(bits) and num_classes < bits:
        return sylvester_hadamard(bits)[1:num_classes + 1].clone()
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (num_classes, bits), generator=generator).float() * 2 - 1


def hadamard_centres(bits: int, num_classes: int, seed: int = 0) -> torch.Tensor:
    """CSQ's hash centres, {-1,+1} float (num_classes, bits).

    Rows of a Sylvester Hadamard matrix and their negations, leaving out the all-ones row (and
    its negation) so every centre is balanced; any two centres are then bits/2 (or bits) apart.
    When 2*(bits-1) < num_classes, random balanced centres are drawn instead, keeping the set
    with the largest minimum distance of 200 seeded tries.
    """
    if torch.empty(0).is_meta:   # shapes only (encoders.expected_weight_shapes): nothing to search
        return torch.empty(num_classes, bits)
    if is_power_of_two(bits) and 2 * (bits - 1) >= num_classes:
        h = sylvester_hadamard(bits)
        rows = torch.cat([h[1:], -h[1:]], 0)
        return rows[:num_classes].clone()
    rng = np.random.default_rng(seed)
    best, best_gap = None, -1
    for _ in range(200):
        c = np.stack([rng.permutation(np.repeat([1.0, -1.0], bits // 2)) for _ in range(num_classes)])
        gap = (bits - c @ c.T)[~np.eye(num_classes, dtype=bool)].min() / 2
        if gap > best_gap:
            best, best_gap = c, gap
    return torch.tensor(best, dtype=torch.float32)
