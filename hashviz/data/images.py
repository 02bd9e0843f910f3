"""Images on demand: one interface over an in-memory array, a file list and an image folder.

`source[i]` is image i as uint8 (H, W) grey or (H, W, 3) colour. `ArrayImages` hands back rows of
an array already in memory (Fashion-MNIST keeps its fast path). `FileImages` reads a file only when
a page shows it and keeps a bounded LRU cache of thumbnails, one per file (longer side at most `side`
pixels, aspect kept), so memory follows what is on screen, not the database size; the paths
themselves stay on disk (memory-mapped UTF-8 bytes). A missing, unreadable, oversized or
unresolvable file becomes a placeholder tile that shows its path, never an error.
"""

from __future__ import annotations

import re
import textwrap
import threading
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import numpy as np

from hashviz.data.datasets import list_image_folder
from hashviz.data.pixels import (IMAGE_FORMATS, MAX_IMAGE_PIXELS, exif_orientation, flatten, image_format, shrink,
                                 to_8bit, undo_orientation)
from hashviz.data.roots import inside_data_roots
from hashviz.errors import HashvizError

__all__ = ["ArrayImages", "CONTROL_CHARS", "FileImages", "IMAGE_FORMATS", "IMAGES_FILE", "MAX_PATH_BYTES", "PATHS_FILE", "PATH_ENDS_FILE",
           "PathTable", "encode_paths", "folder_images", "image_format", "image_path_table", "image_set_key",
           "model_images", "paths_digest", "placeholder", "read_thumbnail", "references_files", "stored_images"]

THUMB_SIDE = 160        # longest side of a cached thumbnail (the detail view's size)
CACHE_ITEMS = 512       # thumbnails kept per source: 512 x 160 x 160 x 3 bytes is at most 39 MB
PATHS_FILE = "codes/image_paths.npy"       # in a model directory: uint8, the UTF-8 bytes of every path in a row
PATH_ENDS_FILE = "codes/image_path_ends.npy"   # int64 (n,): where each path's bytes end (database rows, then query)
MAX_PATH_BYTES = 4096   # PATH_MAX on Linux: no image file has a longer name
# C0, DEL, C1 and the Unicode line/paragraph separators: they break paths, pages and terminals
CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class ArrayImages:
    """Images already in memory: uint8 (N, H, W) or (N, H, W, C); indexing is the array's own."""

    def __init__(self, images: np.ndarray):
        self.array = images

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index):
        return self.array[index]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    def describe(self, index: int) -> str:
        return f"image {int(index)}"


class FileImages:
    """Image files under `root` named by `paths` (str or UTF-8 bytes, relative to root or
    absolute), read lazily into an LRU cache of `cache_items` thumbnails kept per file (rows that
    name the same file share one)."""

    def __init__(self, root, paths: Sequence, side: int = THUMB_SIDE, cache_items: int = CACHE_ITEMS):
        self.root = Path(root)
        self.paths = paths
        self.side = int(side)
        self.cache_items = int(cache_items)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.paths)

    def path(self, index: int) -> Path:
        name = self.paths[int(index)]
        return self.root / (name.decode("utf-8", "replace") if isinstance(name, (bytes, np.bytes_)) else str(name))

    def describe(self, index: int) -> str:
        return str(self.path(index))

    def __getitem__(self, index) -> np.ndarray:
        index = int(index)
        if not 0 <= index < len(self.paths):
            raise IndexError(f"image {index} is outside 0..{len(self.paths) - 1}")
        path = self.path(index)
        key = str(path)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        thumb = self._read(path)
        thumb.setflags(write=False)
        with self._lock:
            self._cache[key] = thumb
            while len(self._cache) > self.cache_items:
                self._cache.popitem(last=False)
        return thumb

    def _read(self, path: Path) -> np.ndarray:
        """The thumbnail of a path that stays inside the root, else a placeholder saying why."""
        if CONTROL_CHARS.search(str(path)):
            return placeholder(path, self.side, "named with control characters")
        try:
            inside = path.resolve().is_relative_to(self.root.resolve())      # a path never leaves its root
        except (OSError, ValueError, RuntimeError):        # too long, a link loop, an undecodable name
            return placeholder(path, self.side, "at a path that cannot be resolved")
        return read_thumbnail(path, self.side) if inside else placeholder(path, self.side, "outside its root")

    @property
    def cached(self) -> int:
        return len(self._cache)


def read_thumbnail(path: Path, side: int = THUMB_SIDE, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """One image file as uint8 (h, w) grey or (h, w, 3) colour with max(h, w) <= side, aspect
    kept (never enlarged), decoded as uploads are (hashviz.data.pixels); a placeholder naming the
    path when it is missing, not one of IMAGE_FORMATS, over `max_pixels` by its header, or fails
    to decode in any way."""
    from PIL import Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)    # the cap below is lower
            with Image.open(path, formats=IMAGE_FORMATS) as pic:
                w, h = pic.size
                if w * h > max_pixels:
                    return placeholder(path, side, f"too large ({w}×{h} pixels)")
                pic.draft(pic.mode, (side, side))            # JPEG: libjpeg decodes at 1/2..1/8 scale
                pic.load()
                return _to_thumbnail(pic, side)
    except FileNotFoundError:
        return placeholder(path, side, "missing")
    except Exception:      # decoders raise many types on damaged files; none may break a page
        return placeholder(path, side, "unreadable")


def _to_thumbnail(pic, side: int) -> np.ndarray:
    notes: list[str] = []
    read_mode, orientation = pic.mode, exif_orientation(pic)
    pic = shrink(pic, max(pic.size) // (2 * side), notes)         # box-reduce first: conversions stay small
    pic = undo_orientation(pic, orientation)
    pic = flatten(to_8bit(pic, notes, read_mode), notes)
    pic = pic.convert("L" if read_mode in _GREY_MODES else "RGB")
    pic.thumbnail((side, side))
    return np.asarray(pic, dtype=np.uint8).copy()


_GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F")


def placeholder(path, side: int = THUMB_SIDE, why: str = "missing") -> np.ndarray:
    """A grey uint8 (side, side, 3) tile saying why the image is not shown, with its path
    (control characters drawn as '?')."""
    from PIL import Image, ImageDraw
    pic = Image.new("RGB", (side, side), (225, 225, 225))
    draw = ImageDraw.Draw(pic)
    draw.rectangle((0, 0, side - 1, side - 1), outline=(160, 160, 160))
    text = CONTROL_CHARS.sub("?", str(path)[:2000])
    lines = [f"image {why}:"] + textwrap.wrap(text, width=max(8, side // 7), break_on_hyphens=False)
    lines = lines[:side // 12]
    for i, line in enumerate(lines):
        try:
            draw.text((4, 4 + 11 * i), line, fill=(90, 90, 90))
        except (UnicodeError, ValueError):      # a bitmap font without the glyphs
            draw.text((4, 4 + 11 * i), line.encode("ascii", "replace").decode("ascii"), fill=(90, 90, 90))
    return np.asarray(pic)


def folder_images(root) -> tuple[FileImages, np.ndarray, tuple[str, ...]]:
    """An image folder (one subfolder per class) as (lazy FileImages, int64 labels (n,), class
    names); lists file names only (hashviz.data.datasets.list_image_folder), decodes nothing."""
    paths, labels, classes = list_image_folder(inside_data_roots(Path(root)))
    return FileImages(root, paths), labels, classes


def references_files(model) -> bool:
    """Whether a model directory names image files (an import with list files)."""
    return isinstance(model.config.get("images"), dict)


def image_set_key(model) -> str:
    """Models with equal keys index the same images by the same ids (comparable side by side)."""
    spec = model.config.get("images")
    return f"files:{spec.get('digest', model.path)}" if isinstance(spec, dict) else f"dataset:{model.dataset}"


def model_images(model) -> FileImages | None:
    """The image files an imported model references (config "images": root + its path table,
    rows = database then query), or None when it references none. The paths stay memory-mapped. The
    root must lie inside the data roots ($HASHVIZ_DATA_ROOTS, the data home), else HashvizError."""
    spec = model.config.get("images")
    if isinstance(spec, dict) and spec.get("array") == IMAGES_FILE:
        return ArrayImages(stored_images(model))
    if not isinstance(spec, dict) or not isinstance(spec.get("root"), str):
        return None
    inside_data_roots(Path(spec["root"]))        # config.json is untrusted: only roots the operator allows
    return FileImages(spec["root"], image_path_table(model))


IMAGES_FILE = "codes/images.npy"   # images kept in the model directory itself (hv.from_arrays / from_network)


def stored_images(model) -> np.ndarray:
    """uint8 (n_database + n_query, H, W[, C]) images a model directory holds itself (rows =
    database then query, like its paths), memory-mapped; HashvizError when damaged. They come from
    the directory like its codes, so no data root is involved."""
    images = _npy_mmap(model, IMAGES_FILE)
    expected = len(model.database_codes) + len(model.query_codes)
    if images.dtype != np.uint8 or images.ndim not in (3, 4) or len(images) != expected or \
            (images.ndim == 4 and images.shape[3] not in (1, 3)):
        raise HashvizError(f"{model.name}: {IMAGES_FILE} must be uint8 ({expected}, H, W[, 1 or 3]), "
                           f"got {images.dtype} {images.shape}")
    return images


class PathTable(Sequence):
    """Paths stored as one byte blob and the end offset of each (n,): row i is blob[ends[i-1]:ends[i]]
    as bytes. A table of paths costs their total length, whatever the longest one."""

    def __init__(self, blob: np.ndarray, ends: np.ndarray):
        self.blob, self.ends = blob, ends

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, index):
        index = int(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"path {index} is outside 0..{len(self) - 1}")
        index %= len(self)
        start = int(self.ends[index - 1]) if index else 0
        return bytes(self.blob[start:int(self.ends[index])])


def image_path_table(model) -> Sequence:
    """The paths (bytes) of a model that names image files: codes/image_paths.npy + image_path_ends.npy,
    memory-mapped and checked (one path per database and query row, none over MAX_PATH_BYTES), or an
    older fixed-width bytes array. HashvizError when they are damaged."""
    expected = len(model.database_codes) + len(model.query_codes)
    blob, ends = _npy_mmap(model, PATHS_FILE), None
    if blob.ndim == 1 and blob.dtype.kind == "S":          # written before path tables
        if len(blob) != expected:
            raise HashvizError(f"{model.name}: {PATHS_FILE} must hold {expected} paths, got {len(blob)}")
        return blob
    if (Path(model.path) / PATH_ENDS_FILE).is_file():
        ends = _npy_mmap(model, PATH_ENDS_FILE)
    if blob.ndim != 1 or blob.dtype != np.uint8 or ends is None or ends.ndim != 1 or ends.dtype.kind not in "iu":
        raise HashvizError(f"{model.name}: {PATHS_FILE} must be uint8 bytes with {PATH_ENDS_FILE} beside it "
                           f"(int ends, one per path)")
    lengths = np.diff(np.asarray(ends, dtype=np.int64), prepend=0)
    longest = 2 * MAX_PATH_BYTES        # a listed path made absolute: the root and the path
    if len(ends) != expected or (lengths < 0).any() or (lengths > longest).any() or int(ends[-1]) != len(blob):
        raise HashvizError(f"{model.name}: {PATH_ENDS_FILE} must give {expected} increasing ends, each path at "
                           f"most {longest} bytes, the last at {len(blob)}")
    return PathTable(blob, ends)


def _npy_mmap(model, name: str) -> np.ndarray:
    file = Path(model.path) / name
    try:
        with open(file, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                raise HashvizError(f"{model.name}: {name} is not a .npy file")
        return np.load(file, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise HashvizError(f"{model.name}: cannot read {name} ({exc})") from None


def encode_paths(paths: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Paths as (blob uint8, ends int64 (n,)) for np.save without pickling (PathTable reads them)."""
    encoded = [p.encode("utf-8") for p in paths]
    ends = np.cumsum([len(e) for e in encoded], dtype=np.int64)
    return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), ends


def paths_digest(root, blob: np.ndarray, ends: np.ndarray) -> str:
    """A short content key of an image root and its paths (which imports share their images)."""
    import hashlib
    digest = hashlib.sha256(str(root).encode("utf-8"))
    digest.update(np.ascontiguousarray(blob).tobytes())
    digest.update(np.ascontiguousarray(ends, dtype="<i8").tobytes())
    return digest.hexdigest()[:16]
