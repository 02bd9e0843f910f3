"""Answer time of each lens (hashviz.lenses) on the shipped Fashion-MNIST zoo, goal < 0.5 s each.

    python bench/lenses.py                       # csq-16, csq-32, csq-64 from models/
    python bench/lenses.py --models itq-32 dpsh-32 --repeats 3

"Once data is cached" means what the app holds after the first visit: the model's codes, its flat /
hash / ivf indexes and the 2-D map; only the lens's own work is timed (best of --repeats). The map
for projection trust is the PCA view of the default 5,000-point sample (UMAP positions take as long
to judge as any other positions). Prints one line per model and lens: seconds and the ratio to the
0.5 s goal, then the answer itself.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hashviz import codemap  # noqa: E402
from hashviz.lenses import bitflip, cube, lookup, parity, trust  # noqa: E402
from hashviz.search import model_index  # noqa: E402
from hashviz.zoo import load_model_dir  # noqa: E402
from bench._timing import best_of  # noqa: E402

GOAL = 0.5


def bench_model(path: Path, repeats: int) -> None:
    model = load_model_dir(path)
    db, queries, labels = model.database_codes, model.query_codes, model.database_labels
    n_classes = len(model.config.get("class_names") or np.unique(labels))
    indexes = {kind: model_index(model, kind) for kind in ("flat", "hash", "ivf")}
    code = queries[:1]
    xy, rows = codemap.code_map_projection(model, "pca", codemap.DEFAULT_SAMPLE, 0, cache_dir=tempfile.mkdtemp())
    lenses = {
        "bit-flip probe (flip bit 0, n=20, r=3) + class split":
            lambda: (bitflip.flip_probe(indexes["flat"], code, [0], 20, 3),
                     bitflip.bit_class_split(db, labels, n_classes), bitflip.bit_side_examples(db, 0)),
        "hash-lookup grid (k=100, 250-query sample)": lambda: lookup.lookup_grid(db, queries, 100),
        "collisions (worst 10)": lambda: lookup.collisions(db, labels, 10),
        "hamming cube (256 nodes)": lambda: cube.hamming_cube(db, labels),
        "projection trust (k=10)": lambda: trust.projection_trust(db[rows], xy, 10),
        "backend parity (flat/hash/ivf, n=20)": lambda: parity.backend_parity(indexes, code, 20, db),
    }
    print(f"\n{model.name}: {len(db):,} database codes, {len(queries):,} queries, {model.bits} bits")
    for name, fn in lenses.items():
        seconds, answer = best_of(repeats, fn)
        print(f"  {name:<52} {seconds:7.3f} s  ({seconds / GOAL:4.2f} x goal)  {summary(answer)}")


def summary(answer) -> str:
    if isinstance(answer, tuple):
        return answer[0].summary()
    if isinstance(answer, lookup.LookupGrid):
        i = len(answer.prefix_bits) // 2
        return (f"b={answer.prefix_bits[i]}: recall {np.round(answer.recall[i], 3).tolist()} for "
                f"{np.round(answer.candidates[i]).astype(int).tolist()} candidates (nflip {answer.nflips})")
    if isinstance(answer, list):
        return f"{len(answer)} collisions, worst {answer[0].cross_pairs} cross-class pairs" if answer else "none"
    if isinstance(answer, cube.Cube):
        return f"{len(answer.codes)} nodes, {len(answer.edges)} edges of {answer.n_distinct:,} occupied"
    if isinstance(answer, trust.Trust):
        return f"trust {answer.mean:.3f}, {int(answer.torn.sum())} torn"
    if isinstance(answer, parity.Parity):
        return "; ".join(f"{r.name}: {r.verdict(answer.reference)}" for r in answer.runs[1:])
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["csq-16", "csq-32", "csq-64"])
    parser.add_argument("--root", default="models")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; best of {args.repeats}")
    for name in args.models:
        bench_model(Path(args.root) / name, args.repeats)


if __name__ == "__main__":
    main()
