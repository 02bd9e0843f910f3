"""Small exports of other tools, written by the tests: a DeepHash-pytorch save folder (codes as
torch.sign floats, one-/multi-hot labels, the `<dataset>-<bits>-<mAP>-...npy` names) with its list
files and real PNG and JPEG images, grey and colour, of different sizes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass
class Export:
    save: Path            # the save folder (--deephash-dir)
    data: Path            # the image root (--image-root)
    database_list: Path
    query_list: Path
    database_codes: np.ndarray    # float32 (n, bits) in {-1, 0, +1}, as saved
    query_codes: np.ndarray
    database_labels: np.ndarray   # uint8 (n, C) multi-hot (as in the lists)
    query_labels: np.ndarray
    class_names: tuple[str, ...]


CLASS_NAMES = ("person", "dog", "car", "tree")


def _image(path: Path, index: int, label: np.ndarray) -> None:
    """A picture whose colour follows its first label: PNG grey, JPEG colour, sizes vary."""
    width, height = (48, 32) if index % 2 else (30, 52)
    level = 40 + 50 * int(np.argmax(label))
    if path.suffix == ".png":
        Image.new("L", (width, height), level).save(path)
    else:
        Image.new("RGB", (width, height), (level, 255 - level, 90)).save(path, quality=90)


def _codes(labels: np.ndarray, bits: int, rng: np.random.Generator, noise: float) -> np.ndarray:
    """±1 codes near the OR of per-class prototypes, a few bits flipped, a few exact zeros."""
    prototypes = rng.choice([-1.0, 1.0], size=(labels.shape[1], bits))
    codes = np.sign(labels.astype(np.float32) @ prototypes + 0.5)
    codes[rng.random(codes.shape) < noise] *= -1
    codes[rng.random(codes.shape) < 0.01] = 0.0          # torch.sign(0) = 0
    return codes.astype(np.float32)


def write_deephash_export(root: Path, n_db: int = 36, n_q: int = 6, bits: int = 16, multi_label: bool = True,
                          missing: tuple[int, ...] = (), seed: int = 0, dataset: str = "coco") -> Export:
    """Write save/ (two save sets: the better one must win) and data/ (lists + images) under root.
    Database rows in `missing` get a list line but no image file."""
    rng = np.random.default_rng(seed)
    classes = len(CLASS_NAMES)
    labels = {}
    for part, n in (("database", n_db), ("query", n_q)):
        hot = np.eye(classes, dtype=np.uint8)[np.arange(n) % classes]
        if multi_label:
            every_third = np.arange(0, n, 3)
            hot[every_third, (every_third + 1) % classes] = 1          # every third row has two labels
        labels[part] = hot
    data, save = root / "data", root / "save"
    (data / "images").mkdir(parents=True)
    save.mkdir(parents=True)
    lists = {}
    for part, list_name in (("database", "database.txt"), ("query", "test.txt")):
        lines = []
        for i, hot in enumerate(labels[part]):
            name = f"images/{part}_{i}.{'png' if i % 2 == 0 else 'jpg'}"
            if not (part == "database" and i in missing):
                _image(data / name, i, hot)
            lines.append(name + " " + " ".join(str(int(v)) for v in hot))
        lists[part] = data / list_name
        lists[part].write_text("\n".join(lines) + "\n")
    both = _codes(np.concatenate([labels["database"], labels["query"]]), bits, np.random.default_rng(seed + 1), 0.05)
    codes = {"database": both[:n_db], "query": both[n_db:]}
    worse = np.random.default_rng(seed + 2).choice([-1.0, 1.0], size=both.shape).astype(np.float32)
    for tag, (db, q) in (("0.81234", (codes["database"], codes["query"])), ("0.3", (worse[:n_db], worse[n_db:]))):
        prefix = save / f"{dataset}-{bits}-{tag}-"
        np.save(f"{prefix}trn_binary.npy", db)
        np.save(f"{prefix}tst_binary.npy", q)
        np.save(f"{prefix}trn_label.npy", labels["database"].astype(np.float32))
        np.save(f"{prefix}tst_label.npy", labels["query"].astype(np.float32))
    (save / f"{dataset}-{bits}-0.81234-model.pt").write_bytes(b"not opened")
    return Export(save, data, lists["database"], lists["query"], codes["database"], codes["query"],
                  labels["database"], labels["query"], CLASS_NAMES)


def reference_map_all(query_codes, database_codes, query_labels, database_labels) -> float:
    """mAP@all written out plainly: rank by Hamming distance (sign codes, 0 counted as -1), ties by
    database index; relevant = shares at least one label; AP = mean precision at each relevant
    rank; a query with no relevant item scores 0."""
    q = np.where(query_codes > 0, 1, 0)
    d = np.where(database_codes > 0, 1, 0)
    aps = []
    for i in range(len(q)):
        dist = (q[i] != d).sum(1)
        order = sorted(range(len(d)), key=lambda j: (dist[j], j))
        relevant = [bool((query_labels[i] & database_labels[j]).any()) for j in order]
        hits, precisions = 0, []
        for rank, rel in enumerate(relevant, 1):
            if rel:
                hits += 1
                precisions.append(hits / rank)
        aps.append(sum(precisions) / len(precisions) if precisions else 0.0)
    return float(np.mean(aps))
