"""Quantization methods (survey family 5): the network output is cut into M sub-vectors and
each is replaced by the nearest of K learned codewords, so an image's code is M codeword
indices: uint8 (n, M), with codebooks float32 (M, K, d_sub) (code_type "pq"; the protocol these
methods follow is hashviz.methods.protocols.ProductQuantizer).

Search is asymmetric (ADC, Jegou et al.): the query keeps its real embedding
(`QuantizationMethod.embed_outputs`), the database keeps only its indices, and the distance
is the squared L2 distance to the reconstruction (`pq_reconstruct`), sum_m ||q_m - C_m[i_m]||^2,
read from an (M, K) table per query: `hashviz.search.PQIndex(codes, codebooks, metric="l2")`.
Training assigns codewords by the same squared L2 distance, so that ranking (ascending, ties by
database index) is the one the methods learned for; config.json's pq.metric records it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hashviz import randomness
from hashviz.errors import HashvizError
from hashviz.methods.base import DeepHashMethod, off_diagonal, similarity_matrix, straight_through
from hashviz.methods.classification import label_loss
from hashviz.search.pq import pq_reconstruct


@dataclass
class Quantized:
    """One batch quantized: z float (B, M*d_sub) the embedding; soft = sum_k p_mk C_mk and
    hard_exact = C_m[index] (both (B, M*d_sub)); hard has hard_exact's value and soft's gradient;
    index int64 (B, M); probs float (B, M, K) the soft assignment."""

    z: torch.Tensor
    soft: torch.Tensor
    hard: torch.Tensor
    hard_exact: torch.Tensor
    index: torch.Tensor
    probs: torch.Tensor


class QuantizationMethod(DeepHashMethod):
    """Quantization: M codebooks of K codewords (module parameters) quantize the embedding.

    `bits` is the code length M * log2(K), so M = bits / log2(K) (K = 256: one byte per
    sub-code, bits 32 -> M = 4); the network outputs M * d_sub values. Codewords are small
    normal draws (torch's global seed) until the first training step copies random sub-vectors
    of that batch into them (so they start at the scale of the data), and are then learned by
    gradient. A codeword no item picked for `restart_after` training steps is dead (no hard
    gradient reaches it); it restarts on a random sub-vector of the current batch (VQ
    "codebook restart"); restart_after = 0 turns both the seeding and the restarts off.

    The base quantizes each batch once (`quantize`); a method writes `pq_loss(q, labels)`.
    """

    #: whether the embedding is u / ||u|| (search queries must be embedded the same way).
    normalize = False
    #: the distance training assigns codewords by and search ranks by (hashviz.methods.protocols)
    pq_metric = "l2"

    def __init__(self, bits, num_classes=10, **hyper):
        super().__init__(bits, num_classes, **hyper)
        n_words, d_sub = self.hyper["K"], self.hyper["d_sub"]
        if (isinstance(n_words, bool) or not isinstance(n_words, int)
                or not 2 <= n_words <= 256 or n_words & (n_words - 1)):
            raise HashvizError(
                f"K must be a power of two from 2 to 256 (a codeword index fits one byte), "
                f"got {n_words!r}")
        if isinstance(d_sub, bool) or not isinstance(d_sub, int) or d_sub < 1:
            raise HashvizError(f"d_sub must be a positive integer, got {d_sub!r}")
        restart = self.hyper["restart_after"]
        if isinstance(restart, bool) or not isinstance(restart, int) or restart < 0:
            raise HashvizError(
                f"restart_after must be a whole number of steps >= 0, got {restart!r}")
        index_bits = n_words.bit_length() - 1
        if self.bits % index_bits:
            raise HashvizError(
                f"{self.bits} bits cannot be cut into sub-codes of log2(K) = {index_bits} bits "
                f"(K = {n_words}); choose bits as a multiple of {index_bits} or another K")
        self.M, self.K, self.d_sub = self.bits // index_bits, n_words, d_sub
        self.codewords = nn.Parameter(0.1 * torch.randn(self.M, self.K, self.d_sub))
        # Every codeword starts "dead", so the first training batch seeds the codebooks.
        self.register_buffer("idle_steps", torch.full((self.M, self.K), restart))

    @property
    def output_dim(self) -> int:
        return self.M * self.d_sub

    @property
    def code_bits(self) -> int:
        """Storage per item: M * log2(K) bits."""
        return self.M * (self.K.bit_length() - 1)

    def extra_config(self) -> dict:
        """pq: the code shape, whether queries are u / ||u||, and the search metric (squared L2)."""
        return {"pq": {"M": self.M, "K": self.K, "d_sub": self.d_sub, "code_bits": self.code_bits,
                       "normalize": self.normalize, "metric": self.pq_metric}}

    def embed(self, u: torch.Tensor) -> torch.Tensor:
        """Network output -> the embedding that is quantized (and that queries search with)."""
        return F.normalize(u, dim=1) if self.normalize else u

    def sub_distances(self, z: torch.Tensor) -> torch.Tensor:
        """||z_m - C_mk||^2 for every item, sub-space and codeword: float (B, M, K)."""
        zs = z.reshape(len(z), self.M, self.d_sub)
        cross = torch.einsum("bmd,mkd->bmk", zs, self.codewords)
        return zs.pow(2).sum(-1, keepdim=True) - 2 * cross + self.codewords.pow(2).sum(-1)[None]

    def quantize(self, z: torch.Tensor, temperature: float = 1.0) -> Quantized:
        """Soft (softmax of -distance / temperature) and hard (nearest codeword) assignments."""
        dist = self.sub_distances(z)
        probs = torch.softmax(-dist / temperature, -1)
        index = dist.argmin(-1)
        soft = torch.einsum("bmk,mkd->bmd", probs, self.codewords).flatten(1)
        books = torch.arange(self.M, device=z.device)
        hard_exact = self.codewords[books[None, :], index].flatten(1)
        return Quantized(z, soft, straight_through(hard_exact, soft), hard_exact, index, probs)

    def loss(self, u, labels):
        z = self.embed(u)
        training = self.training and torch.is_grad_enabled()
        if training:
            self._restart_dead_codewords(z)
        q = self.quantize(z, self.hyper.get("temperature", 1.0))
        if training:
            self._count_usage(q.index)
        return self.pq_loss(q, labels)

    def pq_loss(self, q: Quantized, labels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def _count_usage(self, index: torch.Tensor) -> None:
        used = torch.zeros_like(self.idle_steps, dtype=torch.bool)
        used[torch.arange(self.M, device=index.device)[None, :].expand_as(index), index] = True
        self.idle_steps.add_(1).masked_fill_(used, 0)

    @torch.no_grad()
    def _restart_dead_codewords(self, z: torch.Tensor) -> None:
        limit = self.hyper["restart_after"]
        if not limit:
            return
        dead = self.idle_steps >= limit
        if not dead.any():
            return
        zs = z.detach().reshape(len(z), self.M, self.d_sub).to(self.codewords.dtype)
        books, words = dead.nonzero(as_tuple=True)
        picks = randomness.integers(len(z), (len(books),), self.generator, z.device)
        fresh = zs[picks, books]
        self.codewords[books, words] = fresh + 0.01 * randomness.normal(fresh.shape, self.generator, fresh.device)
        self.idle_steps.masked_fill_(dead, 0)

    @torch.no_grad()
    def encode_outputs(self, u: torch.Tensor) -> np.ndarray:
        """Network outputs -> pq codes uint8 (n, M), the nearest codeword of each sub-vector."""
        z = self.embed(u.to(self.codewords.device, self.codewords.dtype))
        chunks = [self.sub_distances(part).argmin(-1) for part in z.split(4096)]  # (B, M, K) each
        return torch.cat(chunks).to(torch.uint8).cpu().numpy().reshape(len(u), self.M)

    @torch.no_grad()
    def embed_outputs(self, u: torch.Tensor) -> np.ndarray:
        """Network outputs -> float32 (n, M * d_sub) query vectors for ADC search."""
        return self.embed(u.float()).cpu().numpy().astype(np.float32)

    def codebooks(self) -> np.ndarray:
        """The learned codebooks, float32 (M, K, d_sub)."""
        return self.codewords.detach().cpu().numpy().astype(np.float32)

    def search_arrays(self, query_outputs: torch.Tensor) -> dict[str, np.ndarray]:
        """A pq model's queries search with vectors against the codebooks: both are stored."""
        return {"query_vectors": self.embed_outputs(query_outputs), "codebooks": self.codebooks()}


def _class_targets(labels: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Row y of table per item; for multi-hot labels the mean of the rows of its labels."""
    if labels.dim() == 2:
        weights = labels.float()
        return weights @ table / weights.sum(1, keepdim=True).clamp_min(1)
    return table[labels]


class DPQ(QuantizationMethod, method="dpq"):
    """DPQ, end-to-end supervised product quantization (Klein & Wolf; arXiv:1711.08589).

    soft s_m = sum_k softmax_k(-||z_m - C_mk||^2 / T) C_mk, hard h_m = C_m[argmin_k] with the
    gradient of s (straight-through). A linear classifier W (a module parameter) must classify
    both: L = CE(W s) + CE(W h) + lam_centre (||s - c_y||^2 + ||h - c_y||^2) / 2 (the joint
    central loss, class centres c learned) + lam_quant ||s - h||^2 (on the exact h, so it pulls
    the soft assignment onto the hard one) + lam_gini (gini_item - gini_batch) (confident
    assignments per item, all codewords used across the batch). Squared norms are summed over
    dimensions and averaged over the batch. u is not squashed: the codebooks live in the same
    unbounded space and the centre and quantization terms keep its scale.
    """

    def __init__(self, bits, num_classes=10, **hyper):
        super().__init__(bits, num_classes, **hyper)
        self.classifier = nn.Linear(self.output_dim, self.num_classes)
        self.centres = nn.Parameter(torch.zeros(self.num_classes, self.output_dim))

    def pq_loss(self, q, labels):
        h = self.hyper
        classify = (label_loss(self.classifier(q.soft), labels)
                    + label_loss(self.classifier(q.hard), labels))
        c = _class_targets(labels, self.centres)
        centre = ((q.soft - c).pow(2).sum(1) + (q.hard - c).pow(2).sum(1)).mean() / 2
        quant = (q.soft - q.hard_exact).pow(2).sum(1).mean()
        gini_item = (1 - q.probs.pow(2).sum(-1)).mean()
        gini_batch = (1 - q.probs.mean(0).pow(2).sum(-1)).mean()
        return (classify + h["lam_centre"] * centre + h["lam_quant"] * quant
                + h["lam_gini"] * (gini_item - gini_batch))


class DQN(QuantizationMethod, method="dqn"):
    """DQN, deep quantization network (Cao, Long, Wang, Zhu, Wen; Cao et al., AAAI 2016).

    z = u / ||u||; L = mean_{i != j} (s_ij - z_i.z_j)^2 + lam mean_i ||z_i - C h_i||^2: a
    pairwise cosine loss (z_i.z_j is the cosine once z is unit length) plus the product
    quantization error of the hard reconstruction, whose gradient moves z and the chosen
    codewords (an online k-means step in place of the paper's alternating codebook update).
    s_ij = 1 for neighbours and `neg_target` (0: orthogonal) otherwise; -1 asks all
    non-neighbours to point away from each other, which more than two classes cannot do.
    Normalising z keeps the scale-free cosine term from letting the quantization term win by
    shrinking z to 0, and makes ADC's L2 ranking a cosine ranking.
    """

    normalize = True

    def pq_loss(self, q, labels):
        s = similarity_matrix(labels)
        target = s + (1 - s) * self.hyper["neg_target"]
        cosine = q.z @ q.z.T
        pairs = ((target - cosine).pow(2))[off_diagonal(len(q.z), q.z.device)].mean()
        quant = (q.z - q.hard_exact).pow(2).sum(1).mean()
        return pairs + self.hyper["lam"] * quant
