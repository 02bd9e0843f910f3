"""Lecture mode: the classification family's quick recipes resolve into the run, other methods are
refused with one message, and the note states the two recipes."""

import numpy as np
import pytest

from hashviz.errors import HashvizError
from hashviz.lecture import MEASURED_MAP, quick_note
from hashviz.methods import list_methods, method_info
from hashviz.methods.registry import quick_methods
from hashviz.training import TrainSpec


def test_every_classification_method_has_a_quick_recipe_and_nothing_else_does():
    assert sorted(quick_methods()) == sorted(m.name for m in list_methods("classification"))
    assert {"csq", "greedyhash", "orthohash", "ssdh", "classifier-code"} <= set(quick_methods())


@pytest.mark.parametrize("method", ["greedyhash", "csq"])
def test_quick_spec_takes_the_quick_recipe(method):
    quick = method_info(method).quick
    spec = TrainSpec(method, 32, quick=True).resolved()
    assert (spec.epochs, spec.lr, spec.batch_size) == (quick["epochs"], quick["lr"], quick["batch_size"])
    assert (spec.backbone, spec.width, spec.max_train) == (quick["backbone"], quick["width"], quick.get("max_train"))
    assert spec.protocol == "fmnist-1k"                 # the protocol is kept
    assert spec.epochs < method_info(method).recipe["epochs"]
    given = TrainSpec(method, 32, quick=True, epochs=3).resolved()
    assert given.epochs == 3                            # what the caller sets wins


def test_quick_refuses_methods_without_a_quick_recipe():
    with pytest.raises(HashvizError, match="--quick is for .*greedyhash.*; dpsh has no quick recipe"):
        TrainSpec("dpsh", 32, quick=True).resolved()


def test_the_note_states_both_recipes():
    info = method_info("greedyhash")
    note = quick_note(info)
    assert f"for {info.quick['epochs']} epochs instead of {info.recipe['epochs']}" in note
    assert f"{info.quick['width']} channels" in note and "69,000-image database" in note
    quick, full = MEASURED_MAP["greedyhash"]
    assert f"mAP@all {quick:.3f} at seed 0 against the full recipe's {full:.3f}" in note


def test_every_quick_method_has_measured_figures():
    assert set(MEASURED_MAP) == set(quick_methods())


@pytest.mark.parametrize("shape", [(3, 1, 28, 28), (2, 3, 32, 32), (2, 1, 8, 8)])
def test_tiny_cnn_gives_256_features_for_any_image_size(shape):
    import torch

    from hashviz.nets import HashNetwork
    net = HashNetwork("tiny-cnn", shape[1], 32, width=8).eval()
    assert net.backbone.out_features == 256
    assert tuple(net(torch.zeros(shape)).shape) == (shape[0], 32)


def test_a_quick_model_trains_saves_reloads_and_encodes_the_same_codes(tmp_path):
    from hashviz.data import load_dataset
    from hashviz.encoders import load_encoder
    from hashviz.training import build_model
    from hashviz.zoo import load_model_dir
    spec = TrainSpec("greedyhash", 32, quick=True, dataset="digits", protocol="digits-small", epochs=2)
    model = load_model_dir(build_model(spec, tmp_path / "quick"))
    quick = method_info("greedyhash").quick
    assert model.config["backbone"] == quick["backbone"] and model.config["width"] == quick["width"]
    assert model.config["spec"]["quick"] is True and len(model.config["history"]) == 2
    images = load_dataset("digits").images
    np.testing.assert_array_equal(load_encoder(model).encode(images[model.query_ids]), model.query_codes)
    np.testing.assert_array_equal(load_encoder(model).encode(images[model.database_ids]), model.database_codes)


@pytest.mark.parametrize("fused", [True, False])
def test_eager_adamw_gives_torch_adamw_weights_bit_for_bit(fused):
    import torch

    from hashviz.optimizer import EagerAdamW

    def train(optimizer_class):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
                                  torch.nn.Linear(16, 4))
        optimizer = optimizer_class(net.parameters(), lr=3e-3, weight_decay=1e-2, fused=fused)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=30)
        inputs = torch.randn(30, 8, 12, generator=torch.Generator().manual_seed(1))
        for x in inputs:
            optimizer.zero_grad(set_to_none=True)
            net(x).pow(2).mean().backward()
            optimizer.step()
            schedule.step()
        return [p.detach() for p in net.parameters()]
    for ours, torchs in zip(train(EagerAdamW), train(torch.optim.AdamW)):
        assert torch.equal(ours, torchs)


def test_a_quick_run_imports_neither_torch_compiler_nor_torchvision(tmp_path):
    import subprocess
    import sys
    script = ("import sys\nfrom hashviz.training import TrainSpec, build_model\n"
              "build_model(TrainSpec('greedyhash', 32, quick=True, dataset='digits', protocol='digits-small', "
              f"epochs=1), {str(tmp_path / 'quick')!r})\n"
              "print(sorted(m for m in ('torch._dynamo', 'torchvision') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert run.stdout.strip().splitlines()[-1] == "[]"
