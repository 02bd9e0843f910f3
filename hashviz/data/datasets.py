"""Dataset loaders. Every loader returns a `Dataset` of uint8 images and integer labels.

Nothing here unpickles: Fashion-MNIST and MNIST are read from IDX files, CIFAR-10 from its
binary version (not the pickled python version), image folders with Pillow.

A model's config.json names its dataset, and config.json is untrusted: `load_dataset` never
downloads (only `download_dataset`, called from the CLI, does) and reads an image folder only
inside the data roots (`data_roots()`: $HASHVIZ_DATA_ROOTS, the data home, and folders the
operator named on the command line).
"""

from __future__ import annotations

import functools
import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hashviz.errors import HashvizError

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
MNIST_CLASSES = tuple(str(d) for d in range(10))
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")


@dataclass(frozen=True, eq=False)
class Dataset:
    """images: uint8 (N, H, W) or (N, H, W, C); labels: int64 (N,) or multi-hot (N, C)."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    source: str = ""
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    @property
    def channels(self) -> int:
        return 1 if self.images.ndim == 3 else self.images.shape[3]

    @property
    def multilabel(self) -> bool:
        return self.labels.ndim == 2


from hashviz.data.roots import (DATA_ROOTS_ENV, allow_data_root, data_home, data_roots,  # noqa: F401
                                inside_data_roots)


# ---------------------------------------------------------------- IDX (MNIST family)

def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally gzipped) into a uint8 array; truncation is a HashvizError."""
    try:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise HashvizError(f"cannot read IDX file {path}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise HashvizError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise HashvizError(f"IDX file {path} is truncated (header)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise HashvizError(
            f"IDX file {path} is truncated or corrupt: {len(raw) - header} data bytes, "
            f"{expected} expected for shape {shape}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _find_idx(directory: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def load_idx_pair_dir(directory: Path, name: str, class_names) -> Dataset:
    """train then t10k, in file order (index 0..N-1)."""
    images, labels = [], []
    for part in ("train", "t10k"):
        img = _find_idx(directory, f"{part}-images-idx3-ubyte")
        lab = _find_idx(directory, f"{part}-labels-idx1-ubyte")
        if img is None or lab is None:
            raise HashvizError(f"{name}: {part} IDX files missing in {directory}")
        x, y = read_idx(img), read_idx(lab)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise HashvizError(f"{name}: {img.name} and {lab.name} do not match ({x.shape}, {y.shape})")
        images.append(x)
        labels.append(y)
    return Dataset(name, np.concatenate(images), np.concatenate(labels).astype(np.int64),
                   tuple(class_names), source=str(directory))


def _fashion_mnist_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("HASHVIZ_DATA"):
        root = Path(os.environ["HASHVIZ_DATA"])
        dirs += [root / "fashion-mnist", root / "FashionMNIST" / "raw", root]
    dirs += [DEBIAN_FASHION_MNIST, data_home() / "FashionMNIST" / "raw"]
    return dirs


def load_fashion_mnist() -> Dataset:
    for directory in _fashion_mnist_dirs():
        if _find_idx(directory, "train-images-idx3-ubyte"):
            return load_idx_pair_dir(directory, "fashion-mnist", FASHION_MNIST_CLASSES)
    raise HashvizError(
        "Fashion-MNIST not found: install the Debian package (sudo apt-get install "
        f"dataset-fashion-mnist), put its IDX files in $HASHVIZ_DATA/fashion-mnist or run "
        f"`hashviz data download fashion-mnist` (looked in {', '.join(str(d) for d in _fashion_mnist_dirs())})")


def load_mnist() -> Dataset:
    directory = data_home() / "MNIST" / "raw"
    if not _find_idx(directory, "train-images-idx3-ubyte"):
        raise HashvizError(f"MNIST not found in {directory}: put the four IDX files there or run "
                           "`hashviz data download mnist` (needs a network connection)")
    return load_idx_pair_dir(directory, "mnist", MNIST_CLASSES)


def _download_torchvision(kind: str) -> None:
    """Best-effort download through torchvision; silent when offline (the caller reports)."""
    try:
        import torchvision.datasets as tvd
        cls = getattr(tvd, kind)
        for train in (True, False):
            cls(str(data_home()), train=train, download=True)
    except Exception:  # offline, DNS failure, checksum: the caller names what to provide
        pass


# ---------------------------------------------------------------- CIFAR-10 (binary version)

CIFAR_BIN_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR_RECORD = 1 + 32 * 32 * 3


def read_cifar_bin(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 binary batch: records of 1 label byte + 3072 bytes (R, G, B planes)."""
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % CIFAR_RECORD:
        raise HashvizError(f"CIFAR-10 batch {path} is truncated or corrupt ({raw.size} bytes)")
    records = raw.reshape(-1, CIFAR_RECORD)
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), records[:, 0].astype(np.int64)


def load_cifar10() -> Dataset:
    directory = data_home() / "cifar-10-batches-bin"
    files = [directory / f"data_batch_{i}.bin" for i in range(1, 6)] + [directory / "test_batch.bin"]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise HashvizError(f"CIFAR-10 (binary version) not found in {directory} (missing {', '.join(missing)}): "
                           "run `hashviz data download cifar10` (needs a network connection)")
    parts = [read_cifar_bin(f) for f in files]
    return Dataset("cifar10", np.concatenate([p[0] for p in parts]),
                   np.concatenate([p[1] for p in parts]), CIFAR10_CLASSES, source=str(directory))


# ---------------------------------------------------------------- small and custom sets

def load_digits() -> Dataset:
    """sklearn's 1,797 8x8 digits, scaled to uint8 0..255 (tiny, for fast tests)."""
    from sklearn.datasets import load_digits as sk_digits
    bunch = sk_digits()
    images = np.clip(bunch.images * (255.0 / 16.0), 0, 255).round().astype(np.uint8)
    return Dataset("digits", images, bunch.target.astype(np.int64), MNIST_CLASSES, source="sklearn")


def load_image_folder(root: Path, size: int | None = None) -> Dataset:
    """One subfolder per class; images converted to the majority mode (L or RGB) and one size (for
    training; pages read a folder lazily through hashviz.data.images.list_image_folder)."""
    from PIL import Image, UnidentifiedImageError

    from hashviz.data.images import list_image_folder
    root = Path(root)
    inside_data_roots(root)
    files, labels, classes = list_image_folder(root)
    pictures = []
    for i in range(len(files)):
        path = files.path(i)
        try:
            with Image.open(path) as img:
                img.load()
                pictures.append(img.convert("RGB") if img.mode not in ("L", "RGB") else img.copy())
        except (UnidentifiedImageError, OSError) as exc:
            raise HashvizError(f"image folder: cannot read {path}: {exc}") from None
    if not pictures:
        raise HashvizError(f"image folder {root} holds no images")
    grey = sum(p.mode == "L" for p in pictures) * 2 >= len(pictures)
    side = size or pictures[0].size[0]
    mode = "L" if grey else "RGB"
    images = np.stack([np.asarray(p.convert(mode).resize((side, side))) for p in pictures])
    return Dataset(f"folder:{root}", images.astype(np.uint8), np.asarray(labels, dtype=np.int64),
                   tuple(classes), source=str(root))


LOADERS = {
    "fashion-mnist": load_fashion_mnist,
    "mnist": load_mnist,
    "cifar10": load_cifar10,
    "digits": load_digits,
}


@functools.lru_cache(maxsize=4)
def load_dataset(name: str) -> Dataset:
    """Load a dataset by name: fashion-mnist, mnist, cifar10, digits, or folder:/path/to/root (inside
    the data roots). Never downloads (see download_dataset).

    Cached per process; the arrays are read-only so callers cannot corrupt the shared copy.
    """
    if name.startswith("folder:"):
        dataset = load_image_folder(Path(name[len("folder:"):]))
    elif name in LOADERS:
        dataset = LOADERS[name]()
    else:
        raise HashvizError(f"unknown dataset {name!r}; choose one of {', '.join(LOADERS)} "
                           "or folder:/path/to/images")
    dataset.images.setflags(write=False)
    dataset.labels.setflags(write=False)
    return dataset


def _download_cifar10() -> None:
    try:
        from torchvision.datasets.utils import download_and_extract_archive
        download_and_extract_archive(CIFAR_BIN_URL, str(data_home()))
    except Exception:  # offline, DNS failure, checksum: load_dataset names what is missing
        pass


DOWNLOADS = {"fashion-mnist": lambda: _download_torchvision("FashionMNIST"),
             "mnist": lambda: _download_torchvision("MNIST"), "cifar10": _download_cifar10}


def download_dataset(name: str) -> Dataset:
    """Fetch a downloadable dataset into the data home when it is missing, then load it. Only the
    CLI calls this (`hashviz data download`, `hashviz train`): viewing a page never downloads."""
    try:
        return load_dataset(name)
    except HashvizError:
        if name not in DOWNLOADS:
            raise
    DOWNLOADS[name]()
    load_dataset.cache_clear()
    return load_dataset(name)


def list_datasets() -> list[str]:
    return list(LOADERS)
