"""A models root of 50 model directories for discovery checks (tests/test_discovery.py,
bench/discovery.py): copies of the tiny zoo's models, and crafted CSQ configs whose hash centres
would take minutes to hours to build (1024 bits and 20,000 classes; 64 bits and 1,000, 3,000 and
10,000 classes), with codes of the width their config states and the 16-bit model's weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

CRAFTED = {"csq-1024-bits-20000-classes": (1024, 20_000), "csq-64-bits-1000-classes": (64, 1_000),
           "csq-64-bits-3000-classes": (64, 3_000), "csq-64-bits-10000-classes": (64, 10_000)}
COPIES = ("dpsh-16", "csq-16", "dpq-16", "itq-16", "lsh-16")


def crafted_csq(source: Path, out: Path, bits: int, classes: int) -> Path:
    """A copy of the tiny csq-16 whose config asks for `bits` and `classes` (codes widened to match)."""
    shutil.copytree(source, out)
    config = json.loads((out / "config.json").read_text())
    config.update(bits=bits, num_classes=classes, class_names=[f"c{i}" for i in range(classes)])
    (out / "config.json").write_text(json.dumps(config))
    for part in ("database", "query"):
        codes = np.load(out / "codes" / f"{part}.npy")
        np.save(out / "codes" / f"{part}.npy", np.resize(codes, (len(codes), bits // 8)))
    for name in ("outputs_sample", "outputs_sample_rows"):   # 16 outputs per row: drop, not fake
        (out / "codes" / f"{name}.npy").unlink(missing_ok=True)
    return out


def make_root(tiny_zoo: Path, out: Path, size: int = 50) -> Path:
    """`size` model directories under out: the crafted configs, then copies of the tiny zoo."""
    out.mkdir(parents=True)
    for name, (bits, classes) in CRAFTED.items():
        crafted_csq(tiny_zoo / "csq-16", out / name, bits, classes)
    for k in range(size - len(CRAFTED)):
        source = COPIES[k % len(COPIES)]
        shutil.copytree(tiny_zoo / source, out / f"{source}-copy{k:02d}")
    return out
