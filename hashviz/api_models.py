"""Models made in a notebook: from code arrays (`from_arrays`) or by running the user's own network
over their images (`from_network`). Each is a real model directory from the start, written to a
private temporary folder (removed with the Model), so every hashviz function, the app included,
treats it like a trained or imported model; `Model.save(dir)` copies it atomically to `dir`.

from_arrays goes through hashviz.importing.import_codes itself (the arrays are written as .npy
files first), so it accepts and refuses exactly what `hashviz import-codes` does, with the same
messages.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from hashviz.data.images import IMAGES_FILE, PATH_ENDS_FILE, PATHS_FILE, encode_paths, paths_digest
from hashviz.errors import HashvizError
from hashviz.zoo import ModelDir, _load_npy, load_model_dir, save_model_dir

__all__ = ["Model", "load", "from_arrays", "with_images", "with_network", "model_dir_of"]


@dataclass(eq=False)
class Model(ModelDir):
    """A model directory (hashviz.zoo.ModelDir: config, codes, labels, ids) with, when it was made
    in this session by from_network, the live network that encodes new images."""

    network: Callable | None = None       # float32 (B, C, H, W) -> outputs whose sign is the code
    workdir: object = field(default=None, repr=False)   # the temporary folder, removed with its last Model

    def save(self, out, overwrite: bool = False) -> Path:
        """Write this model as a model directory at `out` (atomically: nothing half-written is ever
        there); returns the path. overwrite replaces only an existing model directory."""
        arrays = {p.stem: _load_npy(p) for p in sorted((self.path / "codes").glob("*.npy"))}
        weights = None
        if self.has_weights:
            from hashviz.encoders import read_weights
            weights = read_weights(self.path)
        return save_model_dir(Path(out), dict(self.config), arrays, weights, overwrite=overwrite)

    def encoder(self):
        """The hasher that encodes new images: the live network, else the stored one
        (hashviz.encoders.load_encoder); HashvizError for codes-only models."""
        if self.network is not None:
            from hashviz.network_store import NetworkEncoder
            return NetworkEncoder(self.network)
        from hashviz.encoders import load_encoder
        return load_encoder(self)

    def __repr__(self) -> str:
        return f"Model({self.label})"


def load(path) -> Model:
    """A model directory (trained, imported, made by from_arrays / from_network, or an ensemble)."""
    model = load_model_dir(Path(path))
    return Model(model.path, model.config, model.arrays)


def model_dir_of(model) -> ModelDir:
    if not isinstance(model, ModelDir):
        raise HashvizError(f"expected a hashviz Model (hv.load, hv.from_arrays, hv.from_network), got "
                           f"{type(model).__name__}")
    return model


# ---------------------------------------------------------------- from arrays

def from_arrays(database_codes, query_codes, *, database_labels=None, query_labels=None, images=None,
                image_root=None, class_names=None, name=None, method: str = "imported",
                family: str = "imported") -> Model:
    """A codes-only model from arrays (see hashviz.api.from_arrays)."""
    if database_labels is None or query_labels is None:
        raise HashvizError("from_arrays needs database_labels and query_labels (int (n,) classes or 0/1 "
                           "multi-hot (n, C)): relevance and every metric come from them")
    name = _checked_name(name or "arrays")
    work = Path(tempfile.mkdtemp(prefix="hashviz-model-"))
    inputs = work / "inputs"
    inputs.mkdir()
    files = {}
    for key, value in (("database_codes", database_codes), ("query_codes", query_codes),
                       ("database_labels", database_labels), ("query_labels", query_labels)):
        value = _as_numpy(value, key)
        if key.endswith("_codes") and value.dtype == np.uint8 and value.ndim == 2 and value.size and value.max() > 1:
            value = np.unpackbits(value, axis=1)        # packed uint8: import-codes reads one value per bit
        files[key] = inputs / f"{key}.npy"
        np.save(files[key], value, allow_pickle=False)
    names_file = None
    if class_names is not None:
        names_file = inputs / "class_names.txt"
        names_file.write_text("".join(f"{str(n).strip()}\n" for n in class_names), encoding="utf-8")
    from hashviz.importing import import_codes
    try:
        path = import_codes(out=work / name, class_names=names_file, method=method, family=family,
                            warn=lambda line: warnings.warn(line, stacklevel=3), **files)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    shutil.rmtree(inputs, ignore_errors=True)
    model = load(path)
    model.workdir = _TemporaryFolder(work)
    if images is not None:
        model = with_images(model, images, image_root)
    return model


class _TemporaryFolder:
    """Removes its folder when no Model refers to it any more (or when Python exits)."""

    def __init__(self, path: Path):
        self.path = path
        weakref.finalize(self, shutil.rmtree, path, True)


def _as_numpy(value, what: str) -> np.ndarray:
    if hasattr(value, "detach"):          # a torch tensor (torch.sign(outputs))
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.hasobject:
        raise HashvizError(f"{what} must be a numeric array, got objects")
    return array


def _checked_name(name: str) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name):
        raise HashvizError(f"name must be letters, digits, '.', '_' or '-' (a folder name), got {name!r}")
    return name


def _rewrite(model: Model, *, config: dict | None = None, arrays: dict | None = None,
             weights: dict | None = None) -> Model:
    """The same temporary model directory rewritten with config keys / code arrays / weights added."""
    all_arrays = {p.stem: _load_npy(p) for p in sorted((model.path / "codes").glob("*.npy"))}
    all_arrays.update(arrays or {})
    if weights is None and model.has_weights:
        from hashviz.encoders import read_weights
        weights = read_weights(model.path)
    save_model_dir(model.path, {**model.config, **(config or {})}, all_arrays, weights, overwrite=True)
    fresh = load(model.path)
    fresh.network, fresh.workdir = model.network, model.workdir
    return fresh


def with_images(model: Model, images, image_root=None) -> Model:
    """`model` with its rows' images: an array uint8 (n_database + n_query, H, W[, C]) (database
    rows, then query rows) kept in the model directory, or a list of paths (relative to
    `image_root`, else absolute) that it names, as an import's list files do."""
    config, arrays = image_parts(model, images, image_root)
    return _rewrite(model, config=config, arrays=arrays)


def image_parts(model: Model, images, image_root=None) -> tuple[dict, dict]:
    """(config keys, code arrays) that give `model` its rows' images (see with_images)."""
    n = len(model.database_codes) + len(model.query_codes)
    ids = {"database_ids": np.arange(len(model.database_codes), dtype=np.int64),
           "query_ids": np.arange(len(model.database_codes), n, dtype=np.int64)}
    if isinstance(images, (list, tuple)) and all(isinstance(p, (str, os.PathLike)) for p in images):
        if len(images) != n:
            raise HashvizError(f"images names {len(images)} paths; the model has {n} rows (database, then query)")
        root = Path(os.path.abspath(image_root)) if image_root else Path(os.path.commonpath(
            [os.path.dirname(os.path.abspath(p)) for p in images]))
        paths = [os.path.relpath(os.path.abspath(root / p), root) for p in images]
        blob, ends = encode_paths(paths)
        spec = {"root": str(root), "paths": PATHS_FILE, "path_ends": PATH_ENDS_FILE,
                "digest": paths_digest(root, blob, ends)}
        arrays = {Path(PATHS_FILE).stem: blob, Path(PATH_ENDS_FILE).stem: ends}
        from hashviz.data.trusted_roots import trust_root
        trust_root(root)        # the operator's own act, as an import: the app may show these images
    else:
        array = display_images(images, n)
        import hashlib
        spec = {"array": IMAGES_FILE, "digest": hashlib.sha256(array.tobytes()).hexdigest()[:16]}
        arrays = {Path(IMAGES_FILE).stem: array}
    return {"images": spec, "image_shape": list(_shape_of(model, arrays))}, {**arrays, **ids}


def _shape_of(model, arrays) -> tuple[int, ...]:
    array = arrays.get(Path(IMAGES_FILE).stem)
    return array.shape[1:] if array is not None else tuple(model.config.get("image_shape") or ())


def display_images(images, n: int) -> np.ndarray:
    """Images as uint8 (n, H, W) grey or (n, H, W, 3) colour for the app's thumbnails: uint8 as they
    are, floats taken as [0, 1]; a trailing channel of 1 dropped."""
    array = _as_numpy(images, "images")
    if len(array) != n or array.ndim not in (3, 4) or (array.ndim == 4 and array.shape[3] not in (1, 3)):
        raise HashvizError(f"images must be an array ({n}, H, W) or ({n}, H, W, 1 or 3) (database rows, then "
                           f"query rows), or a list of {n} paths; got {array.dtype} {array.shape}")
    if array.dtype != np.uint8:
        array = (np.clip(array.astype(np.float32), 0.0, 1.0) * 255.0).round().astype(np.uint8)
    return array[..., 0] if array.ndim == 4 and array.shape[3] == 1 else array


def with_network(model: Model, network: Callable, exportable, input_shape: Sequence[int], images=None) -> Model:
    """`model` holding `network` (live, for this session) and, when `exportable` (a torch.nn.Module
    taking float32 (1, *input_shape)) can be exported, its stored form (hashviz.network_store), so
    the saved model directory encodes uploads too; `images` as with_images (one rewrite for both)."""
    from hashviz.network_store import FORMAT, network_tensors
    config, arrays, weights = ({}, {}, None) if images is None else (*image_parts(model, images), None)
    if exportable is None:
        warnings.warn("the transform is not a torch.nn.Module: the network encodes images in this session, "
                      "but Model.save stores codes only (make the transform a torch.nn.Module to store it)",
                      stacklevel=3)
    else:
        try:
            weights = network_tensors(exportable, tuple(input_shape))
        except HashvizError as exc:
            warnings.warn(f"{exc}; Model.save stores codes only", stacklevel=3)
    if weights is not None:
        import torch
        config.update({"source": "network", "network": {
            "format": FORMAT, "input_shape": [int(s) for s in input_shape],
            "input": "float32 (1, C, H, W) in [0, 1] (uint8 images / 255)",
            "module": type(exportable).__name__, "torch": torch.__version__}})
    model.network = network
    return _rewrite(model, config=config, arrays=arrays, weights=weights) if config or arrays else model
