"""OrthoHash (NeurIPS 2021) and the classifier-code calibration row (arXiv:1609.06753): losses
against hand-computed values, target codes, the calibration code, a CLI fit, the leaderboard line."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hashviz import leaderboard as lb
from hashviz.cli import main
from hashviz.data import load_dataset
from hashviz.encoders import load_encoder
from hashviz.errors import HashvizError
from hashviz.methods import create_method, list_methods
from hashviz.methods.base import orthogonal_targets
from hashviz.taxonomy import calibration_line
from hashviz.zoo import load_model_dir
from test_leaderboard import fake

# Rows 1, 2 and 3 of the 8 x 8 Sylvester Hadamard matrix, written out.
H8_ROW1 = [1, -1, 1, -1, 1, -1, 1, -1]
H8_ROW2 = [1, 1, -1, -1, 1, 1, -1, -1]
H8_ROW3 = [1, -1, -1, 1, 1, -1, -1, 1]


def packed(signs: list[int]) -> list[int]:
    """One byte per 8 signs, +1 -> bit 1, first sign in the high bit (as pack_signs stores them)."""
    return [sum(1 << (7 - i) for i, s in enumerate(signs[j:j + 8]) if s > 0) for j in range(0, len(signs), 8)]


# --- OrthoHash ------------------------------------------------------------------------------

def test_targets_are_hadamard_rows_mutually_orthogonal_and_balanced():
    targets = orthogonal_targets(8, 2)
    assert targets.tolist() == [H8_ROW1, H8_ROW2]
    o = orthogonal_targets(32, 10)
    for i in range(10):
        assert sum(o[i].tolist()) == 0                                   # balanced: 16 ones, 16 minus ones
        for j in range(10):
            dot = sum(a * b for a, b in zip(o[i].tolist(), o[j].tolist()))
            assert dot == (32 if i == j else 0)


@pytest.mark.parametrize("bits, classes", [(24, 10), (16, 20)])
def test_targets_are_seeded_bernoulli_codes_when_hadamard_rows_do_not_fit(bits, classes):
    o = orthogonal_targets(bits, classes)
    assert o.shape == (classes, bits) and set(o.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(o, orthogonal_targets(bits, classes))             # the same codes every time
    assert not torch.equal(o, orthogonal_targets(bits, classes, seed=1))


def test_orthohash_loss_in_training_mode_is_the_margin_cross_entropy_by_hand():
    # u = +-2 o_0: batch norm maps both rows to +-o_0 times one constant, so cos(v, o_0) = +-1 and
    # cos(v, o_1) = 0. Both items have label 0; s = 8, m = 0.2.
    method = create_method("orthohash", 8, num_classes=2)
    o0 = torch.tensor(H8_ROW1, dtype=torch.float32)
    loss = method.loss(torch.stack([2 * o0, -2 * o0]), torch.tensor([0, 0]))
    first = math.log(1 + math.exp(-8 * (1 - 0.2)))        # logits (6.4, 0), label 0
    second = math.log(1 + math.exp(8 * (1 + 0.2)))        # logits (-9.6, 0), label 0
    assert loss.item() == pytest.approx((first + second) / 2, rel=1e-5)


def test_orthohash_quantization_term_and_running_statistics_by_hand():
    # eval mode: batch norm uses its initial running statistics (mean 0, variance 1), so v = u.
    method = create_method("orthohash", 8, num_classes=2, quantization=0.5).eval()
    u = torch.tensor([[3.0, 1, 1, 1, 1, 1, 1, 1]])
    # ||u|| = 4; u.o_0 = u.o_1 = 2, so cos = 2 / (4 sqrt 8) for both and the logits differ by s m = 1.6;
    # cos(u, sign u) = sum|u| / (||u|| sqrt 8) = 10 / (4 sqrt 8).
    expected = math.log(1 + math.exp(1.6)) + 0.5 * (1 - 10 / (4 * math.sqrt(8)))
    assert method.loss(u, torch.tensor([0])).item() == pytest.approx(expected, rel=1e-4)


def test_orthohash_multi_label_is_label_smoothed_cross_entropy():
    # an item of both classes with equal cosines: equal logits, targets (1/2, 1/2) -> log 2
    method = create_method("orthohash", 8, num_classes=2).eval()
    u = torch.tensor([[3.0, 1, 1, 1, 1, 1, 1, 1]])
    assert method.loss(u, torch.tensor([[1, 1]])).item() == pytest.approx(math.log(2), rel=1e-5)


def test_orthohash_codes_are_the_signs_after_batch_norm_with_running_statistics():
    method = create_method("orthohash", 8, num_classes=2)           # left in training mode
    bn = method.balance
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([1.0, -1, 0, 0, 2, 0, 0, 0]))
        bn.running_var.fill_(4.0)
        bn.weight.fill_(2.0)
        bn.bias.copy_(torch.tensor([0.0, 0, 0, 0, 0, 0, 0.5, -0.5]))
    u = torch.tensor([[1.5, -1.5, 0.1, -0.1, 1.0, 0.0, 0.0, 0.0]])
    # v = 2 (u - mean) / sqrt(4 + eps) + bias = (0.5, -0.5, 0.1, -0.1, -1, 0, 0.5, -0.5)
    assert method.encode_outputs(u).tolist() == [packed([1, -1, 1, -1, -1, -1, 1, -1])]
    assert bn.training                                                # encoding left the mode alone


# --- the calibration row --------------------------------------------------------------------

def test_classifier_code_is_the_codeword_of_the_argmax_class():
    method = create_method("classifier-code", 8, num_classes=3)
    assert method.output_dim == 3
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0], [0.0, 0.0, 5.0], [1.0, 1.0, 0.0]])
    # argmax: class 1, 0, 2 and 0 (a tie goes to the first class); CSQ's centres are H8 rows 1, 2, 3
    expected = [packed(H8_ROW2), packed(H8_ROW1), packed(H8_ROW3), packed(H8_ROW1)]
    assert method.encode_outputs(logits).tolist() == expected


def test_classifier_code_loss_is_cross_entropy_and_refuses_multi_label():
    method = create_method("classifier-code", 8, num_classes=2)
    assert method.loss(torch.tensor([[2.0, 0.0]]), torch.tensor([0])).item() == \
        pytest.approx(math.log(1 + math.exp(-2)), rel=1e-6)
    with pytest.raises(HashvizError, match="single-label"):
        method.loss(torch.zeros(1, 2), torch.tensor([[1, 1]]))


def test_calibration_row_is_marked_on_the_leaderboard_and_enters_no_conclusion():
    models = [fake("cc", "classifier-code", "classification", map_all=0.9),
              fake("csq", "csq", "classification", map_all=0.6), fake("dpsh", "dpsh", "pairwise", map_all=0.7)]
    table = lb.leaderboard_table(models).set_index("model")
    assert table.loc["cc", "family"] == "classification (calibration)"
    assert table.loc["csq", "family"] == "classification"
    note = lb.calibration_note(lb.leaderboard_table(models))
    assert note.startswith("Calibration row (cc):") and "database index" in note and "tie-aware" in note
    assert lb.calibration_note(lb.leaderboard_table(models[1:])) is None
    labels_help = next(c for c in lb.check_conclusions(models) if c.key == "labels_help")
    assert labels_help.evidence["best label-using"].tolist() == ["csq"]   # not the calibration row
    assert labels_help.verdict == lb.DOES_NOT_HOLD
    assert "classifier-code" in calibration_line("classification") and calibration_line("pairwise") is None


# --- through the CLI ------------------------------------------------------------------------

def test_methods_lists_the_new_entries(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert "\northohash " in out and "\nclassifier-code " in out
    assert {m.name for m in list_methods("classification")} >= {"orthohash", "classifier-code"}


@pytest.mark.parametrize("method", ["orthohash", "classifier-code"])
def test_one_epoch_train_writes_a_model_dir(method, tmp_path, capsys):
    out = tmp_path / method
    assert main(["train", "--method", method, "--bits", "16", "--dataset", "digits", "--epochs", "1",
                 "--max-train", "200", "--out", str(out)]) == 0
    model = load_model_dir(out)
    assert model.method == method and model.family == "classification" and model.bits == 16
    assert 0 <= model.metrics["map_all"] <= 1
    codes = np.load(out / "codes" / "database.npy", allow_pickle=False)
    assert codes.shape[1] == 2
    # the saved weights (orthohash: batch norm's running statistics too) encode like the stored codes
    rows = model.database_ids[:50]
    images = load_dataset("digits").images[rows]
    assert np.array_equal(load_encoder(model).encode(images), codes[:50])
    if method == "classifier-code":                                     # every code is one class's codeword
        centres = create_method("classifier-code", 16, num_classes=10).centres
        assert {tuple(c) for c in codes.tolist()} <= {tuple(packed(row)) for row in centres.int().tolist()}
