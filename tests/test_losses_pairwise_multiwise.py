"""Pairwise and multiwise losses, triplet building and the code regularisers, pinned on tiny
hand-checked tensors."""

from __future__ import annotations

import math

import pytest
import torch

from hashviz.errors import HashvizError
from hashviz.methods import create_method, list_methods, method_info
from hashviz.methods.base import DeepHashMethod, batch_triplets, similarity_matrix
from hashviz.methods.pairwise import DCH, DSH, HashNet, balance_weights
from hashviz.methods.regularizers import REGULARIZERS, parse_reg, regularization
from hashviz.methods.shallow import ShallowHasher

NEW_DEEP = ("hashnet", "dsh", "dch", "dtsh", "triplet-margin")
CODE = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, -1.0])


def _pair(first, second):
    return torch.stack([first, second])


# ---------------------------------------------------------------- registry


def test_every_registered_name_is_unique_and_points_at_its_class():
    infos = list_methods()
    assert len({i.name for i in infos}) == len(infos)
    assert set(NEW_DEEP) <= {i.name for i in infos}
    for info in infos:
        if info.kind == "ensemble":        # built by its estimator from member methods
            assert info.implementation is None and info.constructor is None
            continue
        base = DeepHashMethod if info.kind == "deep" else ShallowHasher
        assert issubclass(info.constructor, base) and info.constructor.method_name == info.name, info.name


def test_every_deep_method_summary_and_docstring_cite_its_paper():
    for info in list_methods():
        if info.deep:
            assert info.paper in info.summary, info.name
            assert info.constructor is None or info.paper in (info.constructor.__doc__ or ""), info.name


@pytest.mark.parametrize("name", NEW_DEEP)
def test_recipe_and_defaults_build_through_the_registry(name):
    method = create_method(name, 16, num_classes=3)
    assert set(method_info(name).recipe) >= {"lr", "epochs"}
    assert method.hyper == method_info(name).defaults
    with pytest.raises(HashvizError, match="bad hyper-parameters"):
        create_method(name, 16, not_a_knob=1.0)


@pytest.mark.parametrize("name", NEW_DEEP)
def test_losses_have_finite_gradients(name):
    torch.manual_seed(0)
    method = create_method(name, 16, num_classes=4)
    method.start_epoch(5, 10)
    u = (torch.randn(32, 16) * 3).requires_grad_()
    u.data[1] = u.data[0]  # a duplicated output (distance 0) must not give NaN
    labels = torch.arange(32) % 4
    loss = method(u, labels)
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert torch.isfinite(u.grad).all() and u.grad.abs().sum() > 0


@pytest.mark.parametrize("name", NEW_DEEP)
def test_loss_scale_does_not_grow_with_the_batch(name):
    torch.manual_seed(0)
    method = create_method(name, 16)
    u = torch.randn(16, 16)
    labels = torch.arange(16) % 4
    small = method(u, labels)
    large = method(u.repeat(4, 1), labels.repeat(4))
    assert large.item() < 1.5 * small.item() + 1e-6


@pytest.mark.parametrize("name", NEW_DEEP)
def test_identical_similar_codes_cost_less_than_identical_dissimilar_ones(name):
    method = create_method(name, 8)
    u = torch.stack([CODE, CODE, -CODE, -CODE]) * 2
    together = method(u, torch.tensor([0, 0, 1, 1]))  # similar items share codes
    crossed = method(u, torch.tensor([0, 1, 0, 1]))  # similar items have opposite codes
    assert together < crossed


# ---------------------------------------------------------------- HashNet


def test_hashnet_weights_balance_similar_and_dissimilar_pairs():
    labels = torch.tensor([0, 0, 1, 2, 3, 4])
    s = similarity_matrix(labels)
    mask = ~torch.eye(6, dtype=torch.bool)
    w = balance_weights(s, mask)
    similar, dissimilar = (s > 0) & mask, (s == 0) & mask
    assert similar.sum() == 2 and dissimilar.sum() == 28
    assert torch.allclose(w[similar], torch.tensor(30 / 2))
    assert torch.allclose(w[dissimilar], torch.tensor(30 / 28))
    assert torch.isclose(w[similar].sum(), w[dissimilar].sum())
    assert (w[~mask] == 0).all()


def test_hashnet_continuation_raises_beta_stepwise():
    method = HashNet(bits=8, beta_step=2, beta_gamma=2.0)
    betas = []
    for epoch in range(1, 8):
        method.start_epoch(epoch, 7)
        betas.append(method.beta)
    assert betas[:2] == [1.0, 1.0]
    assert betas[2] == pytest.approx(math.sqrt(3)) and betas[-1] == pytest.approx(math.sqrt(7))
    assert all(b2 >= b1 for b1, b2 in zip(betas, betas[1:]))


def test_hashnet_matches_the_equation_on_one_pair():
    method = HashNet(bits=8, alpha=0.5)
    u = _pair(CODE, -CODE * 0.5)
    z = torch.tanh(u)
    inner = 0.5 * (z[0] @ z[1]).item()
    for s, expected in ((1, math.log1p(math.exp(inner)) - inner), (0, math.log1p(math.exp(inner)))):
        labels = torch.tensor([0, 0]) if s else torch.tensor([0, 1])
        # one kind of pair only: its weight is |S| / |S| = 1
        assert method(u, labels).item() == pytest.approx(expected, rel=1e-5)


# ---------------------------------------------------------------- DSH


def test_dsh_is_zero_for_identical_similar_codes_at_unit_magnitude():
    assert DSH(bits=8)(_pair(CODE, CODE), torch.tensor([3, 3])).item() == 0


def test_dsh_is_zero_for_dissimilar_codes_beyond_the_margin():
    far = CODE.clone()
    far[:4] = -far[:4]  # half the bits flipped: ||b1 - b2||^2 = 4 * 4 = 16 = m = 2 * bits
    assert DSH(bits=8)(_pair(CODE, far), torch.tensor([0, 1])).item() == 0
    assert DSH(bits=8)(_pair(CODE, -CODE), torch.tensor([0, 1])).item() == 0
    near = CODE.clone()
    near[0] = -near[0]  # distance 4 < m: the hinge is active, 1/2 (16 - 4) = 6
    assert DSH(bits=8)(_pair(CODE, near), torch.tensor([0, 1])).item() == pytest.approx(6.0)


def test_dsh_regulariser_pulls_outputs_to_unit_magnitude():
    loss = DSH(bits=8, alpha=0.5)(_pair(CODE * 2, CODE * 2), torch.tensor([0, 0]))
    assert loss.item() == pytest.approx(0.5 * (8 + 8))  # || |u| - 1 ||_1 = 8 for each item


# ---------------------------------------------------------------- DCH


def test_dch_prefers_close_similar_and_far_dissimilar_codes():
    dch = DCH(bits=8)
    same = dch(_pair(CODE, CODE), torch.tensor([0, 0]))
    apart = dch(_pair(CODE, -CODE), torch.tensor([0, 0]))
    assert same < apart
    assert dch(_pair(CODE, -CODE), torch.tensor([0, 1])) < dch(_pair(CODE, CODE), torch.tensor([0, 1]))
    distance = dch.cauchy_distance(_pair(CODE, -CODE), _pair(CODE, -CODE))
    assert torch.allclose(distance, torch.tensor([[0.0, 8.0], [8.0, 0.0]]), atol=1e-5)


# ---------------------------------------------------------------- triplets


def test_batch_triplets_are_all_the_valid_ones():
    labels = torch.tensor([0, 0, 1, 1, 2])
    a, p, n = batch_triplets(labels, max_triplets=1000)
    found = set(zip(a.tolist(), p.tolist(), n.tolist()))
    expected = {(i, j, k) for i in range(5) for j in range(5) for k in range(5)
                if i != j and labels[i] == labels[j] and labels[i] != labels[k]}
    assert found == expected and len(a) == len(expected) == 12


def test_batch_triplets_are_capped_and_seeded():
    labels = torch.arange(64) % 4
    first = batch_triplets(labels, 100, torch.Generator().manual_seed(1))
    again = batch_triplets(labels, 100, torch.Generator().manual_seed(1))
    assert len(first[0]) == 100
    for x, y in zip(first, again):
        assert torch.equal(x, y)
    a, p, n = first
    assert (labels[a] == labels[p]).all() and (a != p).all() and (labels[a] != labels[n]).all()


def test_batch_without_triplets_gives_zero_loss():
    u = torch.randn(4, 8, requires_grad=True)
    loss = create_method("dtsh", 8)(u, torch.arange(4))
    loss.backward()
    assert loss.item() == 0


@pytest.mark.parametrize("name", ["dtsh", "triplet-margin"])
def test_triplet_loss_is_lower_when_the_positive_is_closer(name):
    method = create_method(name, 8)
    close = CODE.clone()
    close[0] = -close[0]
    far = -CODE
    a, p, n = torch.tensor([0]), torch.tensor([1]), torch.tensor([2])
    good = method.triplet_loss(torch.stack([CODE, close, far]) * 3, a, p, n)
    bad = method.triplet_loss(torch.stack([CODE, far, close]) * 3, a, p, n)
    assert good < bad


def test_dtsh_matches_the_equation_on_one_triplet():
    method = create_method("dtsh", 8, alpha=1.0, lam=0.0)
    u = torch.stack([CODE, CODE * 0.5, -CODE * 0.2])
    v = torch.tanh(u)
    x = (v[0] @ v[1] - v[0] @ v[2]) / 2 - 1.0
    expected = -(x - math.log1p(math.exp(x)))
    got = method.triplet_loss(u, torch.tensor([0]), torch.tensor([1]), torch.tensor([2]))
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


def test_triplet_margin_is_zero_once_the_margin_is_met():
    method = create_method("triplet-margin", 8, margin=0.25, lam=0.0)
    u = torch.stack([CODE, CODE, -CODE]) * 20  # d(a,p) ~ 0, d(a,n) ~ 8 >= 2 + 0
    assert method.triplet_loss(u, torch.tensor([0]), torch.tensor([1]), torch.tensor([2])).item() == 0


# ---------------------------------------------------------------- regularisers


def test_balanced_codes_have_no_balance_penalty():
    u = torch.stack([CODE, -CODE]) * 50
    assert REGULARIZERS["balance"](u).item() == pytest.approx(0, abs=1e-8)
    assert REGULARIZERS["balance"](torch.stack([CODE, CODE]) * 50).item() == pytest.approx(1.0)


def test_duplicated_bits_have_a_decorrelation_penalty():
    torch.manual_seed(0)
    signs = torch.randn(256, 8).sign()
    duplicated = signs.clone()
    duplicated[:, 1] = duplicated[:, 0]
    assert REGULARIZERS["decorrelation"](duplicated * 50) > 5 * REGULARIZERS["decorrelation"](signs * 50)
    assert REGULARIZERS["decorrelation"](duplicated * 50).item() > 2 * 0.9 / (64 - 8)


def test_saturated_codes_have_no_quantization_penalty():
    assert REGULARIZERS["quantization"](torch.stack([CODE, -CODE]) * 50).item() == 0
    assert REGULARIZERS["quantization"](torch.zeros(2, 8)).item() == 1


def test_regularization_sums_weighted_penalties():
    weights = {"balance": 0.5, "quantization": 2.0}
    # all outputs 0: balanced (mean tanh 0), fully unsaturated (|tanh| - 1 = -1): 0.5 * 0 + 2 * 1
    assert regularization(torch.zeros(4, 8), weights).item() == pytest.approx(2.0)
    # two equal saturated codes: every bit's mean is +-1 (balance 1), saturated (quantization 0)
    assert regularization(torch.stack([CODE, CODE]) * 50, weights).item() == pytest.approx(0.5)
    u = torch.randn(16, 8, requires_grad=True)
    total = regularization(u, weights)
    total.backward()
    assert torch.isfinite(u.grad).all()
    assert regularization(u, {}).item() == 0
    with pytest.raises(HashvizError, match="known: balance, decorrelation, quantization"):
        regularization(u, {"sparsity": 1.0})


def test_parse_reg_reads_name_equals_weight():
    assert parse_reg(["balance=0.1", "decorrelation=0.2"]) == {"balance": 0.1, "decorrelation": 0.2}
    assert parse_reg("balance=0.1, quantization=1") == {"balance": 0.1, "quantization": 1.0}
    assert parse_reg([]) == {}


@pytest.mark.parametrize("bad, message", [
    (["balance"], "name=weight"),
    (["balance="], "name=weight"),
    (["=0.1"], "name=weight"),
    (["balance=abc"], "needs a number"),
    (["balance=nan"], "finite"),
    (["balance=inf"], "finite"),
    (["balance=-1"], ">= 0"),
    (["sparsity=1"], "known"),
    (["balance=1", "balance=2"], "twice"),
])
def test_parse_reg_refuses_bad_syntax_and_weights(bad, message):
    with pytest.raises(HashvizError, match=message):
        parse_reg(bad)
