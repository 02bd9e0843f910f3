"""Compare and the CSV downloads in real headless Chromium: the page's counts against two brute-force
evaluations, a click on the scatter opening the query side by side on Retrieval, and the downloaded
neighbours CSV against hv.neighbours and a numpy Hamming ranking; a Code map selection's CSV."""

import io
import re

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import expect

from browser_support import chromium_page, download, open_app, running_app, screenshot_on_failure, wait_for_app
from compare_reference import brute_force_distances, brute_force_rankings, expected_counts
import hashviz as hv
from hashviz.exports import read_export
from hashviz.neighbour_table import NEIGHBOUR_COLUMNS, neighbour_table
from hashviz.zoo import load_model_dir

pytestmark = pytest.mark.browser
QUERY, N = 5, 12


def shown_counts(page) -> dict[str, int]:
    metrics = page.locator('[data-testid="stMetric"]')
    labels = metrics.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    values = metrics.locator('[data-testid="stMetricValue"]').all_inner_texts()
    return {label.strip(): int(value.replace(",", "")) for label, value in zip(labels, values)}


def test_compare_counts_scatter_click_and_neighbours_csv(tiny_zoo, tmp_path):
    a, b = load_model_dir(tiny_zoo / "dpsh-16"), load_model_dir(tiny_zoo / "itq-16")
    want = expected_counts(a, b)
    with running_app(tiny_zoo) as (url, _proc, _cold), chromium_page() as page:
        try:
            page.goto(f"{url}/?model=dpsh-16")       # app.py first: it routes the deep links after
            page.get_by_text("Models root").first.wait_for(timeout=60000)
            wait_for_app(page)
            page.goto(f"{url}/compare?model=dpsh-16")
            page.locator('[data-testid="stMetric"]').first.wait_for(timeout=60000)
            wait_for_app(page)
            page.locator('[data-testid="stSelectbox"]').filter(has_text="Model B").click()
            page.get_by_role("option", name="itq-16", exact=True).click()
            wait_for_app(page)
            expect(page.locator('[data-testid="stMetric"]').filter(has_text="itq-16 (B) wins")).to_have_count(1)
            wait_for_app(page)      # the metrics come first; on a busy machine the run may still be drawing
            assert shown_counts(page) == {"dpsh-16 (A) wins": want["A wins"], "itq-16 (B) wins": want["B wins"],
                                          "Ties": want["ties"], "Both fail": want["both fail"]}

            data, file_name = download(page, re.compile("Download the compare table"))
            context, table = read_export(data)
            assert context["model"] == "A = dpsh-16; B = itq-16" and len(table) == len(a.query_codes)
            assert file_name == "hashviz-dpsh-16-vs-itq-16-per-query.csv"

            point = page.locator(".js-plotly-plot .scatterlayer .point").first
            point.scroll_into_view_if_needed()
            box = point.bounding_box()               # plotly's drag layer takes the click, not the path
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_function("() => location.search.includes('view=side-by-side')", timeout=60000)
            page.locator(".hv-grid .hv-tile").first.wait_for(timeout=60000)
            assert re.search(r"compare=dpsh-16(%2C|,)itq-16", page.url)

            page.goto(f"{url}/?model=dpsh-16&query={QUERY}&n={N}&view=top-n")
            page.locator(".hv-grid .hv-tile").first.wait_for(timeout=60000)
            wait_for_app(page)
            data, file_name = download(page, "Download the top n as CSV")
        except Exception:
            screenshot_on_failure(page, "compare")
            raise
    assert file_name == f"hashviz-dpsh-16-top{N}.csv"
    context, rows = read_export(data)
    assert context["model"] == "dpsh-16" and "digits-small" in context["protocol"] and "ties" in context["rule"]
    assert list(rows.columns) == list(NEIGHBOUR_COLUMNS)
    assert (pd.read_csv(io.BytesIO(data), comment="#")["database_row"] == rows["database_row"]).all()

    expected = hv.neighbours(a, QUERY, n=N)                   # the public API
    pd.testing.assert_frame_equal(expected, neighbour_table(a, QUERY, n=N))
    assert rows["database_row"].tolist() == expected["database_row"].tolist()
    assert rows["distance"].tolist() == expected["distance"].tolist()
    assert rows["tie_group_size"].tolist() == expected["tie_group_size"].tolist()
    assert rows["labels"].astype(str).tolist() == expected["labels"].astype(str).tolist()

    order = brute_force_rankings(a)[QUERY][:N]                # and a numpy Hamming ranking
    distances = brute_force_distances(a, QUERY)
    assert rows["database_row"].tolist() == order.tolist()
    assert rows["distance"].tolist() == distances[order].tolist()
    assert rows["tie_group_size"].tolist() == [int((distances == d).sum()) for d in distances[order]]
    assert rows["relevant"].tolist() == (a.database_labels[order] == a.query_labels[QUERY]).tolist()
    assert np.array_equal(rows["rank"], np.arange(1, N + 1))


def test_code_map_selection_downloads_the_selected_rows(tiny_zoo, tmp_path, monkeypatch):
    from hashviz import codemap
    from test_browser_codemap import precompute_map
    cache = tmp_path / "projections"
    monkeypatch.setenv(codemap.CACHE_ENV, str(cache))
    model = load_model_dir(tiny_zoo / "dpsh-16")
    precompute_map(model, monkeypatch)
    with running_app(tiny_zoo, extra_env={codemap.CACHE_ENV: str(cache)}) as (url, _proc, _cold), \
            chromium_page() as page:
        try:
            open_app(page, url)
            page.goto(f"{url}/code_map?model=dpsh-16")
            page.locator(".js-plotly-plot .scatterlayer .point").first.wait_for(timeout=60000)
            wait_for_app(page)
            area = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
            page.mouse.move(area["x"] + 0.3 * area["width"], area["y"] + 0.3 * area["height"])
            page.mouse.down()
            page.mouse.move(area["x"] + 0.7 * area["width"], area["y"] + 0.7 * area["height"], steps=12)
            page.mouse.up()
            heading = page.get_by_role("heading", name=re.compile(r"selected"))
            heading.wait_for(timeout=60000)
            wait_for_app(page)
            n_selected = int(re.match(r"([\d,]+) selected", heading.inner_text()).group(1).replace(",", ""))
            data, file_name = download(page, "Download the selection (CSV)")
        except Exception:
            screenshot_on_failure(page, "code_map_download")
            raise
    assert file_name == "hashviz-dpsh-16-code-map-selection.csv"
    context, table = read_export(data)
    assert context["model"] == "dpsh-16" and "digits-small" in context["protocol"]
    rows = table["database_row"].to_numpy()
    assert len(rows) == n_selected and len(set(rows)) == n_selected
    assert table["dataset_id"].tolist() == model.database_ids[rows].tolist()
    assert table["labels"].astype(str).tolist() == [str(int(c)) for c in model.database_labels[rows]]
