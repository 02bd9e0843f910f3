"""Hashers over a frozen pretrained backbone (hashviz.pretrained, config.json pretrained_mode
"frozen"): a deep method's hash head, or a shallow hasher, learns on the backbone's cached features.

`fit` takes the features (float (n, 1280), hashviz.feature_cache); `outputs(images)` computes the
features of uint8 images itself (an uploaded query), `dataset_outputs` reads the dataset's cached
ones. Saved weights are the head's alone ("net.head.*", "method.*", or "hasher.*"); config.json
names the backbone and the digest of its weights, checked before the first image is encoded.
Both are built by hashviz.hashers.create_hasher for a config with pretrained_mode "frozen".
"""

from __future__ import annotations

import numpy as np

from hashviz.errors import HashvizError
from hashviz.estimators import HASHER, DeepHasher, ImageHasher, ShallowImageHasher, image_shape


class FrozenBackbone:
    """What both frozen hashers share: the resolution, the recorded weights and the features."""

    def _init_backbone(self, config: dict) -> None:
        self.resolution = int(config.get("resolution") or 64)
        self.backbone_weights = config.get("pretrained")      # "... sha256:<digest>" once trained

    def _check_backbone(self) -> None:
        from hashviz.pretrained import weights_digest
        recorded = (self.backbone_weights or "").rpartition("sha256:")[2]
        if recorded and recorded != weights_digest():
            raise HashvizError(f"this model's head was trained on backbone weights sha256:{recorded}; the "
                               f"installed efficientnet-lite0 weights are sha256:{weights_digest()}")

    def image_features(self, images: np.ndarray, progress=None) -> np.ndarray:
        from hashviz.feature_cache import compute_features
        self._check_backbone()
        return compute_features(self.check_images(images), self.resolution, progress)

    def dataset_features(self, images: np.ndarray, progress=None) -> np.ndarray:
        from hashviz.feature_cache import cached_features
        self._check_backbone()
        return cached_features(images, self.resolution, progress)


class FrozenHeadHasher(FrozenBackbone, DeepHasher):
    """A deep method's hash head (Linear 1280 -> output) on frozen features, trained by
    DeepHasher.fit without augmentation (the features of a shifted image are not to hand)."""

    def __init__(self, method, config: dict):
        ImageHasher.__init__(self, image_shape(config))
        from hashviz.nets import HashNetwork
        if method.views > 1:       # hashviz.methods.protocols.MultiView
            raise HashvizError(f"{config['method']} learns from augmented views of each image, which frozen "
                               "features cannot give; use --pretrained-mode finetune")
        self._init_backbone(config)
        self.method_ = method
        self.net_ = HashNetwork("features", 0, method.output_dim)

    def fit(self, features: np.ndarray, labels: np.ndarray, **fit_args) -> "FrozenHeadHasher":
        return DeepHasher.fit(self, features, labels, **{**fit_args, "augment": False})

    def outputs(self, images: np.ndarray, progress=None) -> np.ndarray:
        return self.feature_outputs(self.image_features(images, progress))

    def dataset_outputs(self, images: np.ndarray, rows: np.ndarray, progress=None) -> np.ndarray:
        return self.feature_outputs(self.dataset_features(images, progress)[rows])

    def feature_outputs(self, features: np.ndarray) -> np.ndarray:
        from hashviz.nets import network_outputs
        return network_outputs(self.net_, np.asarray(features), batch_size=4096).numpy()


class FrozenShallowHasher(FrozenBackbone, ShallowImageHasher):
    """A shallow hasher (PCA-RR, ITQ, ...) on frozen features instead of pixels."""

    def __init__(self, hasher, config: dict):
        ShallowImageHasher.__init__(self, hasher, image_shape(config))
        self._init_backbone(config)

    def fit(self, features: np.ndarray, labels=None, **_ignored) -> "FrozenShallowHasher":
        self.hasher.fit(np.asarray(features, dtype=np.float32))
        self.history_, self.best_epoch_ = [], 0
        return self

    def outputs(self, images: np.ndarray, progress=None) -> np.ndarray:
        return self.hasher.outputs(self.image_features(images, progress).astype(np.float32))

    def dataset_outputs(self, images: np.ndarray, rows: np.ndarray, progress=None) -> np.ndarray:
        return self.hasher.outputs(np.asarray(self.dataset_features(images, progress)[rows], dtype=np.float32))

    def weight_shapes(self) -> dict[str, tuple]:
        from hashviz.pretrained import FEATURES
        return {HASHER + k: tuple(v) for k, v in self.hasher.state_shapes(FEATURES).items()}
