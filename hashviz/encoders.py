"""A saved model's weights: read from weights.safetensors (never unpickled), checked against what
the config's method builds, and loaded into its hasher (hashviz.estimators, built through the
registry), so new images (uploads) are encoded exactly like the saved codes. hashviz.zoo calls
`check_weights` when it loads a model directory; nothing here imports hashviz.zoo."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hashviz.errors import HashvizError

WEIGHTS = "weights.safetensors"


def expected_weight_shapes(config: dict) -> dict[str, tuple]:
    """Tensor name -> shape that the config's method and bits require."""
    try:
        import torch

        from hashviz.methods import create_hasher     # torch loads with the methods: only when needed
        with torch.device("meta"):   # shapes only: a config asking for a huge network costs no memory
            return create_hasher(config).weight_shapes()
    except HashvizError:
        raise
    except Exception as exc:  # a config the constructors refuse
        raise HashvizError(f"config cannot build a {config['method']} model: {exc}") from None


def load_encoder(model):
    """The fitted hasher (hashviz.estimators) of a loaded model directory (hashviz.zoo.ModelDir:
    .name, .path, .config, .has_weights), to encode new images exactly like its stored codes;
    HashvizError for codes-only models."""
    from hashviz.methods import create_hasher
    if not model.has_weights:
        raise HashvizError(f"{model.name} holds imported codes only; it cannot encode new images")
    return create_hasher(model.config).load_weights(check_weights(model.path, model.config))


# --------------------------------------------------------------------------------------------
# weights.safetensors: read and checked here, where the networks are built (hashviz.zoo calls
# check_weights when it loads a model directory)

def read_weights(path: Path) -> dict[str, np.ndarray]:
    """All tensors of weights.safetensors as numpy arrays (HashvizError if unreadable)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file
    try:
        return load_file(str(Path(path) / WEIGHTS))
    except (SafetensorError, OSError, ValueError) as exc:
        raise HashvizError(f"{Path(path).name}: weights.safetensors is unreadable or truncated ({exc})") from None


def check_weights(path: Path, config: dict) -> dict[str, np.ndarray]:
    """Tensor names and shapes against what the config's method builds; finite values."""
    weights = read_weights(path)
    expected = expected_weight_shapes(config)
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        detail = (f"missing {missing[:3]}" if missing else "") + (f" unexpected {extra[:3]}" if extra else "")
        raise HashvizError(f"{path.name}: weights do not match a {config['method']} model with "
                           f"{config['bits']} bits ({detail.strip()})")
    for name, shape in expected.items():
        if tuple(weights[name].shape) != tuple(shape):
            raise HashvizError(f"{path.name}: tensor {name} has shape {tuple(weights[name].shape)}, "
                               f"{config['bits']} bits need {tuple(shape)}")
        if weights[name].dtype.kind == "f" and not np.isfinite(weights[name]).all():
            raise HashvizError(f"{path.name}: tensor {name} holds NaN or infinite values")
    return weights

