"""A saved model's weights: weights.safetensors (never unpickled). Model discovery reads only its
header (`read_weights_header`: tensor names, dtypes, shapes; no tensor, no torch); when an encoder
is first loaded (`load_encoder`), the tensors are checked against what the config's method builds
and loaded into its hasher (hashviz.estimators, built through the registry), so new images
(uploads) are encoded exactly like the saved codes. Nothing here imports hashviz.zoo."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from hashviz.errors import HashvizError

WEIGHTS = "weights.safetensors"


def expected_weight_shapes(config: dict) -> dict[str, tuple]:
    """Tensor name -> shape that the config's method and bits require."""
    try:
        import torch

        from hashviz.hashers import create_hasher     # torch loads with the methods: only when needed
        with torch.device("meta"):   # shapes only: a config asking for a huge network costs no memory
            return create_hasher(config).weight_shapes()
    except HashvizError:
        raise
    except Exception as exc:  # a config the constructors refuse
        raise HashvizError(f"config cannot build a {config['method']} model: {exc}") from None


def load_encoder(model):
    """The fitted hasher (hashviz.estimators) of a loaded model directory (hashviz.zoo.ModelDir:
    .name, .path, .config, .has_weights), to encode new images exactly like its stored codes;
    HashvizError for codes-only models and for weights that do not conform to the config's method
    (discovery read only their header)."""
    from hashviz.hashers import create_hasher
    if not model.has_weights:
        raise HashvizError(f"{model.name} holds imported codes only; it cannot encode new images")
    from hashviz.network_store import is_network_config, load_network_encoder
    if is_network_config(model.config):      # a user's own network (hv.from_network): its checked graph
        return load_network_encoder(model.path, read_weights(model.path))
    from hashviz.randomness import global_generator
    weights = check_weights(model.path, model.config)
    try:
        with global_generator():     # a training run may be seeding it
            hasher = create_hasher(model.config)
        return hasher.load_weights(weights)
    except (RuntimeError, TypeError, ValueError) as exc:   # e.g. an integer tensor where floats belong
        raise HashvizError(f"{model.name}: weights cannot be loaded into a {model.config['method']} "
                           f"model ({str(exc).splitlines()[0][:200]})") from None


# --------------------------------------------------------------------------------------------
# weights.safetensors: the header alone for discovery, the tensors for an encoder

# safetensors' dtypes and their bytes per element
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
               "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
MAX_HEADER_BYTES = 16 * 2**20   # a real header is a few KB; a claimed gigabyte must not be read


def read_weights_header(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Tensor name -> (dtype, shape) from weights.safetensors' header alone (an 8-byte little-endian
    length, then JSON), checked as safetensors checks it: known dtypes, byte ranges that match the
    shapes and tile the rest of the file exactly (so a truncated file is refused). No tensor is
    read and no framework imported: discovery lists a root of many models in milliseconds."""
    name = Path(path).name
    try:
        with open(Path(path) / WEIGHTS, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            length = int.from_bytes(f.read(8), "little")
            if size < 8 or length > min(MAX_HEADER_BYTES, size - 8):
                raise ValueError(f"a header of {length:,} bytes in a file of {size:,}")
            header = json.loads(f.read(length))
        return _tensor_table(header, size - 8 - length)
    except (ValueError, RecursionError) as exc:   # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise HashvizError(f"{name}: weights.safetensors is unreadable or truncated ({str(exc)[:200]})") from None
    except OSError as exc:
        raise HashvizError(f"{name}: weights.safetensors cannot be read ({exc.strerror or exc})") from None


def _tensor_table(header, data_bytes: int) -> dict[str, tuple[str, tuple[int, ...]]]:
    """The header's tensors as {name: (dtype, shape)}; ValueError saying what is inconsistent."""
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    table, spans = {}, []
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        if not (isinstance(entry, dict) and entry.get("dtype") in DTYPE_BYTES
                and _int_list(entry.get("shape")) and _int_list(entry.get("data_offsets"))
                and len(entry["data_offsets"]) == 2):
            raise ValueError(f"tensor {key[:80]!r} has no valid dtype, shape and data_offsets")
        begin, end = entry["data_offsets"]
        if end - begin != math.prod(entry["shape"]) * DTYPE_BYTES[entry["dtype"]]:
            raise ValueError(f"tensor {key[:80]!r}: its byte range does not hold its shape")
        table[key] = (entry["dtype"], tuple(entry["shape"]))
        spans.append((begin, end))
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            raise ValueError("tensor byte ranges overlap or leave gaps")
        position = end
    if position != data_bytes:
        raise ValueError(f"the header describes {position:,} bytes of tensors, the file holds {data_bytes:,}")
    return table


def _int_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)


def read_weights(path: Path) -> dict[str, np.ndarray]:
    """All tensors of weights.safetensors as numpy arrays (HashvizError if unreadable)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file
    try:
        return load_file(str(Path(path) / WEIGHTS))
    except (SafetensorError, OSError, ValueError) as exc:
        raise HashvizError(f"{Path(path).name}: weights.safetensors is unreadable or truncated ({exc})") from None


def check_weights(path: Path, config: dict) -> dict[str, np.ndarray]:
    """The weights of the model directory at `path`, conforming to what the config's method builds:
    names and shapes (from the header, before any tensor is read), finite values."""
    path = Path(path)
    header = read_weights_header(path)
    try:
        expected = expected_weight_shapes(config)
    except HashvizError as exc:
        raise HashvizError(f"{path.name}: {exc}") from None
    missing = sorted(set(expected) - set(header))
    extra = sorted(set(header) - set(expected))
    if missing or extra:
        detail = (f"missing {missing[:3]}" if missing else "") + (f" unexpected {extra[:3]}" if extra else "")
        raise HashvizError(f"{path.name}: weights do not match a {config['method']} model with "
                           f"{config['bits']} bits ({detail.strip()})")
    for name, shape in expected.items():
        if header[name][1] != tuple(shape):
            raise HashvizError(f"{path.name}: tensor {name} has shape {header[name][1]}, "
                               f"{config['bits']} bits need {tuple(shape)}")
    weights = read_weights(path)
    for name, tensor in weights.items():
        if tensor.dtype.kind == "f" and not np.isfinite(tensor).all():
            raise HashvizError(f"{path.name}: tensor {name} holds NaN or infinite values")
    return weights
