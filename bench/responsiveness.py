"""Benchmark: how long the waits that people notice take, each beside its goal.

    python bench/responsiveness.py [--models-root models] [--skip-milvus]

Prints one line per measurement: the figure, the goal and their ratio (figure / goal; below 1 meets
the goal). These used to be asserts inside tests, where a busy 2-core machine made them flake; here
they are figures to read, taken on whatever machine runs the script (say which, and how busy it was).

* diagnose: every diagnostic of 69,000 random 64-bit codes (a CIFAR-sized database), goal 5 s;
* Diagnostics page, compare mode: one rerun after choosing another second model when both
  diagnoses are cached (Streamlit's AppTest on the real app.py), goal 3 s a click;
* Code map page with its projection cached: the first run (AppTest), goal 3 s;
* Milvus: how fast an unreachable server is reported (timeout 2 s), goal 15 s (needs pymilvus).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hashviz.codes import pack_bits01  # noqa: E402
from hashviz.diagnostics import diagnose  # noqa: E402
from hashviz.errors import HashvizError  # noqa: E402


def report(what: str, seconds: float, goal: float) -> None:
    print(f"{what:<58} {seconds:7.2f} s   goal {goal:5.1f} s   ratio {seconds / goal:5.2f}")


def bench_diagnose(n: int = 69_000, bits: int = 64) -> None:
    rng = np.random.default_rng(6)
    codes = pack_bits01(rng.integers(0, 2, (n, bits), dtype=np.uint8))
    labels = rng.integers(0, 10, n)
    t = time.perf_counter()
    diagnose(codes, labels, bits)
    report(f"diagnose, {n:,} codes of {bits} bits", time.perf_counter() - t, 5.0)


def app_on(root: Path, page: str, **state):
    from streamlit.testing.v1 import AppTest
    os.environ["HASHVIZ_MODELS"] = str(root)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    at.switch_page(page)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if at.exception:
        raise SystemExit(f"{page} raised: {[e.value for e in at.exception]}")
    return at


def bench_diagnostics_compare(root: Path, first: str, second: str, third: str) -> None:
    at = app_on(root, "pages/diagnostics.py", model_name=first)
    at.toggle(key="diag_compare").set_value(True).run()
    for other in (second, third):                     # both diagnoses cached before timing
        at.selectbox(key="diag_other").set_value(other).run()
    start = time.perf_counter()
    at.selectbox(key="diag_other").set_value(second).run()
    at.selectbox(key="diag_other").set_value(third).run()
    report("Diagnostics compare: one click, diagnoses cached", (time.perf_counter() - start) / 2, 3.0)


def bench_code_map(root: Path, model_name: str) -> None:
    from hashviz import codemap
    from hashviz.zoo import load_model_dir
    model = load_model_dir(root / model_name)
    if codemap.load_code_map(model, "umap") is None:
        print(f"Code map: {model_name} has no cached UMAP map under {root}; skipped")
        return
    start = time.perf_counter()
    app_on(root, "pages/code_map.py", model_name=model_name)
    report("Code map page, projection cached: first run", time.perf_counter() - start, 3.0)


def bench_milvus_unreachable() -> None:
    try:
        import pymilvus  # noqa: F401
    except ImportError:
        print("Milvus: pymilvus is not installed; skipped")
        return
    from hashviz.search import HammingIndex
    codes = pack_bits01(np.random.default_rng(0).integers(0, 2, (10, 64), dtype=np.uint8))
    start = time.monotonic()
    try:
        HammingIndex(codes, kind="milvus", uri="http://127.0.0.1:1", collection="hv_x", timeout=2)
    except HashvizError:
        pass
    report("Milvus: unreachable server reported (timeout 2 s)", time.monotonic() - start, 15.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-root", type=Path, default=REPO / "models")
    parser.add_argument("--models", nargs=3, default=["csq-32", "lsh-16", "dpsh-32"],
                        help="Diagnostics compare: the main model and the two it is compared with")
    parser.add_argument("--skip-milvus", action="store_true")
    args = parser.parse_args()
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f} (other work on the machine slows every figure)")
    bench_diagnose()
    bench_diagnostics_compare(args.models_root, *args.models)
    bench_code_map(args.models_root, args.models[2])
    if not args.skip_milvus:
        bench_milvus_unreachable()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
