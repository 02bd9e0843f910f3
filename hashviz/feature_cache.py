"""Frozen pretrained features, computed once per image set and resolution and kept on disk.

A frozen backbone (hashviz.pretrained) gives every method and seed the same features, so they are
computed once for a whole dataset and stored as float16 (n, 1280) in the cache folder
(<cache>/features/); a run then reads the rows it needs. The file name holds the backbone, the
resolution and a sha256 over the images (shape, dtype, bytes) and the backbone weights' digest:
other images (another dataset or slice of one), another resolution or other weights give another
file, so a stale file is never read.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

BATCH = 64
#: images whose features this process computed (read by the tests: a cache hit adds nothing)
computed_images = 0


def features_path(images: np.ndarray, resolution: int) -> Path:
    from hashviz.pretrained import NAME, cache_folder, weights_digest
    digest = hashlib.sha256()
    digest.update(f"{images.shape}|{images.dtype}|{resolution}|{weights_digest()}".encode())
    digest.update(np.ascontiguousarray(images).data)
    return cache_folder() / "features" / f"{NAME}-{resolution}px-{digest.hexdigest()[:20]}.npy"


def cached_features(images: np.ndarray, resolution: int, progress=None) -> np.ndarray:
    """uint8 images (n, H, W[, C]) -> float16 (n, 1280), read from the cache or computed (with
    progress(done, total) after every batch) and written there atomically."""
    path = features_path(images, resolution)
    if path.is_file():
        features = np.load(path, mmap_mode="r")
        if features.shape == (len(images), 1280) and features.dtype == np.float16:
            return features
    features = compute_features(images, resolution, progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npy")
    np.save(partial, features)
    os.replace(partial, path)
    return features


def compute_features(images: np.ndarray, resolution: int, progress=None) -> np.ndarray:
    """The frozen backbone's features of uint8 images, float16 (n, 1280), with no cache."""
    import torch

    from hashviz.nets import to_tensor
    from hashviz.pretrained import EfficientNetLite0Features
    global computed_images
    backbone = EfficientNetLite0Features(resolution)
    backbone.load_imagenet()
    backbone.eval()
    out = np.empty((len(images), 1280), dtype=np.float16)
    with torch.inference_mode():
        for start in range(0, len(images), BATCH):
            batch = images[start:start + BATCH]
            out[start:start + len(batch)] = backbone(to_tensor(batch)).numpy()
            computed_images += len(batch)
            if progress:
                progress(start + len(batch), len(images))
    return out
