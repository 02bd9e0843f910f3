"""Benchmark: server memory of Evaluate's Metric lens on a big single-class model.

    python bench/metric_lens_memory.py [--database 50000] [--queries 1000] [--bits 32] [--seeds 5]

Builds a codes-only model in a temporary models root (random codes, every item of one class, so every
(query, item) pair is relevant: 50 million pairs by default), opens the Evaluate page with Streamlit's
AppTest (the real app.py and page, run in this process, so this process's RSS is the server's), opens
the Metric lens with the random tie order and types seeds 1, 2, .. as a visitor would. Prints the
resident memory (VmRSS) and its peak (VmHWM) after each step and the rise above the start.
Goal: the RSS stays within 500 MB of where it started.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hashviz.importing import import_codes  # noqa: E402

GOAL_MB = 500
REPO = Path(__file__).resolve().parents[1]


def memory_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return tuple(int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))


def single_class_model(root: Path, n_database: int, n_queries: int, bits: int) -> Path:
    rng = np.random.default_rng(0)
    arrays = root / "arrays"
    arrays.mkdir()
    for part, n in (("database", n_database), ("query", n_queries)):
        np.save(arrays / f"{part}_codes.npy", (rng.random((n, bits)) < 0.5).astype(np.uint8))
        np.save(arrays / f"{part}_labels.npy", np.zeros(n, dtype=np.int64))
    files = {f"{part}_{kind}": arrays / f"{part}_{kind}.npy" for part in ("database", "query")
             for kind in ("codes", "labels")}
    return import_codes(**files, out=root / "models" / "one-class")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", type=int, default=50_000)
    ap.add_argument("--queries", type=int, default=1_000)
    ap.add_argument("--bits", type=int, default=32)
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args(argv)
    from streamlit.testing.v1 import AppTest

    with tempfile.TemporaryDirectory() as tmp:
        model = single_class_model(Path(tmp), args.database, args.queries, args.bits)
        print(f"{args.queries:,} queries x {args.database:,} database items, {args.bits} bits, one class: "
              f"{args.queries * args.database:,} relevant pairs; CPU: {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores")
        os.environ["HASHVIZ_MODELS"] = str(model.parent)
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=1800)
        at.switch_page("pages/evaluate.py")
        at.session_state["model_name"] = model.name
        at.session_state["evaluate_tab"] = "Metric lens"       # the tab a visitor clicked
        start = time.perf_counter()
        at.run()
        rss0, _ = memory_mb()
        print(f"  {'Evaluate opened (lens: hashviz preset)':<44} RSS {rss0:8.0f} MB   "
              f"{time.perf_counter() - start:6.1f} s")
        if at.exception or not any(m.label == "mAP under this rule" for m in at.metric):
            print("the Metric lens did not render:", [e.value for e in at.exception])
            return 1
        steps = [("tie order: random, seed 0", lambda: at.radio(key="lens_tie").set_value("random"))]
        steps += [(f"seed {s}", lambda s=s: at.number_input(key="lens_seed").set_value(s))
                  for s in range(1, args.seeds + 1)]
        worst = 0.0
        for label, act in steps:
            start = time.perf_counter()
            act()
            at.run()
            if at.exception:
                print("exception:", [e.value for e in at.exception])
                return 1
            rss, peak = memory_mb()
            worst = max(worst, peak - rss0, rss - rss0)
            value = next(m.value for m in at.metric if m.label == "mAP under this rule")
            print(f"  {label:<44} RSS {rss:8.0f} MB ({rss - rss0:+6.0f})   peak {peak:8.0f} MB   "
                  f"{time.perf_counter() - start:6.1f} s   mAP {value}")
    print(f"\nlargest rise above the start (RSS or peak): {worst:.0f} MB; goal {GOAL_MB} MB: "
          f"{'ok' if worst <= GOAL_MB else 'OVER'}")
    return 0 if worst <= GOAL_MB else 1


if __name__ == "__main__":
    sys.exit(main())
