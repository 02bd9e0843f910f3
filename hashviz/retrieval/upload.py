"""Uploaded pictures made into queries: decoded, converted to the dataset's size and channels, with
every step said."""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from hashviz.data.pixels import MAX_IMAGE_PIXELS as MAX_UPLOAD_PIXELS
from hashviz.data.pixels import EXIF_TURNS, exif_orientation, flatten, shrink, to_8bit, undo_orientation
from hashviz.errors import HashvizError


@dataclass(frozen=True, eq=False)
class Upload:
    """A decoded upload: image uint8 in the dataset's shape and the steps taken, in order."""

    image: np.ndarray
    notes: list[str]
    name: str = ""


def dark_background(images: np.ndarray, sample: int = 500) -> bool:
    """Whether a dataset shows light objects on a dark background (MNIST-like): the mean of the
    border pixels of its first `sample` images is below a quarter of full scale."""
    pics = np.asarray(images[:sample], dtype=np.float32)
    border = np.concatenate([pics[:, 0].ravel(), pics[:, -1].ravel(), pics[:, :, 0].ravel(), pics[:, :, -1].ravel()])
    return bool(border.mean() < 64)


INVERT_CHOICES = {"auto": None, "yes": True, "no": False}   # the page's labels -> decode_upload(invert=)


def decode_upload(data: bytes, shape: Sequence[int], *, name: str = "", dark: bool = False,
                  invert: bool | None = None, max_bytes: int | None = None,
                  max_pixels: int = MAX_UPLOAD_PIXELS) -> Upload:
    """PNG/JPEG bytes -> uint8 image of `shape` (H, W) or (H, W, C), with what was done.

    Refuses empty, non-image, damaged, over `max_bytes` and over `max_pixels` files with a HashvizError
    (a demo server's caps are smaller: hashviz.deployment).
    Handles EXIF rotation, palette, alpha (flattened on white, or on black when the visible pixels
    are mostly light), CMYK, 16-bit and 32-bit greyscale; then converts to the dataset's channels,
    centre-crops to its aspect ratio and resizes. `dark`: the dataset has light objects on a dark
    background; invert None = invert when the picture has a light background and the dataset a
    dark one (True/False force it). The decoding is cached by content, shape and cap (the last
    UPLOAD_CACHE_SIZE uploads), so a rerun or an Invert change decodes nothing again.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3):
        raise HashvizError(f"target shape must be (H, W) or (H, W, C), got {shape}")
    if not data:
        raise HashvizError("the uploaded file is empty (0 bytes); choose a PNG or JPEG image")
    if max_bytes is not None and len(data) > max_bytes:
        raise HashvizError(f"the file is {len(data) / 2**20:.1f} MB; this server takes images up to "
                           f"{max_bytes / 2**20:.1f} MB")
    key = (hashlib.sha256(data).hexdigest(), shape, max_pixels)
    with _DECODED_LOCK:     # every session's uploads share the cache
        decoded = _DECODED.get(key)
    if decoded is None:
        decoded = _decode(data, shape, max_pixels)     # outside the lock: one slow file delays no one
        with _DECODED_LOCK:
            _DECODED[key] = decoded
            while len(_DECODED) > UPLOAD_CACHE_SIZE:
                _DECODED.pop(next(iter(_DECODED)))
    image, notes = decoded
    notes = list(notes)
    if invert if invert is not None else (dark and _border_mean(image) > 127):
        image = 255 - image
        why = "" if invert is not None else " (light background; the dataset has light objects on dark)"
        notes.append("inverted" + why)
    return Upload(np.ascontiguousarray(image), notes, name)


UPLOAD_CACHE_SIZE = 16                      # decoded uploads kept: dataset-sized images, a few KB each
_DECODED: dict[tuple, tuple[np.ndarray, tuple[str, ...]]] = {}
_DECODED_LOCK = threading.Lock()


def _decode(data: bytes, shape: tuple, max_pixels: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """The uninverted image in `shape` and the notes. Memory stays near the decoded picture
    (<= 4 bytes a pixel, 64 MB at MAX_UPLOAD_PIXELS): JPEGs decode at reduced scale, anything else
    is shrunk by an integer factor straight after decoding, before any conversion copies it."""
    from PIL import Image, UnidentifiedImageError
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            pic = Image.open(io.BytesIO(data))
            if pic.format not in ("PNG", "JPEG"):
                raise HashvizError(f"the file is a {pic.format} image; upload a PNG or JPEG")
            w, h = pic.size
            if w * h > max_pixels:
                raise HashvizError(f"the image is {w}×{h} = {w * h / 1e6:.0f} megapixels; the limit is "
                                   f"{max_pixels / 1e6:.0f} MP: scale it down first")
            if pic.format == "JPEG":   # let libjpeg decode at 1/2, 1/4 or 1/8 scale when that is plenty
                pic.draft(pic.mode, (max(64, 4 * shape[1]), max(64, 4 * shape[0])))
            pic.load()
    except HashvizError:
        raise
    except UnidentifiedImageError:
        raise HashvizError("the file is not a PNG or JPEG image that can be read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise HashvizError(f"the image has too many pixels (limit {max_pixels / 1e6:.0f} MP)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise HashvizError(f"the image is truncated or damaged and cannot be decoded ({exc})") from None
    read_mode, orientation = pic.mode, exif_orientation(pic)
    notes.append(f"read a {pic.format} image, {w}×{h}, mode {pic.mode}")
    if pic.size != (w, h):
        notes.append(f"decoded at reduced scale, {pic.size[0]}×{pic.size[1]}")
    pic = _shrink(pic, shape, notes)
    if orientation in EXIF_TURNS:
        pic = undo_orientation(pic, orientation)
        notes.append("rotated as its EXIF orientation says")
    pic = to_8bit(pic, notes, read_mode)
    pic = flatten(pic, notes)
    channels = 1 if len(shape) == 2 else shape[2]
    if channels == 1 and pic.mode != "L":
        pic = pic.convert("L")
        notes.append("converted to greyscale (the dataset has 1 channel)")
    elif channels == 3 and pic.mode != "RGB":
        was = pic.mode
        pic = pic.convert("RGB")
        notes.append(f"converted {was} to RGB (the dataset has 3 channels)")
    elif channels not in (1, 3):
        raise HashvizError(f"the dataset has {channels} channels; uploads support 1 or 3")
    pic = _crop_resize(pic, shape[0], shape[1], notes)
    image = np.asarray(pic, dtype=np.uint8)
    if channels == 1 and image.ndim == 3:
        image = image[..., 0]
    image = image.reshape(shape)
    image.setflags(write=False)
    return image, tuple(notes)


def _shrink(pic, shape: tuple, notes: list[str]):
    """Box-average by the largest integer factor that keeps >= 4x the target size."""
    w, h = pic.size
    return shrink(pic, min(w // (4 * shape[1]), h // (4 * shape[0])), notes)


def _crop_resize(pic, height: int, width: int, notes):
    from PIL import Image
    w, h = pic.size
    target = width / height
    if abs(w / h - target) > 1e-6:
        if w / h > target:
            new_w = max(1, round(h * target))
            left = (w - new_w) // 2
            box = (left, 0, left + new_w, h)
        else:
            new_h = max(1, round(w / target))
            top = (h - new_h) // 2
            box = (0, top, w, top + new_h)
        pic = pic.crop(box)
        notes.append(f"centre-cropped {w}×{h} to {pic.size[0]}×{pic.size[1]}")
    if pic.size != (width, height):
        was = pic.size
        pic = pic.resize((width, height), Image.Resampling.LANCZOS if was[0] > width else Image.Resampling.BICUBIC)
        notes.append(f"resized {was[0]}×{was[1]} to {width}×{height}")
    return pic


def _border_mean(image: np.ndarray) -> float:
    img = image.astype(np.float32)
    return float(np.concatenate([img[0].ravel(), img[-1].ravel(), img[:, 0].ravel(), img[:, -1].ravel()]).mean())


