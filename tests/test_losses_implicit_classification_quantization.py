"""Implicit (HashAP, MIHash), classification (GreedyHash, SSDH) and quantization (DPQ, DQN) losses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hashviz.errors import HashvizError
from hashviz.methods import create_method, method_info
from hashviz.methods.base import hadamard_centres, straight_through
from hashviz.methods.classification import binary_signs
from hashviz.methods.implicit import (distance_mutual_information, soft_histogram,
                                      tie_aware_ap)
from hashviz.search.pq import pq_reconstruct
from hashviz.search import PQIndex

BITS = 16


def separated_outputs(labels: torch.Tensor, bits: int = BITS) -> torch.Tensor:
    """u whose tanh is (nearly) one Hadamard centre per class: neighbours at distance 0,
    non-neighbours bits/2 or more away."""
    return 6 * hadamard_centres(bits, int(labels.max()) + 1)[labels]


def four_classes(n_per_class: int = 6) -> torch.Tensor:
    return torch.arange(4).repeat_interleave(n_per_class)


# --- implicit -------------------------------------------------------------------------------

def test_soft_histogram_rows_sum_to_the_items_counted():
    torch.manual_seed(0)
    d = torch.rand(5, 9) * BITS
    mask = (torch.rand(5, 9) > 0.4).float()
    hist = soft_histogram(d, mask, BITS)
    assert hist.shape == (5, BITS + 1)
    assert torch.allclose(hist.sum(1), mask.sum(1), atol=1e-5)


def test_soft_histogram_puts_an_integer_distance_in_one_bin_and_splits_the_rest():
    hist = soft_histogram(torch.tensor([[3.0, 5.25]]), torch.ones(1, 2), BITS)[0]
    assert hist[3] == 1 and hist[5] == pytest.approx(0.75) and hist[6] == pytest.approx(0.25)
    assert hist.sum() == pytest.approx(2)


def test_soft_histogram_with_wider_bins_splits_by_distance_to_the_bin_centres():
    hist = soft_histogram(torch.tensor([[4.0, 5.0, 63.0]]), torch.ones(1, 3), 64, step=4)[0]
    assert hist.shape == (17,)                          # centres 0, 4, ..., 64
    assert hist[1] == pytest.approx(1.75) and hist[2] == pytest.approx(0.25)
    assert hist[16] == pytest.approx(0.75) and hist[15] == pytest.approx(0.25)
    assert hist.sum() == pytest.approx(3)


def test_mihash_bins_keep_histograms_dense_at_any_length():
    steps = {bits: create_method("mihash", bits).histogram_step for bits in (8, 16, 24, 32, 48, 64, 128)}
    assert steps == {8: 1, 16: 1, 24: 1, 32: 2, 48: 3, 64: 4, 128: 8}
    assert create_method("hashap", 64).histogram_step == 1   # HashAP keeps a bin per distance


def test_tie_aware_ap_equals_ordinary_ap_without_ties():
    relevant = [1, 0, 1, 1, 0, 0, 1]  # item at distance d is a positive or a negative
    c_pos = torch.zeros(1, BITS + 1)
    c_neg = torch.zeros(1, BITS + 1)
    for d, r in enumerate(relevant):
        (c_pos if r else c_neg)[0, d] = 1
    hits = np.cumsum(relevant)
    expected = np.mean([hits[i] / (i + 1) for i, r in enumerate(relevant) if r])
    assert float(tie_aware_ap(c_pos, c_neg)[0]) == pytest.approx(expected)


def test_tie_aware_ap_is_one_when_positives_come_first_and_lower_for_a_tie():
    c_pos = torch.zeros(2, BITS + 1)
    c_neg = torch.zeros(2, BITS + 1)
    c_pos[:, 0] = 3
    c_neg[0, 8] = 5  # negatives after every positive
    c_neg[1, 0] = 5  # negatives tied with them
    ap = tie_aware_ap(c_pos, c_neg)
    assert float(ap[0]) == pytest.approx(1.0) and float(ap[1]) < 0.7


@pytest.mark.parametrize("name", ["hashap", "mihash"])
def test_separated_codes_have_lower_loss_than_random_ones(name):
    torch.manual_seed(0)
    method = create_method(name, BITS, num_classes=4)
    labels = four_classes()
    perfect = method.loss(separated_outputs(labels), labels)
    random = method.loss(torch.randn(len(labels), BITS), labels)
    assert float(perfect) < float(random)
    if name == "hashap":
        assert float(perfect) == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize("name", ["hashap", "mihash"])
def test_implicit_gradients_are_finite(name):
    torch.manual_seed(1)
    method = create_method(name, BITS, num_classes=4)
    for u, labels in [(torch.randn(24, BITS), four_classes()),
                      (separated_outputs(four_classes()), four_classes()),
                      (torch.randn(4, BITS), torch.arange(4))]:  # no query has a positive
        u = u.clone().requires_grad_(True)
        method.loss(u, labels).backward()
        assert torch.isfinite(u.grad).all()


def test_mutual_information_is_nonnegative_and_largest_for_separated_histograms():
    torch.manual_seed(2)
    c_pos, c_neg = torch.rand(50, BITS + 1) * 3, torch.rand(50, BITS + 1) * 3
    assert (distance_mutual_information(c_pos, c_neg) >= -1e-6).all()

    pos, neg = torch.zeros(1, BITS + 1), torch.zeros(1, BITS + 1)
    pos[0, :3] = torch.tensor([2.0, 3.0, 1.0])  # 6 positives near the query
    neg[0, 8:12] = 3.0  # 12 negatives far away
    p = 6 / 18
    entropy_of_class = -(p * math.log2(p) + (1 - p) * math.log2(1 - p))
    separated = float(distance_mutual_information(pos, neg)[0])
    assert separated == pytest.approx(entropy_of_class, abs=1e-5)
    overlapping = neg.clone()
    overlapping[0, 1] = 3.0
    assert float(distance_mutual_information(pos, overlapping)[0]) < separated
    same_shape = float(distance_mutual_information(pos, 2 * pos)[0])
    assert same_shape == pytest.approx(0.0, abs=1e-5)


def test_mihash_loss_is_minus_mean_mutual_information_in_bits():
    method = create_method("mihash", BITS, num_classes=2, balance=0.0)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    loss = float(method.loss(separated_outputs(labels), labels))
    p = 2 / 5  # each query sees 2 neighbours among 5 others
    assert loss == pytest.approx(p * math.log2(p) + (1 - p) * math.log2(1 - p), abs=1e-3)


def test_mihash_adds_the_bit_balance_term_against_collapse():
    torch.manual_seed(4)
    u, labels = torch.randn(24, BITS) + 2.0, four_classes()  # biased bits: the balance term bites
    plain = create_method("mihash", BITS, num_classes=4, balance=0.0).loss(u, labels)
    balanced = create_method("mihash", BITS, num_classes=4).loss(u, labels)
    # the balance term written out: the batch mean of tanh(u) per bit, squared, averaged over bits
    v = np.tanh(u.numpy().astype(np.float64))
    by_hand = sum(v[:, b].mean() ** 2 for b in range(BITS)) / BITS
    assert by_hand > 0.3
    assert float(balanced - plain) == pytest.approx(0.1 * by_hand, rel=1e-5)


# --- classification -------------------------------------------------------------------------

def test_straight_through_sign_passes_the_upstream_gradient_unchanged():
    torch.manual_seed(3)
    u = torch.randn(5, BITS, requires_grad=True)
    upstream = torch.randn(5, BITS)
    b = straight_through(binary_signs(u), u)
    assert torch.equal(b.detach(), torch.where(u > 0, 1.0, -1.0))
    (b * upstream).sum().backward()
    assert torch.allclose(u.grad, upstream)


@pytest.mark.parametrize("name", ["greedyhash", "ssdh"])
def test_classifier_lives_in_the_state_dict(name):
    method = create_method(name, BITS, num_classes=7)
    assert method.state_dict()["classifier.weight"].shape == (7, BITS)


@pytest.mark.parametrize("name", ["greedyhash", "ssdh"])
def test_loss_falls_while_fitting_a_toy_batch(name):
    torch.manual_seed(4)
    method = create_method(name, BITS, num_classes=4)
    labels = four_classes(4)
    u = torch.randn(len(labels), BITS, requires_grad=True)
    optimiser = torch.optim.Adam([u, *method.parameters()], lr=0.05)
    first = method.loss(u, labels).item()
    for _ in range(60):
        optimiser.zero_grad()
        method.loss(u, labels).backward()
        optimiser.step()
    assert method.loss(u, labels).item() < first
    codes = binary_signs(u.detach())
    predicted = method.classifier(torch.sigmoid(u) if name == "ssdh" else codes).argmax(1)
    assert torch.equal(predicted, labels)


def test_classification_losses_accept_multi_hot_labels():
    torch.manual_seed(5)
    multi_hot = (torch.rand(8, 5) > 0.6).long()
    for name in ("greedyhash", "ssdh", "dpq", "dqn"):
        method = create_method(name, BITS, num_classes=5)
        u = torch.randn(8, method.output_dim, requires_grad=True)
        method.loss(u, multi_hot).backward()
        assert torch.isfinite(u.grad).all(), name


# --- quantization ---------------------------------------------------------------------------

@pytest.mark.parametrize("bits, K, M", [(32, 256, 4), (16, 256, 2), (64, 256, 8), (32, 16, 8)])
def test_code_bits_is_m_log2_k(bits, K, M):
    method = create_method("dpq", bits, num_classes=3, K=K, d_sub=4)
    assert (method.M, method.code_bits, method.output_dim) == (M, bits, M * 4)
    assert method.extra_config() == {"pq": {"M": M, "K": K, "d_sub": 4, "code_bits": bits,
                                            "normalize": False, "metric": "l2"}}
    assert method.codebooks().shape == (M, K, 4) and method.codebooks().dtype == np.float32


def test_quantization_methods_are_registered_as_pq():
    assert method_info("dpq").code_type == method_info("dqn").code_type == "pq"
    assert create_method("dqn", 32).extra_config()["pq"]["normalize"] is True


@pytest.mark.parametrize("hyper", [{"K": 32}, {"K": 100}, {"K": 512}, {"d_sub": 0},
                                   {"restart_after": -1}])
def test_bad_code_shapes_are_refused(hyper):
    with pytest.raises(HashvizError):
        create_method("dpq", 24, **hyper)  # 24 bits: not a multiple of log2(32) = 5


def test_encode_outputs_gives_uint8_indices():
    method = create_method("dqn", 32, num_classes=3)
    codes = method.encode_outputs(torch.randn(7, method.output_dim))
    assert codes.shape == (7, 4) and codes.dtype == np.uint8


def test_an_output_equal_to_a_codeword_is_coded_as_that_codeword():
    torch.manual_seed(6)
    method = create_method("dpq", 32, num_classes=3, d_sub=8)
    chosen = torch.tensor([[5, 200, 0, 255], [17, 17, 42, 3]])
    with torch.no_grad():
        u = method.codewords[torch.arange(4)[None, :], chosen].flatten(1)
    assert np.array_equal(method.encode_outputs(u), chosen.numpy().astype(np.uint8))
    assert np.allclose(pq_reconstruct(method.encode_outputs(u), method.codebooks()), u.numpy())


def test_straight_through_hard_reconstruction_carries_gradient():
    torch.manual_seed(7)
    method = create_method("dpq", 16, num_classes=3, d_sub=4)
    u = torch.randn(6, method.output_dim, requires_grad=True)
    q = method.quantize(u)
    assert torch.allclose(q.hard.detach(), q.hard_exact.detach(), atol=1e-6)
    (q.hard * torch.randn_like(q.hard)).sum().backward()
    assert u.grad.abs().sum() > 0 and method.codewords.grad.abs().sum() > 0


def test_first_training_step_seeds_codewords_from_the_batch_and_restarts_dead_ones():
    torch.manual_seed(8)
    method = create_method("dqn", 16, num_classes=3, d_sub=4, restart_after=5)
    labels = torch.arange(32) % 3
    u = torch.randn(32, method.output_dim) * 10
    method.loss(u, labels)
    sub_vectors = method.embed(u).reshape(32, 2, 4)
    for m in range(2):
        gaps = torch.cdist(method.codewords[m].detach(), sub_vectors[:, m]).min(1).values
        assert (gaps < 0.1).all()
    unused = method.idle_steps > 0
    assert unused.any() and (method.idle_steps[~unused] == 0).all()
    method.idle_steps[0, 0] = 5
    before = method.codewords[0, 0].detach().clone()
    method.loss(u, labels)
    assert not torch.equal(before, method.codewords[0, 0].detach())


def test_no_restart_outside_training():
    method = create_method("dpq", 16, num_classes=3, d_sub=4)
    before = method.codebooks()
    method.eval()
    method.loss(torch.randn(8, method.output_dim), torch.arange(8) % 3)
    with torch.no_grad():
        method.train()
        method.loss(torch.randn(8, method.output_dim), torch.arange(8) % 3)
    assert np.array_equal(before, method.codebooks())


def test_dpq_parameters_live_in_the_state_dict():
    method = create_method("dpq", 32, num_classes=5)
    state = method.state_dict()
    assert state["codewords"].shape == (4, 256, 16)
    assert state["classifier.weight"].shape == (5, 64) and state["centres"].shape == (5, 64)


@pytest.mark.parametrize("name", ["dpq", "dqn"])
def test_quantization_losses_are_finite_and_reach_every_parameter(name):
    torch.manual_seed(9)
    method = create_method(name, 16, num_classes=3, d_sub=4)
    u = torch.randn(12, method.output_dim, requires_grad=True)
    method.loss(u, torch.arange(12) % 3).backward()
    assert torch.isfinite(u.grad).all()
    for param_name, param in method.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), param_name


@pytest.mark.parametrize("name", ["dpq", "dqn"])
def test_codes_are_the_nearest_codewords_under_the_l2_search_metric(name):
    torch.manual_seed(10)
    method = create_method(name, 32, num_classes=3, d_sub=4)
    u = torch.randn(9, method.output_dim)
    codes, codebooks = method.encode_outputs(u), method.codebooks()
    tables = PQIndex(codes, codebooks, metric="l2").lookup_tables(method.embed_outputs(u))
    assert np.array_equal(tables.argmin(-1), codes)
    assert method.extra_config()["pq"]["metric"] == "l2"


def test_pq_reconstruct_concatenates_the_chosen_codewords():
    codebooks = np.arange(3 * 4 * 2, dtype=np.float32).reshape(3, 4, 2)
    codes = np.array([[0, 3, 1]], dtype=np.uint8)
    expected = np.concatenate([codebooks[0, 0], codebooks[1, 3], codebooks[2, 1]])
    assert np.array_equal(pq_reconstruct(codes, codebooks)[0], expected)
    with pytest.raises(HashvizError):
        pq_reconstruct(codes.astype(np.int64), codebooks)
    with pytest.raises(HashvizError):
        pq_reconstruct(np.array([[0, 4, 1]], dtype=np.uint8), codebooks)
