"""Images on demand: one interface over an in-memory array, a file list and an image folder.

`source[i]` is image i as uint8 (H, W) grey or (H, W, 3) colour. `ArrayImages` hands back rows of
an array already in memory (Fashion-MNIST keeps its fast path). `FileImages` reads a file only when
a page shows it and keeps a bounded LRU cache of thumbnails (longer side at most `side` pixels,
aspect kept), so memory follows what is on screen, not the database size; the paths themselves
stay on disk (a memory-mapped .npy of UTF-8 bytes). A missing or unreadable file becomes a
placeholder tile that shows its path, never an error.
"""

from __future__ import annotations

import textwrap
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import numpy as np

from hashviz.errors import HashvizError

THUMB_SIDE = 160        # longest side of a cached thumbnail (the detail view's size)
CACHE_ITEMS = 512       # thumbnails kept per source: 512 x 160 x 160 x 3 bytes is at most 39 MB
PATHS_FILE = "codes/image_paths.npy"    # in a model directory: database rows then query rows
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


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
    absolute), read lazily into an LRU cache of `cache_items` thumbnails."""

    def __init__(self, root, paths: Sequence, side: int = THUMB_SIDE, cache_items: int = CACHE_ITEMS):
        self.root = Path(root)
        self.paths = paths
        self.side = int(side)
        self.cache_items = int(cache_items)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
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
        with self._lock:
            if index in self._cache:
                self._cache.move_to_end(index)
                return self._cache[index]
        path = self.path(index)
        inside = path.resolve().is_relative_to(self.root.resolve())      # a path never leaves its root
        thumb = read_thumbnail(path, self.side) if inside else placeholder(path, self.side, "outside its root")
        thumb.setflags(write=False)
        with self._lock:
            self._cache[index] = thumb
            while len(self._cache) > self.cache_items:
                self._cache.popitem(last=False)
        return thumb

    @property
    def cached(self) -> int:
        return len(self._cache)


def read_thumbnail(path: Path, side: int = THUMB_SIDE) -> np.ndarray:
    """One image file as uint8 (h, w) grey or (h, w, 3) colour with max(h, w) <= side, aspect
    kept (never enlarged); a placeholder naming the path when it cannot be read."""
    from PIL import Image, ImageOps
    try:
        with Image.open(path) as pic:
            pic.draft("RGB" if pic.mode not in ("L", "1") else "L", (side, side))   # JPEG: decode small
            pic = ImageOps.exif_transpose(pic)
            grey = pic.mode in ("L", "LA", "1", "I", "I;16", "F")
            pic = pic.convert("L" if grey else "RGB")
            pic.thumbnail((side, side))
            return np.asarray(pic, dtype=np.uint8).copy()
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        return placeholder(path, side, "missing" if isinstance(exc, FileNotFoundError) else "unreadable")


def placeholder(path, side: int = THUMB_SIDE, why: str = "missing") -> np.ndarray:
    """A grey uint8 (side, side, 3) tile saying the image is missing/unreadable, with its path."""
    from PIL import Image, ImageDraw
    pic = Image.new("RGB", (side, side), (225, 225, 225))
    draw = ImageDraw.Draw(pic)
    draw.rectangle((0, 0, side - 1, side - 1), outline=(160, 160, 160))
    lines = [f"image {why}:"] + textwrap.wrap(str(path), width=max(8, side // 7), break_on_hyphens=False)
    lines = lines[:side // 12]
    for i, line in enumerate(lines):
        draw.text((4, 4 + 11 * i), line, fill=(90, 90, 90))
    return np.asarray(pic)


def list_image_folder(root) -> tuple[FileImages, np.ndarray, tuple[str, ...]]:
    """An image folder (one subfolder per class) as (lazy FileImages, int64 labels (n,), class
    names); lists file names only, decodes nothing."""
    root = Path(root)
    if not root.is_dir():
        raise HashvizError(f"image folder {root} does not exist")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise HashvizError(f"image folder {root} has no class subfolders")
    paths, labels = [], []
    for label, cls in enumerate(classes):
        for path in sorted((root / cls).iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                paths.append(f"{cls}/{path.name}")
                labels.append(label)
    if not paths:
        raise HashvizError(f"image folder {root} holds no images")
    return FileImages(root, paths), np.asarray(labels, dtype=np.int64), tuple(classes)


def references_files(model) -> bool:
    """Whether a model directory names image files (an import with list files)."""
    return isinstance(model.config.get("images"), dict)


def image_set_key(model) -> str:
    """Models with equal keys index the same images by the same ids (comparable side by side)."""
    spec = model.config.get("images")
    return f"files:{spec.get('digest', model.path)}" if isinstance(spec, dict) else f"dataset:{model.dataset}"


def model_images(model) -> FileImages | None:
    """The image files an imported model references (config "images": root + codes/image_paths.npy,
    rows = database then query), or None when it references none. The paths stay memory-mapped. The
    root must lie inside the data roots ($HASHVIZ_DATA_ROOTS, the data home), else HashvizError."""
    from hashviz.data.roots import inside_data_roots
    spec = model.config.get("images")
    if not isinstance(spec, dict) or not isinstance(spec.get("root"), str):
        return None
    inside_data_roots(Path(spec["root"]))        # config.json is untrusted: only roots the operator allows
    file = Path(model.path) / PATHS_FILE
    try:
        with open(file, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                raise HashvizError(f"{model.name}: {PATHS_FILE} is not a .npy file")
        paths = np.load(file, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise HashvizError(f"{model.name}: cannot read {PATHS_FILE} ({exc})") from None
    expected = len(model.database_codes) + len(model.query_codes)
    if paths.ndim != 1 or paths.dtype.kind != "S" or len(paths) != expected:
        raise HashvizError(f"{model.name}: {PATHS_FILE} must hold {expected} paths (bytes), "
                           f"got {paths.dtype} {paths.shape}")
    return FileImages(spec["root"], paths)


def encode_paths(paths: Sequence[str]) -> np.ndarray:
    """Paths as a fixed-width bytes array (UTF-8) for np.save without pickling."""
    return np.array([p.encode("utf-8") for p in paths], dtype=bytes)


def paths_digest(root, encoded: np.ndarray) -> str:
    """A short content key of an image root and its paths (which imports share their images)."""
    import hashlib
    digest = hashlib.sha256(str(root).encode("utf-8"))
    digest.update(np.ascontiguousarray(encoded).tobytes())
    return digest.hexdigest()[:16]
