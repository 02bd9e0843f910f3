"""The Code map in real headless Chromium: the scatter renders from a cached projection, and a box
dragged over it shows the selected images."""

import re
import time

import numpy as np
import pytest
from playwright.sync_api import expect

from browser_support import chromium_page, open_app, running_app, screenshot_on_failure, wait_for_app
from hashviz import codemap, projection
from hashviz.zoo import load_model_dir

pytestmark = pytest.mark.browser


def precompute_map(model, monkeypatch):
    """Fill the UMAP cache slot the page reads, cheaply (PCA instead of UMAP), as the zoo build would."""
    with monkeypatch.context() as mp:
        mp.setattr(projection, "_umap", lambda x, *a: projection._pca(np.asarray(x, dtype=np.float64), 0))
        return codemap.code_map_projection(model, method="umap")


def test_code_map_renders_and_a_box_selection_shows_the_images(tiny_zoo, tmp_path, monkeypatch):
    cache = tmp_path / "projections"
    monkeypatch.setenv(codemap.CACHE_ENV, str(cache))
    model = load_model_dir(tiny_zoo / "dpsh-16")
    _, rows = precompute_map(model, monkeypatch)
    with running_app(tiny_zoo, extra_env={codemap.CACHE_ENV: str(cache)}) as (url, _proc, _cold), \
            chromium_page() as page:
        try:
            open_app(page, url)     # a deep link works once app.py has run (browser_support.open_app)
            ready = []
            for _ in range(2):                        # first visit, then a warm reload
                start = time.perf_counter()
                page.goto(f"{url}/code_map?model=dpsh-16")
                page.locator(".js-plotly-plot .scatterlayer .point").first.wait_for(timeout=60000)
                ready.append(time.perf_counter() - start)
            print(f"code map ready with a cached projection ({len(rows)} points): first visit {ready[0]:.1f} s, "
                  f"reload {ready[1]:.1f} s")
            assert page.get_by_text("UMAP of the codes (Hamming)").count() == 1
            assert page.get_by_text("Computing the UMAP map").count() == 0
            wait_for_app(page)

            area = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()   # the plot area
            x0, y0 = area["x"] + 0.02 * area["width"], area["y"] + 0.02 * area["height"]
            x1, y1 = area["x"] + 0.98 * area["width"], area["y"] + 0.98 * area["height"]
            page.mouse.move(x0, y0)
            page.mouse.down()
            page.mouse.move(x1, y1, steps=12)         # dragmode "select": a box selection
            page.mouse.up()
            heading = page.get_by_role("heading", name=re.compile(r"selected"))
            heading.wait_for(timeout=60000)
            wait_for_app(page)
            n_selected = int(re.match(r"([\d,]+) selected", heading.inner_text()).group(1).replace(",", ""))
            # the box holds codes shared by several items: each selected code brings all its items
            assert len(rows) < n_selected <= len(model.database_codes)
            images = page.locator('[data-testid="stImage"]')
            expect(images).to_have_count(min(n_selected, 48), timeout=30000)   # the grid draws progressively
            n_images = images.count()
            captions = page.locator('[data-testid="stImageCaption"]').all_inner_texts()
            assert len(captions) == n_images and all(re.fullmatch(r"row \d+ · \d", c) for c in captions)
            assert page.get_by_role("button", name=re.compile("Search with it on the Retrieval page")).count() == 1
        except Exception:
            screenshot_on_failure(page, "code_map")
            raise
