"""Listing a models root of 50 model directories (goal: under 1 s, and no torch imported).

    python bench/discovery.py --source TINY_ZOO [--repeats 5]

TINY_ZOO: a models root holding tests/conftest.py's tiny zoo (`HASHVIZ_TINY_ZOO=DIR pytest
tests/test_discovery.py` builds one). The root (tests/discovery_root.py) holds 46 copies of the tiny
models and four crafted CSQ configs (1024 bits with 20,000 classes; 64 bits with 1,000, 3,000 and
10,000 classes). Each repeat runs `discover()` in a fresh interpreter (imports included, as a
server start or a root change pays them) and prints its wall time and whether torch was imported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from discovery_root import make_root  # noqa: E402

GOAL_S = 1.0
TIMED = """
import json, sys, time
start = time.perf_counter()
from hashviz.zoo import discover
valid, invalid = discover(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - start, "valid": len(valid), "invalid": len(invalid),
                  "torch": "torch" in sys.modules}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = make_root(args.source, Path(tmp) / "models")
        runs = [json.loads(subprocess.run([sys.executable, "-c", TIMED, str(root)], capture_output=True, text=True,
                                          check=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)}).stdout)
                for _ in range(args.repeats)]
    seconds = sorted(r["seconds"] for r in runs)
    print(f"discover() of 50 model dirs (4 crafted CSQ configs), fresh interpreter, {args.repeats} runs:")
    print(f"  best {seconds[0]:.3f} s, median {seconds[len(seconds) // 2]:.3f} s, worst {seconds[-1]:.3f} s "
          f"(goal < {GOAL_S} s); valid {runs[0]['valid']}, invalid {runs[0]['invalid']}; "
          f"torch imported: {any(r['torch'] for r in runs)}")


if __name__ == "__main__":
    main()
