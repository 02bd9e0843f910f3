"""The unsupervised family (hashviz.methods.unsupervised): CIBHash and Bi-half Net against values
worked out by hand, the straight-through gradients, proof that training never reads the labels,
and a one-epoch `hashviz train` end to end."""

import math

import numpy as np
import pytest
import torch

from hashviz.cli import main
from hashviz.estimators import DeepHasher
from hashviz.methods import FAMILY_INFO, create_method, list_methods
from hashviz.methods.unsupervised import bernoulli_kl, bi_half, nt_xent
from hashviz.zoo import load_model_dir


def test_nt_xent_of_four_codes_by_hand():
    # rows a=[1,1], b=[1,-1] (view 1) and c=[1,1], d=[-1,1] (view 2); cosines: cos(a,c)=1,
    # cos(b,d)=-1, every other pair 0. With temperature 1, rows a and c score
    # -log(e / (e + 2)) = log(1 + 2/e), rows b and d -log(e^-1 / (2 + e^-1)) = log(1 + 2e).
    z1 = torch.tensor([[1.0, 1.0], [1.0, -1.0]])
    z2 = torch.tensor([[1.0, 1.0], [-1.0, 1.0]])
    expected = (math.log(1 + 2 / math.e) + math.log(1 + 2 * math.e)) / 2
    assert nt_xent(z1, z2, temperature=1.0).item() == pytest.approx(expected, rel=1e-6)


def test_bernoulli_kl_by_hand():
    p, q = torch.tensor([[0.5, 0.9]]), torch.tensor([[0.5, 0.6]])
    expected = 0.0 + 0.9 * math.log(0.9 / 0.6) + 0.1 * math.log(0.1 / 0.4)
    assert bernoulli_kl(p, q).item() == pytest.approx(expected, rel=1e-5)


def test_cibhash_loss_of_two_identical_saturated_views():
    # |u| = 30: p is 0 or 1 (float32), so the stochastic codes are sign(u); the two views agree,
    # so the KL term is 0 and each of the 4 rows has its partner at cosine 1 and two codes at
    # cosine 0: loss = log(1 + 2 exp(-1 / 0.3)).
    torch.manual_seed(0)
    view = 30 * torch.tensor([[1.0, 1.0], [1.0, -1.0]]).tile(1, 4)       # 8 bits: a = 1s, b = +-1s
    method = create_method("cibhash", 8)
    expected = math.log(1 + 2 * math.exp(-1 / 0.3))
    assert method(torch.cat([view, view]), torch.zeros(4, 1, 8, 8)).item() == pytest.approx(expected, rel=1e-5)


def test_cibhash_codes_pass_the_sigmoid_gradient_straight_through():
    u = torch.zeros(2, 3, requires_grad=True)
    w = torch.tensor([[1.0, -2.0, 3.0], [0.5, 0.0, -1.0]])
    p = torch.sigmoid(u)
    from hashviz.methods.base import straight_through
    (straight_through(torch.where(p > 0.5, 1.0, -1.0), p) * w).sum().backward()
    assert torch.allclose(u.grad, w * 0.25)          # d sigmoid / du at 0 = 1/4


def test_bi_half_layer_splits_every_bit_half_half():
    u = torch.tensor([[3.0, -1.0], [1.0, 2.0], [2.0, 0.0], [0.0, 5.0]])
    # bit 0: the two largest are rows 0 (3) and 2 (2); bit 1: rows 3 (5) and 1 (2)
    expected = torch.tensor([[1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, 1.0]])
    assert torch.equal(bi_half(u, 0.0), expected)
    assert not torch.equal(expected, torch.where(u > 0, 1.0, -1.0))   # not the sign: row 1 bit 0 flips
    # odd batch: floor(3/2) = 1 item gets +1; a tie goes to the earlier row
    assert torch.equal(bi_half(torch.tensor([[1.0], [1.0], [0.0]]), 0.0), torch.tensor([[1.0], [-1.0], [-1.0]]))


def test_bi_half_gradient_is_straight_through_plus_the_pull_towards_b():
    u0 = torch.tensor([[3.0, -1.0], [1.0, 2.0], [2.0, 0.0], [0.0, 5.0]])
    b = torch.tensor([[1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, 1.0]])
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    for gamma, expected in ((0.0, w), (8.0, w + (u0 - b))):   # gamma / (N K) = 8 / 8 = 1
        u = u0.clone().requires_grad_(True)
        (bi_half(u, gamma) * w).sum().backward()
        assert torch.allclose(u.grad, expected)


def test_bihalf_loss_is_the_reconstruction_bce_of_its_decoder():
    method = create_method("bihalf", 8)
    u = torch.tensor([[3.0, -1.0], [1.0, 2.0], [2.0, 0.0], [0.0, 5.0]]).tile(1, 4)
    images = torch.linspace(-1, 1, 4 * 28 * 28).reshape(4, 1, 28, 28)
    b = torch.tensor([[1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, 1.0]]).tile(1, 4)   # as worked out above
    q = torch.sigmoid(method.decoder(b))
    x = (images.flatten(1) + 1) / 2
    expected = -(x * torch.log(q) + (1 - x) * torch.log(1 - q)).sum(1).mean()   # summed over pixels
    assert method(u, images).item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("name", ["cibhash", "bihalf"])
def test_training_never_reads_the_labels(name):
    # the same seeded one-epoch fit with the labels and with shuffled labels learns the same weights
    images = np.random.default_rng(0).integers(0, 256, (64, 12, 12), dtype=np.uint8)
    labels = np.arange(64) % 4
    weights = []
    for given in (labels, np.random.default_rng(1).permutation(labels)):
        torch.manual_seed(0)
        hasher = DeepHasher(create_method(name, 8, num_classes=4), (12, 12), width=4)
        hasher.fit(images, given, epochs=1, lr=1e-2, batch_size=32, weight_decay=0.0, precision="fp32")
        weights.append(hasher.weights())
    assert weights[0].keys() == weights[1].keys()
    assert all(np.array_equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_the_registry_and_cli_list_the_unsupervised_family(capsys):
    assert {i.name for i in list_methods("unsupervised")} >= {"cibhash", "bihalf"}
    family = FAMILY_INFO["unsupervised"]
    assert family.deep and not family.supervised and not family.uses_labels and not family.similarity_only
    assert FAMILY_INFO["pairwise"].supervised and not FAMILY_INFO["shallow"].supervised
    assert create_method("cibhash", 16).views == 2 and create_method("bihalf", 16).views == 1
    assert main(["methods"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split()[:2] == ["cibhash", "unsupervised"] for line in lines)
    assert any(line.split()[:2] == ["bihalf", "unsupervised"] for line in lines)


def test_hashviz_train_writes_an_unsupervised_model(tmp_path, capsys):
    out = tmp_path / "cib"
    args = ["train", "--method", "cibhash", "--bits", "16", "--dataset", "digits", "--epochs", "1",
            "--max-train", "256", "--out", str(out)]
    assert main(args) == 0
    model = load_model_dir(out)
    assert model.config["family"] == "unsupervised" and model.method == "cibhash"
    assert model.database_codes.shape[1] == 2 and 0 <= model.metrics["map_all"] <= 1
