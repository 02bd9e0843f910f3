"""The one way from a config (config.json, or the one a training run writes) to a hasher.

The method's registry facts (hashviz.methods.registry) say its kind, and the kind picks the estimator:
a deep method's loss module inside its network (hashviz.estimators.DeepHasher), a shallow hasher
(ShallowImageHasher), or the ensemble's wrapper around deep members (hashviz.ensemble_hasher); a
frozen pretrained backbone puts a head or a shallow hasher on its cached features (hashviz.frozen).
The hasher is freshly initialised until `fit` or `load_weights`.
"""

from __future__ import annotations

from hashviz.ensemble_hasher import EnsembleHasher
from hashviz.errors import HashvizError
from hashviz.estimators import DeepHasher, ImageHasher, ShallowImageHasher, image_shape
from hashviz.frozen import FrozenHeadHasher, FrozenShallowHasher
from hashviz.methods.registry import create_method, method_info


def create_hasher(config: dict, **extra) -> ImageHasher:
    """The hasher of `config` ("method", "bits", "hyper", and for deep methods "num_classes", the
    network's "image_shape", "backbone", "width", "backbone_layout", "resolution"). extra:
    constructor arguments that are not recorded in the config (a shallow hasher's seed when it is
    fitted)."""
    info = method_info(config["method"])
    frozen = config.get("pretrained_mode") == "frozen"      # hashviz.pretrained: a head on cached features
    if info.kind == "ensemble":
        if frozen:
            raise HashvizError("an ensemble cannot train on frozen features yet; train its members one by one")
        return EnsembleHasher(config, create_hasher)
    if info.kind == "deep":
        extra = {"num_classes": config.get("num_classes", 10), **extra}
    method = create_method(info.name, config["bits"], **extra, **(config.get("hyper") or {}))
    if info.kind == "shallow":
        return FrozenShallowHasher(method, config) if frozen else ShallowImageHasher(method, image_shape(config))
    if frozen:
        return FrozenHeadHasher(method, config)
    return DeepHasher(method, image_shape(config), config.get("backbone") or "small-cnn",
                      width=config.get("width", 32), layout=config.get("backbone_layout", 1),
                      resolution=config.get("resolution"))
