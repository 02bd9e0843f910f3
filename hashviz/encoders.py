"""Rebuild a saved model's encoder (deep network or shallow hasher) from config + safetensors,
so new images (uploads) can be encoded exactly like the saved codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hashviz.codes import pack_signs
from hashviz.errors import HashvizError
from hashviz.methods import create_method, method_info

NET, METHOD, HASHER = "net.", "method.", "hasher."


def build_deep(config: dict):
    """(network, method module) with freshly initialised weights, shaped as the config says."""
    from hashviz.nets import HashNetwork
    method = create_method(config["method"], bits=config["bits"],
                           num_classes=config.get("num_classes", 10), **(config.get("hyper") or {}))
    shape = config.get("image_shape") or [28, 28]
    channels = 1 if len(shape) == 2 else int(shape[2])
    net = HashNetwork(config.get("backbone") or "small-cnn", channels, method.output_dim,
                      width=config.get("width", 32), layout=config.get("backbone_layout", 1))
    return net, method


def deep_weights(net, method) -> dict[str, np.ndarray]:
    """Both modules' state as one flat dict of numpy arrays (for safetensors)."""
    out = {NET + k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
    out.update({METHOD + k: v.detach().cpu().numpy() for k, v in method.state_dict().items()})
    return out


def _is_deep(config: dict) -> bool:
    return method_info(config["method"]).deep


def expected_weight_shapes(config: dict) -> dict[str, tuple]:
    """Tensor name -> shape that the config's method and bits require."""
    try:
        if _is_deep(config):
            import torch
            with torch.device("meta"):   # shapes only: a config asking for a huge network costs no memory
                net, method = build_deep(config)
            return {**{NET + k: tuple(v.shape) for k, v in net.state_dict().items()},
                    **{METHOD + k: tuple(v.shape) for k, v in method.state_dict().items()}}
        hasher = create_method(config["method"], bits=config["bits"], **(config.get("hyper") or {}))
        n_features = int(np.prod(config.get("image_shape") or [28, 28]))
        return {HASHER + k: tuple(v) for k, v in hasher.state_shapes(n_features).items()}
    except HashvizError:
        raise
    except Exception as exc:  # a config the constructors refuse
        raise HashvizError(f"config cannot build a {config['method']} model: {exc}") from None


class Encoder:
    """images uint8 (n, H, W[, C]) -> outputs u float32 (n, d) and codes (packed, or pq indices)."""

    def __init__(self, config: dict, weights: dict[str, np.ndarray]):
        self.config = config
        self.image_shape = tuple(config.get("image_shape") or (28, 28))
        if _is_deep(config):
            import torch
            self.net, self.method = build_deep(config)
            self.net.load_state_dict({k[len(NET):]: torch.from_numpy(v.copy()) for k, v in weights.items()
                                      if k.startswith(NET)})
            self.method.load_state_dict({k[len(METHOD):]: torch.from_numpy(v.copy())
                                         for k, v in weights.items() if k.startswith(METHOD)})
            self.net.eval()
            self.hasher = None
        else:
            self.hasher = create_method(config["method"], bits=config["bits"], **(config.get("hyper") or {}))
            self.hasher.load_state_dict({k[len(HASHER):]: v for k, v in weights.items() if k.startswith(HASHER)})

    def _check(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.dtype != np.uint8 or tuple(images.shape[1:]) != self.image_shape:
            raise HashvizError(f"this model encodes uint8 images of shape {self.image_shape}, "
                               f"got {images.dtype} {images.shape[1:]}")
        return images

    def outputs(self, images: np.ndarray, progress=None):
        images = self._check(images)
        if self.hasher is not None:
            return self.hasher.outputs(images.reshape(len(images), -1).astype(np.float32))
        from hashviz.nets import network_outputs
        return network_outputs(self.net, images, progress=progress).numpy()

    def codes_from_outputs(self, outputs: np.ndarray) -> np.ndarray:
        """Outputs u -> stored codes: sign bits packed, or pq codeword indices."""
        if self.hasher is not None:
            return pack_signs(outputs)
        import torch
        return self.method.encode_outputs(torch.from_numpy(np.asarray(outputs, dtype=np.float32)))

    def encode(self, images: np.ndarray, progress=None) -> np.ndarray:
        return self.codes_from_outputs(self.outputs(images, progress=progress))


def load_encoder(model_dir) -> Encoder:
    """Encoder of a validated ModelDir (or a path); HashvizError for codes-only models."""
    from hashviz.zoo import ModelDir, check_weights, load_model_dir
    model = model_dir if isinstance(model_dir, ModelDir) else load_model_dir(Path(model_dir))
    if not model.has_weights:
        raise HashvizError(f"{model.name} holds imported codes only; it cannot encode new images")
    return Encoder(model.config, check_weights(model.path, model.config))
