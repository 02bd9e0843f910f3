"""Frozen EfficientNet-Lite0 features on Fashion-MNIST (fmnist-1k, seed 0): the features' cost and
the mAP@all of hash heads (and shallow hashers) trained on them, against the shipped from-scratch
models scored on the same rows.

The full database (69,000 images) costs an hour of features on a loaded 2-core CPU, so by default
the 1,000 queries are ranked against a seeded sample of `--database` rows of it; the shipped
from-scratch model is scored on exactly those rows. Features are cached (hashviz.feature_cache):
a second run reads them.

    python bench/pretrained.py --resolution 64 --database 10000 greedyhash csq dpsh pca-rr itq
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("methods", nargs="+")
    parser.add_argument("--bits", type=int, default=32)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--database", type=int, default=10_000, help="database rows sampled (0: all 69,000)")
    parser.add_argument("--models", default="models", help="shipped from-scratch models <method>-<bits> to compare")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    from hashviz.data import load_dataset, make_split
    from hashviz.feature_cache import cached_features
    from hashviz.hashers import create_hasher
    from hashviz.methods import method_info
    from hashviz.metrics import evaluate
    from hashviz.pretrained import describe_weights
    from hashviz.zoo import load_model_dir

    dataset = load_dataset("fashion-mnist")
    split = make_split(dataset, "fmnist-1k", 0)
    database = split.database
    if args.database:
        database = np.sort(np.random.default_rng(0).choice(split.database, args.database, replace=False))
    rows = np.unique(np.concatenate([split.train, split.validation, split.query, database]))
    where = {row: i for i, row in enumerate(rows)}
    at = lambda ids: np.array([where[r] for r in ids])  # noqa: E731
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()}")
    print(f"# {describe_weights()}, {args.resolution} px; {len(split.query)} queries against {len(database):,} "
          f"database rows; {len(rows):,} images' features")
    bar = tqdm(total=len(rows), desc="features", unit="img", file=sys.stderr)
    start, cpu = time.perf_counter(), time.process_time()
    features = cached_features(dataset.images[rows], args.resolution, lambda d, t: bar.update(d - bar.n))
    bar.close()
    wall = time.perf_counter() - start
    print(f"features: {wall:.1f} s wall ({1000 * wall / len(rows):.1f} ms an image; 0 when cached), "
          f"{time.process_time() - cpu:.1f} s CPU, load {os.getloadavg()[0]:.1f}")
    labels = dataset.labels
    for method in args.methods:
        info = method_info(method)
        config = {"method": method, "bits": args.bits, "pretrained_mode": "frozen", "resolution": args.resolution,
                  "backbone": "efficientnet-lite0", "image_shape": list(dataset.image_shape), "num_classes": 10}
        hasher = create_hasher(config, **({} if info.deep else {"seed": 0}))
        start = time.perf_counter()
        train = features[at(split.train)]
        if info.deep:
            recipe = info.recipe
            hasher.fit(train, labels[split.train], epochs=recipe["epochs"], lr=recipe["lr"],
                       batch_size=recipe.get("batch_size", 128), weight_decay=recipe.get("weight_decay", 1e-5),
                       validation=(features[at(split.validation)], labels[split.validation]))
            outputs = lambda ids: hasher.feature_outputs(features[at(ids)])  # noqa: E731
        else:
            hasher.fit(train)
            outputs = lambda ids: hasher.hasher.outputs(np.asarray(features[at(ids)], dtype=np.float32))  # noqa: E731
        seconds = time.perf_counter() - start
        score = evaluate(hasher.codes_from_outputs(outputs(split.query)), hasher.codes_from_outputs(outputs(database)),
                         labels[split.query], labels[database])["map_all"]
        shipped = Path(args.models) / f"{method}-{args.bits}"
        scratch = "n/a"
        if (shipped / "config.json").is_file():
            model = load_model_dir(shipped)
            keep = np.isin(model.database_ids, database)
            scratch = f"{evaluate(model.query_codes, model.database_codes[keep], model.query_labels, model.database_labels[keep])['map_all']:.3f}"
        print(json.dumps({"method": method, "bits": args.bits, "frozen_map_all": round(score, 3),
                          "head_seconds": round(seconds, 1), "from_scratch_map_all_same_rows": scratch}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
