"""Recipe sweep: train deep methods on fmnist-1k in parallel processes (2 torch threads each, as on
the 2-core target) and print validation/query mAP and seconds. Used to pick each method's recipe.

    python bench/recipes.py --workers 8 --out sweep.jsonl csq:epochs=20 dpsh:epochs=20,lr=0.003 ...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path


def run_one(job: str, threads: int = 2) -> dict:
    import torch
    torch.set_num_threads(threads)
    from hashviz.metrics import reported_metrics
    from hashviz.training import TrainSpec, build_model
    method, _, rest = job.partition(":")
    kwargs = {"bits": 32}
    hyper = {}
    for item in filter(None, rest.split(",")):
        key, value = item.split("=")
        value = json.loads(value)
        if key == "note":  # a label for the sweep's log only
            continue
        if key in ("epochs", "lr", "width", "batch_size", "bits", "augment", "device", "precision", "weight_decay",
                   "backbone_layout", "seed", "quick", "backbone"):
            kwargs[key] = value
        else:
            hyper[key] = value
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = build_model(TrainSpec(method, hyper=hyper, **kwargs), Path(tmp) / "m")
        config = json.loads((path / "config.json").read_text())
    map_keys = [m.key for m in reported_metrics()[:2]]  # mAP@all and mAP@MAP_K
    return {"job": job, **{k: config["metrics"][k] for k in map_keys},
            "best_val": max(h.get("val_map", 0) for h in config["history"]), "best_epoch": config["best_epoch"],
            "train_s": config["train_seconds"], "encode_s": config["encode_seconds"],
            "wall_s": round(time.perf_counter() - start, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("jobs", nargs="+", help="method[:key=value,...]")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    parser.add_argument("--out", default=None)
    parser.add_argument("--threads", type=int, default=2, help="torch threads per job (2: the target's)")
    args = parser.parse_args(argv)
    out = open(args.out, "a") if args.out else None
    with ProcessPoolExecutor(args.workers) as pool:
        futures = {pool.submit(run_one, job, args.threads): job for job in args.jobs}
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # report and go on: one bad recipe must not hide the others
                result = {"job": futures[future], "error": repr(exc)}
            line = json.dumps(result)
            print(line, flush=True)
            if out:
                out.write(line + "\n")
                out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
