"""Thumbnails of the images a list file names, and `check-lists` on a NUS-WIDE-sized list (issue 28
#13, issue 26 #4), printed as figures.

    python bench/list_images.py [--code DIR]      # DIR: another checkout's repository root

Part 1: each case runs in a fresh subprocess that reads thumbnails through FileImages; the figure
is the process's peak RSS growth (VmHWM after minus VmRSS before) and the wall time:
  - a 13000x13000 8-bit PNG (169 MP in ~170 KB), one tile, then a top 30 naming it on 30 rows;
  - a 4000x4000 RGB PNG (16 MP, the largest under the cap), one tile.
Part 2: hashviz.list_checks.check_lists on a 195,000-row list of 81 labels (the size of NUS-WIDE's
database.txt) whose images do not exist (path checks and one failed open each), and on 2,000 rows
naming real PNG files (the first bytes of each read).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "bad_inputs"))

CHILD = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
from hashviz.data.images import FileImages
import PIL.Image, PIL.PngImagePlugin
rows = int(sys.argv[4])
images = FileImages(sys.argv[2], [sys.argv[3]] * rows)
before = status("VmRSS:")
start = time.perf_counter()
tiles = [images[i] for i in range(rows)]
print(f"{(status('VmHWM:') - before) / 2**20:.0f} {time.perf_counter() - start:.2f} {tiles[0].shape}")
"""


def _huge_png(path: Path, side: int) -> None:
    from list_corpus import _huge_png as write
    path.write_bytes(write(side, side))


def _thumbnails(code: Path, folder: Path) -> None:
    from PIL import Image
    _huge_png(folder / "huge.png", 13000)
    ramp = np.linspace(0, 255, 4000, dtype=np.float32)
    rgb = np.stack([np.add.outer(ramp, ramp) / 2, np.tile(ramp, (4000, 1)), np.tile(ramp[:, None], (1, 4000))], -1)
    Image.fromarray(rgb.astype(np.uint8)).save(folder / "16mp.png")
    print("thumbnails (fresh process each): peak RSS growth, wall time, tile shape")
    for name, rows in (("huge.png", 1), ("huge.png", 30), ("16mp.png", 1)):
        out = subprocess.run([sys.executable, "-c", CHILD, str(code), str(folder), name, str(rows)],
                             capture_output=True, text=True, check=True).stdout.split(" ", 2)
        size = f"{(folder / name).stat().st_size / 1024:.0f} KB"
        print(f"  {name:9s} ({size}) x {rows:2d} rows: +{out[0]} MB, {out[1]} s, {out[2].strip()}")


def _check_lists(code: Path, folder: Path) -> None:
    sys.path.insert(0, str(code))
    from hashviz.list_checks import check_lists
    from PIL import Image
    rng = np.random.default_rng(0)
    labels = rng.random((195_000, 81)) < 0.03
    rows = ["images/" + f"{i // 1000:03d}/{i:06d}.jpg " + " ".join("1" if v else "0" for v in row)
            for i, row in enumerate(labels)]
    big = folder / "database.txt"
    big.write_text("\n".join(rows) + "\n")
    start = time.perf_counter()
    report = check_lists([big], folder)
    print(f"check_lists, 195,000 rows x 81 labels, images missing: {time.perf_counter() - start:.1f} s "
          f"({report.counts['missing']:,} missing, {report.counts['zero']:,} all-zero rows)")
    (folder / "real").mkdir()
    for i in range(2000):
        Image.new("L", (8, 8), i % 256).save(folder / "real" / f"{i}.png")
    small = folder / "real.txt"
    small.write_text("\n".join(f"real/{i}.png 1 0" for i in range(2000)) + "\n")
    start = time.perf_counter()
    report = check_lists([small], folder)
    print(f"check_lists, 2,000 rows naming real PNGs: {time.perf_counter() - start:.2f} s "
          f"({sum(report.counts.values())} problems)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", default=str(REPO), help="repository root whose hashviz is measured")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _thumbnails(Path(args.code), Path(tmp))
        _check_lists(Path(args.code), Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
