"""Server memory and decode count of an upload (issue 19 #4), printed side by side.

    python bench/upload_memory.py                    # every image kind, then the app flow
    python bench/upload_memory.py --skip-app         # decode_upload only (no Streamlit)
    python bench/upload_memory.py --code /work/main --skip-app       # part 1 for another checkout's hashviz

Part 1, decode_upload: each picture is written first (by this process), then decoded in a fresh
subprocess; the figure is that process's peak RSS (VmHWM, reset via /proc/self/clear_refs just
before the call) minus its RSS just before, i.e. what one upload costs a server that already
imported everything. Pictures: the hostile test's 78 KB 16-bit PNG of 6324x6324 and RGBA 40 MP, and
the largest pictures accepted now (4000x4000 = MAX_UPLOAD_PIXELS) in each mode a PNG or JPEG decodes
to; all compress to well under the 10 MB upload cap (smooth gradients).

Part 2, the Retrieval page (Streamlit AppTest of app.py on the models root, Upload mode): RSS idle,
peak while the largest accepted upload is searched, peak over the next three widget changes (Invert
yes / no / auto), and how often hashviz.retrieval.upload._decode ran for each (goal: 1 for the upload, 0 after).
Goal: < 200 MB above idle for any accepted image.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
MB = 2 ** 20
GOAL_MB = 200


def _status(field: str) -> int:
    """VmRSS / VmHWM of this process in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")   # VmHWM := VmRSS


def _gradient(width: int, height: int, channels: int, dtype=np.uint8) -> np.ndarray:
    top = np.iinfo(dtype).max
    x = (np.arange(width, dtype=np.float32) / width * top).astype(dtype)
    img = np.broadcast_to(x, (height, width))
    return np.ascontiguousarray(np.stack([img] * channels, axis=-1) if channels > 1 else img)


def pictures(folder: Path) -> dict[str, Path]:
    """name -> file; written once (row-band PNGs keep this process small enough)."""
    from PIL import Image
    out = {}
    specs = {
        "png16-grey-6324x6324 (issue repro)": (6324, 6324, "I;16"),
        "png-rgba-7745x5164 = 40 MP (issue repro)": (7745, 5164, "RGBA"),
        "png16-grey-4000x4000": (4000, 4000, "I;16"),
        "png-rgba-4000x4000": (4000, 4000, "RGBA"),
        "png-rgb-4000x4000": (4000, 4000, "RGB"),
        "png-palette-4000x4000": (4000, 4000, "P"),
        "jpeg-cmyk-4000x4000": (4000, 4000, "CMYK"),
        "jpeg-rgb-4000x4000": (4000, 4000, "RGB-JPEG"),
    }
    for name, (w, h, mode) in specs.items():
        path = folder / (name.split(" ")[0] + (".jpg" if "jpeg" in name else ".png"))
        if not path.exists():
            if mode == "I;16":
                pic = Image.fromarray(_gradient(w, h, 1, np.uint16))
            elif mode == "P":
                pic = Image.fromarray(_gradient(w, h, 1)).convert("P")
            elif mode == "CMYK":
                pic = Image.fromarray(_gradient(w, h, 3)).convert("CMYK")
            else:
                pic = Image.fromarray(_gradient(w, h, 4 if mode == "RGBA" else 3))
            pic.save(path, format="JPEG" if path.suffix == ".jpg" else "PNG", optimize=False)
            del pic
        out[name] = path
    return out


CHILD = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
sys.path.insert(0, sys.argv[3])
from bench.upload_memory import _status, _reset_peak
from hashviz.errors import HashvizError
from hashviz.retrieval import decode_upload
data = Path(sys.argv[1]).read_bytes()
import io
from PIL import Image
small = io.BytesIO(); Image.new("RGB", (64, 64)).save(small, format="PNG")
decode_upload(small.getvalue(), (28, 28), dark=True)          # imports and plugins loaded
before = _status("VmRSS"); _reset_peak(); t0 = time.perf_counter()
try:
    up = decode_upload(data, (28, 28), dark=True); outcome = "accepted: " + up.notes[-1]
except HashvizError as exc:
    outcome = "refused: " + str(exc)
print(json.dumps({"grew": _status("VmHWM") - before, "seconds": time.perf_counter() - t0, "outcome": outcome}))
"""


def decode_figures(folder: Path, code: Path) -> list[dict]:
    rows = []
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name, path in pictures(folder).items():
        proc = subprocess.run([sys.executable, "-c", CHILD, str(path), str(REPO), str(code)], capture_output=True,
                              text=True, timeout=300, env=env, cwd=REPO)
        if proc.returncode:
            raise SystemExit(proc.stderr[-2000:])
        rows.append({"picture": name, "file KB": path.stat().st_size // 1024, **json.loads(proc.stdout)})
    return rows


def app_figures(picture: Path, models_root: str) -> dict:
    """The Retrieval page in one AppTest session: idle, upload, three Invert changes."""
    from streamlit.testing.v1 import AppTest

    from hashviz.retrieval import upload as retrieval
    opened = []
    real_decode = retrieval._decode

    def counting_decode(*args):
        opened.append(1)
        return real_decode(*args)
    retrieval._decode = counting_decode
    sys.path.insert(0, str(REPO))
    os.environ["HASHVIZ_MODELS"] = models_root
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    at.run()
    at.radio(key="rq_mode").set_value("Upload").run()
    idle = _status("VmRSS")
    _reset_peak()
    del opened[:]
    t0 = time.perf_counter()
    at.file_uploader(key="rq_file").upload(picture.name, picture.read_bytes(), "image/png").run()
    upload = {"peak MB above idle": (_status("VmHWM") - idle) / MB, "opens": len(opened),
              "seconds": time.perf_counter() - t0, "errors": [e.value for e in list(at.error) + list(at.exception)]}
    changes = []
    for choice in ("yes", "no", "auto"):
        _reset_peak()
        del opened[:]
        t0 = time.perf_counter()
        at.radio(key="rq_invert").set_value(choice).run()
        changes.append({"invert": choice, "peak MB above idle": (_status("VmHWM") - idle) / MB,
                        "opens": len(opened), "seconds": time.perf_counter() - t0})
    retrieval._decode = real_decode
    return {"idle MB": idle / MB, "upload": upload, "changes": changes}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=None, help="where to write the pictures (default: a temp dir)")
    parser.add_argument("--models-root", default=str(REPO / "models"))
    parser.add_argument("--skip-app", action="store_true")
    parser.add_argument("--code", default=str(REPO), help="the checkout whose hashviz part 1 decodes with")
    args = parser.parse_args(argv)
    folder = Path(args.folder or tempfile.mkdtemp(prefix="upload-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"CPU: {os.cpu_count()} cores; decode_upload of {args.code}")
    print(f"\n1) decode_upload in a fresh process (goal < {GOAL_MB} MB above idle for any accepted image)")
    print(f"{'picture':<44}{'file KB':>8}{'MB above idle':>15}{'seconds':>9}  outcome")
    worst = 0.0
    for r in decode_figures(folder, Path(args.code)):
        grew = r["grew"] / MB
        if r["outcome"].startswith("accepted"):
            worst = max(worst, grew)
        print(f"{r['picture']:<44}{r['file KB']:>8}{grew:>15.1f}{r['seconds']:>9.2f}  {r['outcome'][:70]}")
    print(f"worst accepted: {worst:.1f} MB = {worst / GOAL_MB:.2f} x the goal")
    if not args.skip_app:
        big = folder / "png-rgba-4000x4000.png"
        print(f"\n2) Retrieval page (AppTest, {args.models_root}), upload {big.name}")
        app = app_figures(big, args.models_root)
        u = app["upload"]
        print(f"idle RSS {app['idle MB']:.0f} MB; upload: peak +{u['peak MB above idle']:.1f} MB, "
              f"{u['opens']} decode(s), {u['seconds']:.2f} s, errors {u['errors']}")
        for c in app["changes"]:
            print(f"  Invert -> {c['invert']:<5} peak +{c['peak MB above idle']:.1f} MB above idle, "
                  f"{c['opens']} decode(s), {c['seconds']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
