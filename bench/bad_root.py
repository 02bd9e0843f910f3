"""A models root with one bad entry beside good models (issue 19 #1): time until the app can list it.

    python bench/bad_root.py --source TINY_ZOO [--repeats 3]

TINY_ZOO: a models root holding tests/conftest.py's tiny zoo (dpsh-16, csq-16, dpq-16, itq-16,
lsh-16; `HASHVIZ_TINY_ZOO=DIR pytest tests/test_bad_inputs.py` builds one). For every model case
of the bad-input corpus (tests/bad_inputs/make_corpus.py), a fresh root holds the five good models
and that one entry; the figure is `discover()` on it (what the sidebar calls when the root
changes), cold (a new root each repeat), best and worst of --repeats, beside the goal of 2 s. Then
one Streamlit AppTest run of app.py on the root holding every bad entry at once: its time, the
models offered, the invalid lines listed and the exceptions (goal: none).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from bad_inputs.make_corpus import CASES, make_corpus  # noqa: E402
from hashviz.zoo import discover  # noqa: E402

GOAL_S = 2.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bad-root-"))
    corpus = make_corpus(work / "corpus", Path(args.source))
    good = [p for p in Path(args.source).iterdir() if (p / "config.json").is_file()]
    t0 = time.perf_counter()
    discover(Path(args.source))          # a server's first root imports torch (weights' shapes): once
    print(f"CPU: {os.cpu_count()} cores; first discover() of the process (imports): {time.perf_counter() - t0:.1f} s")
    print(f"{len(good)} good models beside one bad entry; goal {GOAL_S} s")
    print(f"{'bad entry':<40}{'best s':>8}{'worst s':>9}{'valid':>7}{'invalid':>9}  reason (excerpt)")
    worst_all = 0.0
    for case in (c for c in CASES if c.kind == "model"):
        times = []
        for r in range(args.repeats):
            root = work / f"root-{r}"
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            for model in good:
                shutil.copytree(model, root / model.name)
            entry = corpus / "models" / case.id
            shutil.copytree(entry, root / case.id, symlinks=True) if not entry.is_symlink() else \
                os.symlink(os.readlink(entry), root / case.id)
            if case.id == "link-loop":
                os.symlink("link-loop", root / ".link-loop-b")
            t0 = time.perf_counter()
            valid, invalid = discover(root)
            times.append(time.perf_counter() - t0)
        worst_all = max(worst_all, max(times))
        reason = invalid[0][1][:60] if invalid else "-"
        print(f"{case.id[:39]:<40}{min(times):>8.3f}{max(times):>9.3f}{len(valid):>7}{len(invalid):>9}  {reason}")
    print(f"worst: {worst_all:.3f} s = {worst_all / GOAL_S:.2f} x the goal")
    from streamlit.testing.v1 import AppTest
    os.environ["HASHVIZ_MODELS"] = str(corpus / "models")
    t0 = time.perf_counter()
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    at.run()
    box = [e for e in at.sidebar.expander if "invalid model dir" in e.label]
    print(f"\napp.py on the root with every bad entry: {time.perf_counter() - t0:.1f} s (first run, imports "
          f"included); models offered {len(at.selectbox(key='model_name').options)}; "
          f"{box[0].label if box else 'no invalid list'}; exceptions {len(at.exception)}; error boxes {len(at.error)}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
