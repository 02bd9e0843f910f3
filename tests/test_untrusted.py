"""What a model directory (config.json) or a command-line name cannot make the server do, and the
review defects of issue 18: datasets outside the data roots, downloads while a page is viewed,
`hashviz bench` with a path, resnet18's pretrained weights, the protocol text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from hashviz import cli
from hashviz.errors import HashvizError


def run_cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_error_line(code: int, err: str) -> str:
    lines = [line for line in re.split(r"[\r\n]+", err) if line.strip()]
    assert code == 2 and "Traceback" not in err and len(lines) == 1, err
    return lines[0]


@pytest.fixture
def fresh_datasets(monkeypatch, tmp_path):
    """An empty data home; load_dataset's per-process cache cleared around the test."""
    from hashviz.data import datasets, roots
    monkeypatch.setenv("HASHVIZ_DATA", str(tmp_path / "data-home"))
    monkeypatch.delenv("HASHVIZ_DATA_ROOTS", raising=False)
    monkeypatch.setattr(roots, "_operator_roots", [], raising=False)
    datasets.load_dataset.cache_clear()
    yield datasets
    datasets.load_dataset.cache_clear()


def _image_folder(root, per_class=2):
    from PIL import Image
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(np.full((8, 8), 6 * i + (cls == "b") * 100, np.uint8)).save(root / cls / f"{i}.png")
    return root


# ---------------------------------------------------------------- config.json cannot pick any folder

def test_a_folder_dataset_outside_the_data_roots_is_refused(fresh_datasets, tmp_path, monkeypatch):
    outside = _image_folder(tmp_path / "server-private")
    with pytest.raises(HashvizError, match=r"image folder .*server-private is outside the data roots .*"
                                           r"HASHVIZ_DATA_ROOTS"):
        fresh_datasets.load_dataset(f"folder:{outside}")
    with pytest.raises(HashvizError, match="outside the data roots"):     # no escape with ..
        fresh_datasets.load_dataset(f"folder:{tmp_path / 'data-home' / '..' / 'server-private'}")
    monkeypatch.setenv("HASHVIZ_DATA_ROOTS", str(tmp_path))              # the operator allows it
    fresh_datasets.load_dataset.cache_clear()
    dataset = fresh_datasets.load_dataset(f"folder:{outside}")
    assert dataset.class_names == ("a", "b") and dataset.labels.tolist() == [0, 0, 1, 1]


def test_a_model_whose_config_names_a_private_folder_gets_no_images(fresh_datasets, tiny_zoo, tmp_path):
    """The app's path: a model dir whose config.json says dataset folder:/elsewhere."""
    import shutil

    from hashviz.zoo import load_model_dir
    from pages.images import dataset_of
    _image_folder(tmp_path / "elsewhere")
    shutil.copytree(tiny_zoo / "lsh-16", tmp_path / "root" / "m")
    config = json.loads((tmp_path / "root" / "m" / "config.json").read_text())
    config["dataset"] = f"folder:{tmp_path / 'elsewhere'}"
    (tmp_path / "root" / "m" / "config.json").write_text(json.dumps(config))
    model = load_model_dir(tmp_path / "root" / "m", root=tmp_path / "root")
    assert model.dataset == f"folder:{tmp_path / 'elsewhere'}" and model.has_images
    assert dataset_of(model) is None       # the pages show no thumbnails (and say why with warn=True)


def test_the_cli_may_read_a_folder_its_operator_names(fresh_datasets, tmp_path, capsys):
    folder = _image_folder(tmp_path / "my-pictures", per_class=10)
    code, out, err = run_cli(capsys, "train", "--method", "lsh", "--bits", 8, "--dataset", f"folder:{folder}",
                             "--protocol", "per-class-10%", "--out", tmp_path / "m")
    assert code == 0, err
    assert json.loads((tmp_path / "m" / "config.json").read_text())["dataset"] == f"folder:{folder}"


# ---------------------------------------------------------------- no download while a page is viewed

@pytest.fixture
def torchvision_downloads(monkeypatch):
    """torchvision's dataset classes, replaced by ones that only note that a download was asked."""
    import torchvision.datasets as tvd
    asked = []

    def fake(kind):
        class Offline:
            def __init__(self, root, train=True, download=False):
                asked.append((kind, download))
        return Offline

    for kind in ("MNIST", "FashionMNIST"):
        monkeypatch.setattr(tvd, kind, fake(kind))
    return asked


def test_loading_a_dataset_never_downloads(fresh_datasets, torchvision_downloads):
    with pytest.raises(HashvizError, match=r"MNIST not found in .*data-home.*`hashviz data download mnist`"):
        fresh_datasets.load_dataset("mnist")
    assert torchvision_downloads == []


def test_the_cli_downloads_on_request(fresh_datasets, torchvision_downloads, capsys):
    code, _, err = run_cli(capsys, "data", "download", "mnist")
    assert torchvision_downloads == [("MNIST", True), ("MNIST", True)]     # train and test parts
    assert "MNIST not found" in one_error_line(code, err)                  # the stub fetched nothing


# ---------------------------------------------------------------- hashviz bench NAME

@pytest.mark.parametrize("name", ["../hashviz/__init__", "/etc/passwd", "search.py", "nope"])
def test_bench_accepts_only_the_names_in_bench(name, capsys):
    code, out, err = run_cli(capsys, "bench", name)
    assert out == ""
    scripts = sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "bench").glob("*.py")
                     if not p.name.startswith("_"))          # bench/_timing.py is a helper, not a benchmark
    assert "load" in scripts and "search" in scripts
    assert one_error_line(code, err) == f"hashviz: error: unknown benchmark {name!r}; choose one of {', '.join(scripts)}"


# ---------------------------------------------------------------- resnet18 from a local weights file

@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    """torchvision resnet18's state dict (seeded random init, no download) as safetensors."""
    import torch
    from safetensors.torch import save_file
    from torchvision.models import resnet18
    torch.manual_seed(123)
    state = {k: v.contiguous() for k, v in resnet18(weights=None).state_dict().items()}
    path = tmp_path_factory.mktemp("weights") / "resnet18.safetensors"
    save_file(state, str(path))
    return path, state


def test_resnet18_trains_from_a_local_pretrained_file(resnet18_file):
    from hashviz.training import TrainSpec, train
    path, state = resnet18_file
    result = train(TrainSpec("dpsh", 16, dataset="digits", protocol="digits-small", backbone="resnet18",
                             pretrained_weights=str(path), epochs=1, lr=1e-12, max_train=64, batch_size=64))
    assert re.fullmatch(r"file resnet18\.safetensors sha256:[0-9a-f]{16}", result.method_config["pretrained"])
    saved = result.encoder_weights
    # lr 1e-12: one step moves no weight measurably, so the trained network is the file's network
    np.testing.assert_allclose(saved["net.backbone.layer3.1.conv2.weight"], state["layer3.1.conv2.weight"].numpy(),
                               atol=1e-6)
    # grey digits: conv1's three RGB filters summed into one
    np.testing.assert_allclose(saved["net.backbone.conv1.weight"],
                               state["conv1.weight"].numpy().sum(axis=1, keepdims=True), atol=1e-5)


def test_resnet18_weights_file_that_is_not_resnet18(tmp_path, capsys):
    from safetensors.numpy import save_file
    save_file({"conv1.weight": np.zeros((64, 3, 7, 7), np.float32)}, str(tmp_path / "bad.safetensors"))
    code, _, err = run_cli(capsys, "train", "--method", "dpsh", "--bits", 16, "--dataset", "digits",
                           "--protocol", "digits-small", "--backbone", "resnet18", "--pretrained-weights",
                           tmp_path / "bad.safetensors", "--epochs", 1, "--out", tmp_path / "r")
    assert "is not a resnet18 state dict (missing ['bn1.bias'" in one_error_line(code, err)
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------- the protocol text is true

def test_protocol_text_says_what_validation_is_ranked_against():
    from hashviz.data import protocols
    from hashviz.training import VALIDATION_DATABASE
    text = " ".join(protocols.__doc__.split())
    assert "ranked against the database" not in text
    assert f"ranked against a seeded sample of {VALIDATION_DATABASE:,} training images" in text
    # "training and validation images are disjoint" (the per-class protocols), checked
    from hashviz.data import load_dataset, make_split
    split = make_split(load_dataset("digits"), "digits-small", 0)
    assert not set(split.train.tolist()) & set(split.validation.tolist())
