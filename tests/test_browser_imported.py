"""An imported DeepHash-pytorch export in real headless Chromium: `hashviz import-codes` with its list
files, then the Retrieval grid shows the files' pictures and a Code map selection shows them too."""

import re

import numpy as np
import pytest
from playwright.sync_api import expect

from browser_support import chromium_page, running_app, screenshot_on_failure, wait_for_app
from export_fixtures import write_deephash_export
from hashviz import codemap, projection
from hashviz.cli import main
from hashviz.zoo import load_model_dir

pytestmark = pytest.mark.browser
TILE_IMAGES = ".hv-grid .hv-tile img"


def test_an_imported_export_shows_its_pictures_in_retrieval_and_code_map(tmp_path, monkeypatch):
    export = write_deephash_export(tmp_path / "export")
    names = tmp_path / "names.txt"
    names.write_text("\n".join(export.class_names))
    root = tmp_path / "models"
    assert main(["import-codes", "--deephash-dir", str(export.save), "--database-list", str(export.database_list),
                 "--query-list", str(export.query_list), "--image-root", str(export.data),
                 "--class-names", str(names), "--out", str(root / "coco-csq")]) == 0
    cache = tmp_path / "projections"
    monkeypatch.setenv(codemap.CACHE_ENV, str(cache))
    with monkeypatch.context() as mp:     # the UMAP slot filled cheaply (PCA), as the zoo build would
        mp.setattr(projection, "_umap", lambda x, *a: projection._pca(np.asarray(x, dtype=np.float64), 0))
        codemap.code_map_projection(load_model_dir(root / "coco-csq"), method="umap")
    env = {codemap.CACHE_ENV: str(cache), "HASHVIZ_DATA_ROOTS": str(tmp_path)}   # images only under the data roots
    with running_app(root, extra_env=env) as (url, _proc, _cold), \
            chromium_page() as page:
        try:
            page.goto(f"{url}/?model=coco-csq&query=0&n=10")
            page.locator(TILE_IMAGES).first.wait_for(timeout=90000)
            wait_for_app(page)
            tiles = page.locator(TILE_IMAGES)
            expect(tiles).to_have_count(10, timeout=30000)
            sizes = tiles.evaluate_all("imgs => imgs.map(i => [i.src.slice(0, 22), i.naturalWidth, i.naturalHeight])")
            assert all(src == "data:image/png;base64," for src, _, _ in sizes)
            assert {(w, h) for _, w, h in sizes} <= {(30, 52), (48, 32)}    # the files' own sizes, aspect kept
            labels = " ".join(page.locator(".hv-grid .hv-label").all_inner_texts())
            assert "person" in labels and "+" in labels                      # every label, by name
            assert page.locator('[data-testid="stImage"] img').count() >= 1   # the query's picture

            page.goto(f"{url}/code_map?model=coco-csq")
            page.locator(".js-plotly-plot .scatterlayer .point").first.wait_for(timeout=90000)
            wait_for_app(page)
            area = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
            page.mouse.move(area["x"] + 2, area["y"] + 2)
            page.mouse.down()
            page.mouse.move(area["x"] + area["width"] - 2, area["y"] + area["height"] - 2, steps=12)
            page.mouse.up()
            page.get_by_role("heading", name=re.compile(r"selected")).wait_for(timeout=60000)
            wait_for_app(page)
            images = page.locator('[data-testid="stImage"]')
            expect(images.first).to_be_visible(timeout=30000)
            captions = page.locator('[data-testid="stImageCaption"]').all_inner_texts()
            assert captions and all(re.fullmatch(r"row \d+ · [a-z+]+", c) for c in captions)
        except Exception:
            screenshot_on_failure(page, "imported")
            raise
