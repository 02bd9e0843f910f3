"""Lecture mode against its goal: the whole `hashviz train --quick` command (start-up, training,
encoding the 69,000-image database, scoring, saving) in 10 s or less on 2 cores, mAP@all 0.75 or more.

    python bench/lecture.py --no-bf16-units                      # the five methods, 3 runs each
    python bench/lecture.py --no-bf16-units --methods greedyhash --repeats 5

Each run is a fresh process, as a teacher's command is; the wall time is the median of --repeats
runs with the range beside it, since a shared machine's runs vary (docs/recipes.md, "Lecture mode").
--no-bf16-units runs the commands as on a CPU without bf16 units (AVX2 kernels, fp32).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.train_speed import NO_BF16_ENV, cpu_description  # noqa: E402

GOAL_WALL_S, GOAL_MAP = 10.0, 0.75
METHODS = ["greedyhash", "csq", "orthohash", "ssdh", "classifier-code"]


def one_run(method: str, seed: int, env: dict) -> tuple[float, float]:
    """(wall seconds of the command, its model's mAP@all)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model"
        command = [sys.executable, "-m", "hashviz.cli", "train", "--quick", "--method", method, "--bits", "32",
                   "--seed", str(seed), "--out", str(out)]
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        return wall, json.loads((out / "config.json").read_text())["metrics"]["map_all"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=METHODS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-bf16-units", action="store_true", help="run as an AVX2 CPU without bf16 units")
    args = parser.parse_args(argv)
    if args.no_bf16_units:
        os.environ.update(NO_BF16_ENV)          # the runs, and the kernels cpu_description reports
    env = dict(os.environ)
    print(cpu_description(), "| load average", " ".join(f"{x:.1f}" for x in os.getloadavg()), flush=True)
    print(f"{'method':16} {'wall s median':>13} {'range':>11} {'goal s':>6} {'median/goal':>11} {'mAP@all':>8} {'goal':>5}")
    for method in args.methods:
        runs = [one_run(method, args.seed, env) for _ in range(args.repeats)]
        walls = [wall for wall, _ in runs]
        median, score = statistics.median(walls), runs[-1][1]
        print(f"{method:16} {median:13.2f} {min(walls):5.2f}-{max(walls):5.2f} {GOAL_WALL_S:6.0f} "
              f"{median / GOAL_WALL_S:11.2f} {score:8.3f} {GOAL_MAP:5.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
