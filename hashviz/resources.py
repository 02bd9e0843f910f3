"""The files hashviz ships besides its code: the app (app.py, pages/), assets/ and, in a source
checkout only, the benchmarks (bench/).

They stay at the repository root, which installs as the package `hashviz_app` (pyproject.toml
maps it): a wheel copies app.py, pages/ and assets/ into site-packages/hashviz_app/, an editable
install points `hashviz_app` at the checkout. Everything is found through that package, never
relative to this file, so an installed hashviz needs no source tree.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from hashviz.errors import HashvizError

APP_PACKAGE = "hashviz_app"


def app_home() -> Path:
    """The folder holding app.py, pages/ and assets/ (site-packages/hashviz_app, or the checkout)."""
    spec = importlib.util.find_spec(APP_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / "app.py").is_file():
            return Path(folder)
    raise HashvizError(f"the hashviz app files (package {APP_PACKAGE}: app.py, pages/, assets/) are not "
                       "installed: reinstall hashviz (pip install hashviz-*.whl, or pip install -e . in a checkout)")


def app_script() -> Path:
    """app.py, the Streamlit entry point `hashviz serve` runs."""
    return app_home() / "app.py"


def taxonomy_assets() -> Path:
    """assets/taxonomy/: the Taxonomy page's text, one markdown file per family."""
    return app_home() / "assets" / "taxonomy"


def bench_dir() -> Path:
    """bench/: the benchmark scripts. They ship with the source checkout, not the wheel."""
    folder = app_home() / "bench"
    if not folder.is_dir():
        raise HashvizError("the benchmarks are not installed: they ship with the source checkout (bench/), "
                           "not the wheel; clone hashviz and run `pip install -e .` there to run them")
    return folder
