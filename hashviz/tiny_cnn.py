"""The tiny CNN backbone (`--backbone tiny-cnn`): lecture mode's network (hashviz.lecture).

One strided 4x4 convolution and a 2x2 max pooling take a 28x28 image to a 7x7 map; a fully
connected layer reads the whole map. Against the small CNN (hashviz.nets.SmallCNN) it gives up the
deeper stack of 3x3 blocks, so it sees shapes less well, for a step and an encoding that cost a
fraction as much: a model trains and encodes a whole database in seconds on two cores.
"""

from __future__ import annotations

import torch
from torch import nn

DEFAULT_TINY_WIDTH = 32
MAP_SIDE = 7       # the pooled map's side, whatever the image size: the fully connected layer's input


class TinyCNN(nn.Module):
    """(n, C, H, W) in [-1, 1] -> features (n, 256): Conv 4x4 stride 2 (`width` channels), MaxPool 2,
    BatchNorm, ReLU, an adaptive max pooling to 7x7 (a no-op for 28x28 images), then
    Linear(7 * 7 * width, 256), BatchNorm, ReLU."""

    def __init__(self, channels: int = 1, width: int = DEFAULT_TINY_WIDTH, features: int = 256):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(channels, width, 4, stride=2, padding=1, bias=False), nn.MaxPool2d(2),
                                  nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        self.fc = nn.Sequential(nn.Linear(width * MAP_SIDE * MAP_SIDE, features), nn.BatchNorm1d(features),
                                nn.ReLU(inplace=True))
        self.out_features = features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.stem(x)
        if maps.shape[-2:] != (MAP_SIDE, MAP_SIDE):
            maps = nn.functional.adaptive_max_pool2d(maps, MAP_SIDE)
        # position-major (h, w, c): a view of the channels-last maps, so no copy either way
        return self.fc(maps.permute(0, 2, 3, 1).flatten(1))
