"""A user's own torch.nn.Module over their images: codes for a database and a query set (the sign of
the network's output is the code), then a model like any other (hashviz.api_models): from_network.

Images may be a torch Dataset (items are images, or (image, label, ...) tuples), an array uint8
(N, H, W[, C]) (floats are taken as [0, 1]) or a list of image file paths. Each image becomes float32
(C, H, W) in [0, 1] (hashviz.network_store.to_input; a Dataset's float tensors are taken as they are),
then `transform` (if any) runs on the batch, then the network.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

from hashviz.errors import HashvizError

__all__ = ["from_network", "encode_images"]


def from_network(net, database_images, query_images, *, database_labels=None, query_labels=None, transform=None,
                 batch_size: int = 256, name=None, class_names=None, progress: bool = True):
    """See hashviz.api.from_network."""
    import torch
    from hashviz.api_models import from_arrays, with_network
    if not isinstance(net, torch.nn.Module):
        raise HashvizError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise HashvizError(f"batch_size must be a positive integer, got {batch_size!r}")
    network = _pipeline(net, transform)
    parts = {}
    for part, images, labels in (("database", database_images, database_labels), ("query", query_images, query_labels)):
        parts[part] = encode_images(network, images, labels, batch_size, f"encoding the {part}" if progress else None)
    (db_codes, db_labels, db_shown, shape), (q_codes, q_labels, q_shown, _) = parts["database"], parts["query"]
    model = from_arrays(db_codes, q_codes, database_labels=db_labels, query_labels=q_labels,
                        name=name or "network", method="own-network",
                        class_names=class_names if class_names is not None else getattr(database_images, "classes", None))
    images = None
    if isinstance(db_shown, list) and isinstance(q_shown, list):
        images = db_shown + q_shown
    elif isinstance(db_shown, np.ndarray) and isinstance(q_shown, np.ndarray) and db_shown.shape[1:] == q_shown.shape[1:]:
        images = np.concatenate([db_shown, q_shown])
    exportable = network if transform is None or isinstance(transform, torch.nn.Module) else None
    return with_network(model, network, exportable, shape, images)


def _pipeline(net, transform):
    import torch
    if transform is None:
        return net.eval()
    if isinstance(transform, torch.nn.Module):
        return torch.nn.Sequential(transform, net).eval()
    if not callable(transform):
        raise HashvizError(f"transform must be callable (a function or a torch.nn.Module), got {type(transform).__name__}")
    net.eval()
    return _Transformed(net, transform)


class _Transformed:
    """net(transform(batch)) for a transform that is a plain function."""

    def __init__(self, net, transform):
        self.net, self.transform = net, transform

    def __call__(self, batch):
        return self.net(self.transform(batch))


def encode_images(network: Callable, images, labels, batch_size: int, desc: str | None):
    """(codes float32 {-1,+1} (n, d), labels, images to show: uint8 array or the paths or None,
    input shape (C, H, W)) of `images` run through `network` in batches."""
    import torch
    source = _source(images)
    if len(source) == 0:
        raise HashvizError("no images to encode")
    found_labels, outputs, shown, shape = [], [], [], None
    bar = _progress(len(source), desc)
    from hashviz.network_store import device_of
    device = device_of(network)
    with torch.no_grad():
        for start in range(0, len(source), batch_size):
            batch, batch_labels = source.batch(start, min(start + batch_size, len(source)))
            shape = shape or tuple(batch.shape[1:])
            if source.keeps_pixels and source.kind != "array":     # an array is shown as it is
                shown.append((batch.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy())
            out = network(batch.to(device))
            if not isinstance(out, torch.Tensor):
                raise HashvizError(f"the network returned {type(out).__name__}; it must return one tensor (B, bits)")
            outputs.append(out.reshape(len(batch), -1).float().cpu().numpy())
            found_labels.extend(batch_labels)
            bar.update(len(batch))
    bar.close()
    codes = np.where(np.concatenate(outputs) > 0, 1.0, -1.0).astype(np.float32)
    labels = labels if labels is not None else (np.asarray(found_labels) if found_labels else None)
    if labels is None:
        raise HashvizError("labels are needed: pass database_labels / query_labels, or a Dataset whose items "
                           "are (image, label)")
    shown_images = source.paths if source.paths is not None else source.items if source.kind == "array" else \
        (np.concatenate(shown) if shown else None)
    return codes, labels, shown_images, shape


def _progress(total: int, desc: str | None):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="img", disable=desc is None)


class _Source:
    """Batches of float32 (B, C, H, W) and their labels from a Dataset, an array or paths."""

    def __init__(self, items, kind: str, paths=None):
        self.items, self.kind, self.paths = items, kind, paths
        self.keeps_pixels = paths is None

    def __len__(self) -> int:
        return len(self.items)

    def batch(self, start: int, stop: int):
        import torch
        from hashviz.network_store import to_input
        if self.kind == "array":
            return to_input(self.items[start:stop]), []
        images, labels = [], []
        for i in range(start, stop):
            item = self.items[i] if self.kind == "dataset" else _read(self.items[i])
            if isinstance(item, (tuple, list)):
                item, labels = item[0], labels + [_plain(item[1])]
            images.append(item if isinstance(item, torch.Tensor) and item.is_floating_point()
                          else to_input(np.asarray(item)[None])[0])
        if any(img.shape != images[0].shape for img in images):
            raise HashvizError(f"images {start}..{stop - 1} differ in size ({images[0].shape} vs others); resize "
                               "them to one size first (a Dataset transform)")
        return torch.stack([img.float() if img.ndim == 3 else img.float()[None] for img in images]), labels


def _plain(label):
    return label.item() if hasattr(label, "item") and getattr(label, "ndim", 1) == 0 else np.asarray(label)


def _read(path) -> np.ndarray:
    from PIL import Image
    try:
        with Image.open(path) as pic:
            grey = pic.mode in ("1", "L", "LA", "I", "I;16", "F")
            return np.asarray(pic.convert("L" if grey else "RGB"), dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise HashvizError(f"cannot read image {path}: {exc}") from None


def _source(images) -> _Source:
    if isinstance(images, (list, tuple)) and images and all(isinstance(p, (str, os.PathLike)) for p in images):
        return _Source(list(images), "paths", paths=[os.fspath(p) for p in images])
    if isinstance(images, np.ndarray) or (hasattr(images, "__array__") and not hasattr(images, "__getitem__")):
        return _Source(np.asarray(images), "array")
    if hasattr(images, "__getitem__") and hasattr(images, "__len__"):
        return _Source(images, "dataset")     # a torch Dataset or tensor: item by item
    raise HashvizError(f"images must be a torch Dataset, an array (N, H, W[, C]) or a list of paths, got "
                       f"{type(images).__name__}")
