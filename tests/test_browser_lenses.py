"""The lenses for real: one `streamlit run app.py` in headless Chromium for all of them, each test
checking what the page shows against numbers computed here from the codes by brute force."""

import contextlib
import re

import numpy as np
import pytest

from browser_support import chromium_page, running_app, screenshot_on_failure, wait_for_app
from hashviz import codemap, projection
from hashviz.codes import unpack_bits01
from hashviz.zoo import load_model_dir

pytestmark = pytest.mark.browser

MODEL = "dpsh-16"


@pytest.fixture(scope="module")
def lens_page(tiny_zoo, tmp_path_factory):
    """(page, base url, model, (xy, rows)): the app on the tiny zoo with dpsh-16's code map cached."""
    cache = tmp_path_factory.mktemp("projections")
    model = load_model_dir(tiny_zoo / MODEL)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(codemap.CACHE_ENV, str(cache))      # fill the slot the page reads, cheaply (PCA for UMAP)
        mp.setattr(projection, "_umap", lambda x, *a: projection._pca(np.asarray(x, dtype=np.float64), 0))
        code_map = codemap.code_map_projection(model, method="umap")
    with running_app(tiny_zoo, extra_env={codemap.CACHE_ENV: str(cache)}) as (url, _proc, _cold), \
            chromium_page() as page:
        page.goto(url)
        page.get_by_text("Models root").first.wait_for(timeout=60000)
        wait_for_app(page)
        yield page, url, model, code_map


def open_page(page, url: str, tab: str | None = None, title: str | None = None) -> None:
    """Go to url, optionally click a tab and wait for a plotly figure titled `title`."""
    page.goto(url)
    wait_for_app(page)
    if tab:
        page.get_by_role("tab", name=tab).click(timeout=90000)
    if title:
        page.locator(".gtitle").filter(has_text=title).wait_for(timeout=60000)
        wait_for_app(page)


@contextlib.contextmanager
def screenshot_if_failing(page, name: str):
    try:
        yield
    except Exception:
        screenshot_on_failure(page, name)
        raise


def distances(queries01: np.ndarray, db01: np.ndarray) -> np.ndarray:
    return (queries01[:, None, :] != db01[None, :, :]).sum(axis=2)


def top(dist_row: np.ndarray, n: int) -> list[int]:
    return np.lexsort((np.arange(dist_row.size), dist_row))[:n].tolist()


def test_bit_flip_probe_shows_what_enters_and_leaves(lens_page):
    page, url, model, _ = lens_page
    with screenshot_if_failing(page, "lens_bit_flip"):
        open_page(page, f"{url}/?model={MODEL}&n=12&view=bit-flip")
        page.get_by_text("Click one or more bits above").wait_for(timeout=60000)
        q01 = unpack_bits01(model.query_codes[:1])[0]
        page.get_by_role("button", name=f"3:{q01[3]}", exact=True).click()
        page.locator(".hv-bits").filter(has_text="Flipped bit(s) 3").wait_for(timeout=60000)
        wait_for_app(page)
        db01 = unpack_bits01(model.database_codes)
        flipped = q01.copy()
        flipped[3] ^= 1
        before, after = (top(distances(q[None], db01)[0], 12) for q in (q01, flipped))
        entered = [r for r in after if r not in before]
        left = [r for r in before if r not in after]
        text = page.locator(".hv-bits").filter(has_text="Flipped bit(s) 3").inner_text()
        assert f"{len(entered)} item(s) entered and {len(left)} left the top 12" in text
        tiles = "() => [...(document.querySelector('.hv-grid')?.querySelectorAll('.hv-tile') ?? [])].map(e => Number(e.dataset.row))"
        page.wait_for_function(f"want => JSON.stringify(({tiles})()) === JSON.stringify(want)", arg=entered, timeout=30000)
        assert page.evaluate(tiles) == entered
        page.get_by_text("How each flipped bit splits the classes").first.wait_for(timeout=30000)
        for side in (1, 0):                               # examples from each side of the bit
            shown = min(6, int((db01[:, 3] == side).sum()))
            assert page.get_by_text(f"bit 3 = {side} ({shown})", exact=True).count() == 1


def test_backend_parity_lists_each_backend_with_a_verdict(lens_page):
    page, url, model, _ = lens_page
    with screenshot_if_failing(page, "lens_backends"):
        open_page(page, f"{url}/?model={MODEL}&n=12&view=backends")
        page.get_by_text("reference (exact; ties by database row)").wait_for(timeout=60000)
        body = page.locator('[data-testid="stMainBlockContainer"]').inner_text()
        assert re.search(r"hash \([\d.]+ ms\): identical to the reference", body)
        assert re.search(r"ivf \([\d.]+ ms\): (identical|same distances|\d+ true miss)", body)
        assert "tie order" in body and "true miss" in body          # the rule is stated on the page


def test_hash_lookup_explorer_and_collisions(lens_page):
    page, url, model, _ = lens_page
    with screenshot_if_failing(page, "lens_lookup"):
        open_page(page, f"{url}/diagnostics?model={MODEL}", "Hash lookup", "Table lookup: recall@100")
        legend = page.locator(".legendtext").evaluate_all("els => els.map(e => e.textContent)")
        assert [t for t in legend if t.startswith("b =")] == ["b = 4", "b = 8", "b = 12", "b = 16"]
        n_db, n_q = len(model.database_codes), len(model.query_codes)
        assert page.get_by_text(f"averaged over all {n_q:,} queries", exact=False).count() >= 1
        assert page.get_by_text(f"against {n_db:,} database codes", exact=False).count() >= 1
        # the worst collision, by brute force: most pairs of different classes on one code
        strips = ["".join(map(str, b)) for b in unpack_bits01(model.database_codes)]
        labels = model.database_labels
        cross = {c: sum(int(labels[i] != labels[j]) for i in rows for j in rows if i < j)
                 for c in set(strips) for rows in [[i for i, s in enumerate(strips) if s == c]]}
        most = max(cross.values())
        assert most > 0                                   # the tiny model does collide across classes
        first = page.locator('[data-testid="stSelectbox"]').filter(has_text="Images of the collision").first
        first.wait_for(timeout=30000)                     # the worst collision is chosen first
        shown = " ".join([first.inner_text(), *first.locator("input").evaluate_all("els => els.map(e => e.value)")])
        code, pairs = re.search(r"([01]{16}) · [\d,]+ items · ([\d,]+) cross-class pairs", shown).groups()
        assert int(pairs.replace(",", "")) == most and cross[code] == most


def test_hamming_cube_draws_the_occupied_corners(lens_page):
    page, url, model, _ = lens_page
    with screenshot_if_failing(page, "lens_cube"):
        n_distinct = len(np.unique(model.database_codes, axis=0))
        shown = min(64, n_distinct)
        open_page(page, f"{url}/diagnostics?model={MODEL}", "Hamming cube",
                  f"Hamming cube: {shown} occupied 16-bit codes")
        assert page.get_by_text(f"of {n_distinct:,} occupied corners", exact=False).count() >= 1 or shown == n_distinct
        assert page.locator(".legendtext").filter(has_text="one bit apart").count() >= 1


def test_code_map_states_projection_trust_and_colours_torn_points(lens_page):
    page, url, model, (xy, rows) = lens_page
    with screenshot_if_failing(page, "lens_trust"):
        open_page(page, f"{url}/code_map?model={MODEL}")
        metric = page.locator('[data-testid="stMetric"]').filter(has_text="Projection trust")
        metric.wait_for(timeout=60000)
        codes01 = unpack_bits01(model.database_codes[rows])
        ham = distances(codes01, codes01)
        np.fill_diagonal(ham, 10 ** 6)
        kth = np.sort(ham, axis=1)[:, 9]                                  # k = 10 nearest Hamming distance
        geo = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
        np.fill_diagonal(geo, np.inf)
        near = np.argsort(geo, axis=1, kind="stable")[:, :10]
        kept = np.minimum((np.take_along_axis(ham, near, 1) <= kth[:, None]).sum(axis=1), 10)
        value = metric.locator('[data-testid="stMetricValue"]').inner_text()
        assert value == f"{kept.mean() / 10:.1%}"
        torn = int((kept < 5).sum())
        assert page.get_by_text(f"{torn:,} of {len(rows):,} points torn", exact=False).count() == 1
        page.locator('[data-testid="stRadio"]').filter(has_text="Colour by").get_by_text(
            "projection trust", exact=True).click()
        page.locator(".legendtext").filter(has_text="neighbours nearby").first.wait_for(timeout=60000)
        wait_for_app(page)
        if torn:
            assert page.locator(".legendtext").filter(has_text="torn (< half kept)").count() == 1
