"""Networks: backbones that turn images into features, and a hash head that turns features into
the method's output u (bits wide for binary codes, the embedding for quantization codes).

Offline machines cannot download ImageNet weights, so the default backbones are small CNNs
trained from scratch; `resnet18` starts from ImageNet weights (`load_resnet18_weights`): torchvision's,
downloaded when online, or a local safetensors file of torchvision resnet18's state dict.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from hashviz import randomness
from hashviz.errors import HashvizError

BACKBONES = ("small-cnn", "cifar-cnn", "tiny-cnn", "resnet18", "efficientnet-lite0")


# Layout 4 at width 24, the default: a pooled 3x3 block at 28x28, a pooled block at 14x14 and one
# at 7x7, about 4 M multiply-adds an image against layout 2's 15 M at width 32, so it trains fast in
# fp32 on CPUs without bf16 units. Layout 3 (a 4x4 stride-2 stem, no 28x28 maps) is cheaper still
# but loses more mAP (timings and mAP: docs/recipes.md, "Fourth change"). Layout 2 pools right after
# the convolution so BatchNorm and ReLU run on a quarter of the positions; layout 1 (norm, ReLU, then
# pooling) is the oldest. The older layouts are kept to load saved models; config.json records the layout.
BACKBONE_LAYOUT = 4
DEFAULT_WIDTH = 24
LAYOUTS = (1, 2, 3, 4)


def _conv_block(c_in: int, c_out: int, pool: bool = False, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    pooling = [nn.MaxPool2d(2)] if pool else []
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=1, bias=False), *pooling,
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


def _blocks(channels: int, w: int, layout: int) -> list[nn.Module]:
    if layout == 4:
        return [_conv_block(channels, w, pool=True), _conv_block(w, 2 * w, pool=True), _conv_block(2 * w, 4 * w)]
    if layout == 3:
        return [_conv_block(channels, w, kernel=4, stride=2), _conv_block(w, 2 * w, pool=True),
                _conv_block(2 * w, 4 * w)]
    if layout == 2:
        return [_conv_block(channels, w, pool=True), _conv_block(w, 2 * w),
                _conv_block(2 * w, 2 * w, pool=True), _conv_block(2 * w, 4 * w)]
    if layout == 1:
        return [_conv_block(channels, w), nn.MaxPool2d(2), _conv_block(w, 2 * w),
                _conv_block(2 * w, 2 * w), nn.MaxPool2d(2), _conv_block(2 * w, 4 * w)]
    raise HashvizError(f"unknown backbone layout {layout!r} (this hashviz knows {', '.join(map(str, LAYOUTS))})")


class SmallCNN(nn.Module):
    """Conv blocks (layout 4: three 3x3 blocks, the first two pooled; layout 2: four blocks, two
    poolings; layout 3: a stride-2 stem, a pooled 14x14 block and a 7x7 block), then an FC layer.
    Sized for 28x28 grey images on 2 CPU cores (layout 4 at width 24: about 4 M multiply-adds an
    image; layout 2 at width 32: 15 M).
    Works for any input size >= 8 and any channel count.
    """

    def __init__(self, channels: int = 1, width: int = DEFAULT_WIDTH, features: int = 256,
                 layout: int = BACKBONE_LAYOUT):
        super().__init__()
        self.body = nn.Sequential(*_blocks(channels, width, layout), nn.AdaptiveMaxPool2d(3), nn.Flatten())
        self.fc = nn.Sequential(nn.Linear(4 * width * 9, features), nn.ReLU(inplace=True), Dropout(0.3))
        self.out_features = features

    def forward(self, x):
        return self.fc(self.body(x))


def resnet18_backbone(channels: int) -> nn.Module:
    """torchvision resnet18 without its classifier, randomly initialised (see load_resnet18_weights)."""
    from torchvision.models import resnet18
    net = resnet18(weights=None)
    if channels != 3:
        net.conv1 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
    net.out_features = net.fc.in_features
    net.fc = nn.Identity()
    return net


def load_resnet18_weights(backbone: nn.Module, source: str) -> str:
    """Put ImageNet weights into a resnet18 backbone; returns what was loaded, for config.json.

    `source`: "torchvision" (ResNet18_Weights.IMAGENET1K_V1, downloaded into torch's cache; needs a
    network connection the first time) or the path of a safetensors file holding torchvision
    resnet18's state dict (its fc.* tensors are ignored). Grey input: conv1's RGB filters are summed.
    """
    import hashlib

    if source == "torchvision":
        from torchvision.models import ResNet18_Weights
        try:
            state = ResNet18_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
        except Exception as exc:  # offline: URLError / RuntimeError
            raise HashvizError(f"torchvision's resnet18 weights could not be downloaded ({exc}); pass "
                               "--pretrained-weights FILE (a safetensors of resnet18's state dict) or none") from None
        described = "torchvision ResNet18_Weights.IMAGENET1K_V1"
    else:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            state = load_file(source)
            digest = hashlib.sha256(open(source, "rb").read()).hexdigest()[:16]
        except (OSError, SafetensorError) as exc:
            raise HashvizError(f"cannot read pretrained weights {source}: {exc}") from None
        described = f"file {Path(source).name} sha256:{digest}"
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    own = backbone.state_dict()
    if set(state) != set(own):
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        raise HashvizError(f"{source} is not a resnet18 state dict (missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]})")
    conv1 = state["conv1.weight"]
    if own["conv1.weight"].shape[1] == 1 and conv1.shape[1] == 3:
        state["conv1.weight"] = conv1.sum(dim=1, keepdim=True)
    wrong = [k for k in own if tuple(own[k].shape) != tuple(state[k].shape)]
    if wrong:
        raise HashvizError(f"{source}: tensor {wrong[0]} has shape {tuple(state[wrong[0]].shape)}, "
                           f"resnet18 needs {tuple(own[wrong[0]].shape)}")
    backbone.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    return described


class HashNetwork(nn.Module):
    """Backbone -> linear hash head producing u (output_dim). Normalises uint8 input itself."""

    def __init__(self, backbone: str, channels: int, output_dim: int, width: int = DEFAULT_WIDTH,
                 layout: int = BACKBONE_LAYOUT, resolution: int | None = None):
        super().__init__()
        if backbone == "small-cnn":
            self.backbone = SmallCNN(channels, width, layout=layout)
        elif backbone == "cifar-cnn":
            self.backbone = SmallCNN(channels, width=max(width, 48), features=512, layout=layout)
        elif backbone == "tiny-cnn":                 # lecture mode's network (hashviz.tiny_cnn)
            from hashviz.tiny_cnn import TinyCNN
            self.backbone = TinyCNN(channels, width)
        elif backbone == "resnet18":
            self.backbone = resnet18_backbone(channels)
        elif backbone == "efficientnet-lite0":       # hashviz.pretrained: ImageNet weights put in by training
            from hashviz.pretrained import DEFAULT_RESOLUTION, EfficientNetLite0Features
            self.backbone = EfficientNetLite0Features(resolution or DEFAULT_RESOLUTION)
        elif backbone == "features":                 # a frozen backbone's cached features come in
            from hashviz.pretrained import FeatureInput
            self.backbone = FeatureInput()
        else:
            raise HashvizError(f"unknown backbone {backbone!r}; choose one of {', '.join(BACKBONES)}")
        self.head = nn.Linear(self.backbone.out_features, output_dim)
        # channels-last: CPU convolutions run faster on it, in training and in inference (docs/recipes.md)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.head(self.backbone(x))


def default_backbone(image_shape: tuple[int, ...]) -> str:
    return "small-cnn" if len(image_shape) == 2 else "cifar-cnn"


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (n, H, W) or (n, H, W, C) -> float32 (n, C, H, W) in [-1, 1]; float features (n, d)
    of a frozen backbone (hashviz.feature_cache) -> float32 (n, d) unchanged."""
    if images.ndim == 2 and images.dtype.kind == "f":
        return torch.as_tensor(np.asarray(images, dtype=np.float32))
    x = torch.as_tensor(np.array(images, copy=True))  # a copy: dataset arrays are read-only
    x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)
    return x.float().div_(127.5).sub_(1.0)


class Dropout(nn.Module):
    """nn.Dropout drawing its mask from `generator` (hashviz.randomness; None: torch's global)."""

    generator = None

    def __init__(self, p: float):
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return randomness.dropout(x, self.p, self.generator) if self.training and self.p > 0 else x


@torch.inference_mode()
def network_outputs(net: nn.Module, images: np.ndarray, batch_size: int = 128,
                    progress=None) -> torch.Tensor:
    """Batched inference without autograd: uint8 images -> float32 (n, output_dim).

    Small batches (128) keep the 28x28 maps of layouts 2 and 4 in cache, which makes encoding faster
    than at larger batches (timings: docs/recipes.md)."""
    was_training = net.training
    net.eval()
    chunks = []
    for start in range(0, len(images), batch_size):
        device = next(net.parameters()).device
        chunks.append(net(to_tensor(images[start:start + batch_size]).to(device)).cpu())
        if progress:
            progress(min(start + batch_size, len(images)), len(images))
    net.train(was_training)
    if not chunks:
        return torch.zeros(0, net.head.out_features)
    return torch.cat(chunks)
