"""The Diagnostics and Code map pages under Streamlit's AppTest, on the tiny zoo."""

import base64
import json
import re
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app_support import app_on  # noqa: E402

from hashviz import codemap, projection  # noqa: E402
from hashviz.zoo import load_model_dir  # noqa: E402




def figures(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def values(data) -> list:
    """A plotly JSON array: a list, or {"dtype", "bdata"} (base64 typed array)."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"])).tolist()
    return list(data)


def map_rows(fig: dict) -> list[int]:
    """Sorted row ids (customdata) of all points of a code map figure."""
    return sorted(int(r) for trace in fig["data"] for r in values(trace["customdata"]))


def map_counts(fig: dict) -> dict[int, int]:
    """row id -> the item count in its hover text (a code map of distinct codes)."""
    return {int(r): int(c.replace(",", "")) for trace in fig["data"]
            for r, c in zip(values(trace["customdata"]), trace["text"])}


def titles(at) -> list[str]:
    return [f["layout"]["title"]["text"] for f in figures(at)]


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A fresh projection cache for each test (the page reads $HASHVIZ_PROJECTION_CACHE)."""
    monkeypatch.setenv(codemap.CACHE_ENV, str(tmp_path / "projections"))
    return tmp_path / "projections"


def pca_as_umap(x, metric, n_neighbors, seed, min_dist, n_epochs):
    return projection._pca(np.asarray(x, dtype=np.float64), seed)


def umap_must_not_run(*args):
    raise AssertionError("the page computed a UMAP although the map was cached")


# ----------------------------------------------------------------------------- Diagnostics

def test_diagnostics_of_a_deep_model_shows_every_section(tiny_zoo, monkeypatch):
    at = app_on(tiny_zoo, "pages/diagnostics.py", monkeypatch, model_name="dpsh-16")
    assert [t.value for t in at.title] == ["Diagnostics"] and not at.error
    shown = metrics(at)
    for label in ("Dead bits (near-constant)", "Effective bits", "Max |correlation|", "Mean |u|",
                  "Mean |u − sign(u)|", "Distinct codes", "Largest bucket", "Cross-class collisions",
                  "Mean distance, same class", "Overlap"):
        assert label in shown, label
    assert shown["Effective bits"].endswith("of 16")
    assert titles(at) == ["Bit balance: share of +1 per bit", "Bit entropy (1 bit = perfectly balanced)",
                          "How many bits the code really uses", "Bit correlation (Pearson, ±1 bits)",
                          "Pairwise mutual information (bits; diagonal = bit entropy)",
                          "Quantization: continuous outputs vs their signs",
                          "|u| per bit (share of each bit's outputs per bin)",
                          "Bucket sizes: how many codes share one code",
                          titles(at)[-3], "Table lookup: recall@100 vs candidates scanned per query",
                          titles(at)[-1]]
    assert titles(at)[-3].startswith("Hamming distances: same class vs different class (overlap")
    assert re.fullmatch(r"Hamming cube: \d+ occupied 16-bit codes", titles(at)[-1])
    summary = at.dataframe[0].value
    assert list(summary.columns) == ["measure", "dpsh-16"] and "effective bits" in set(summary["measure"])


def test_diagnostics_of_a_pq_model_shows_codeword_usage_instead_of_bits(tiny_zoo, monkeypatch):
    at = app_on(tiny_zoo, "pages/diagnostics.py", monkeypatch, model_name="dpq-16")
    assert not at.error
    shown = metrics(at)
    assert shown["Mean codebook perplexity"].endswith("of 256") and "Distinct codes" in shown
    assert "Effective bits" not in shown and "Dead bits (near-constant)" not in shown
    assert titles(at) == ["Codeword usage per codebook", "Bucket sizes: how many codes share one code"]
    infos = " ".join(i.value for i in at.info)
    assert "Product-quantisation codes are codebook indices" in infos and "Hamming distances do not apply" in infos
    lens_note = "This model stores pq codes (codeword indices), not bits: this lens applies to binary codes only."
    assert infos.count(lens_note) == 2                                   # hash lookup and the Hamming cube


def test_diagnostics_compare_mode_puts_two_models_side_by_side(tiny_zoo, monkeypatch):
    at = app_on(tiny_zoo, "pages/diagnostics.py", monkeypatch, model_name="csq-16")
    single = len(figures(at))
    at.toggle(key="diag_compare").set_value(True).run()
    at.selectbox(key="diag_other").set_value("lsh-16").run()
    assert not at.exception and not at.error
    assert list(at.dataframe[0].value.columns) == ["measure", "csq-16", "lsh-16"]
    assert [s.value for s in at.subheader][:2] == ["csq-16", "lsh-16"]
    assert len(figures(at)) == 2 * single           # the time a click takes: bench/responsiveness.py
    at.selectbox(key="diag_other").set_value("dpsh-16").run()
    assert [s.value for s in at.subheader][:2] == ["csq-16", "dpsh-16"] and not at.exception


# ----------------------------------------------------------------------------- Code map

def test_code_map_with_a_cached_projection_is_ready_and_a_selection_opens_retrieval(tiny_zoo, monkeypatch,
                                                                                     cache_dir):
    from pages.navigation import RETRIEVAL_LINK, retrieval_link
    model = load_model_dir(tiny_zoo / "dpsh-16")
    with monkeypatch.context() as mp:               # precompute, as the zoo build does (cheaply)
        mp.setattr(projection, "_umap", pca_as_umap)
        xy, rows = codemap.code_map_projection(model, method="umap")
    monkeypatch.setattr(projection, "_umap", umap_must_not_run)
    at = app_on(tiny_zoo, "pages/code_map.py", monkeypatch, model_name="dpsh-16")
    assert not at.error and not at.info, [e.value for e in at.error]
    (fig,) = figures(at)
    assert fig["layout"]["title"]["text"] == f"UMAP of the codes (Hamming) · {len(rows):,} points"
    assert fig["layout"]["dragmode"] == "select"
    assert map_rows(fig) == sorted(rows.tolist())
    assert "No points selected yet." in [c.value for c in at.caption]
    # one point per distinct code, its item count in the hover data; a selected code selects its items
    same_code = {int(r): np.flatnonzero((model.database_codes == model.database_codes[r]).all(1)).tolist()
                 for r in rows}
    assert map_counts(fig) == {r: len(items) for r, items in same_code.items()}
    shared = next(r for r in rows if 2 <= len(same_code[r]) <= 20)
    alone = next(r for r in rows if r != shared and len(same_code[shared]) + len(same_code[r]) <= 48)

    key = f"cm_plot_dpsh-16_codes_umap_{len(model.database_codes)}"
    selection = {"selection": {"points": [{"customdata": shared}, {"customdata": alone}, {"customdata": shared}],
                               "point_indices": [], "box": [{}], "lasso": []}}
    at.session_state[key] = selection              # what a box selection sends
    at.run()
    expected = same_code[shared] + same_code[alone]
    assert [s.value for s in at.subheader] == [f"{len(expected)} selected"]
    captions = [img.caption for el in at.get("image") for img in el.proto.imgs]
    assert captions == [f"row {r} · {model.database_labels[r]}" for r in expected]
    at.session_state[key] = selection              # (AppTest does not keep a chart's selection)
    at.session_state[RETRIEVAL_LINK] = retrieval_link(model, query_row=3)   # an older link: replaced
    at.selectbox(key="cm_query").set_value(expected[-1])
    at.button[0].click().run()
    assert [t.value for t in at.title][:1] == ["Retrieval"]          # switched, and the page took the row
    assert f"database item #{expected[-1]} " in " ".join(m.value for m in at.markdown)


def test_code_map_without_a_cache_shows_pca_at_once_then_the_umap(tiny_zoo, monkeypatch, cache_dir):
    gate = threading.Event()

    def slow_umap(x, metric, n_neighbors, seed, min_dist, n_epochs):
        gate.wait(30)
        return pca_as_umap(x, metric, n_neighbors, seed, min_dist, n_epochs)
    monkeypatch.setattr(projection, "_umap", slow_umap)
    at = app_on(tiny_zoo, "pages/code_map.py", monkeypatch, model_name="itq-16")
    assert "Computing the UMAP map in the background" in at.info[0].value
    assert titles(at)[0].startswith("PCA of the ±1 codes")
    model = load_model_dir(tiny_zoo / "itq-16")
    path = codemap.code_map_cache_path(model, "umap")
    assert path.parent == cache_dir
    gate.set()
    for _ in range(300):
        if path.exists():
            break
        time.sleep(0.1)
    at.run()
    assert not at.info and titles(at)[0].startswith("UMAP of the codes (Hamming)")


def test_code_map_of_a_pq_model_maps_reconstructions_beside_pixels(tiny_zoo, monkeypatch, cache_dir):
    monkeypatch.setattr(projection, "_umap", umap_must_not_run)
    at = app_on(tiny_zoo, "pages/code_map.py", monkeypatch, model_name="dpq-16")
    at.radio(key="cm_method").set_value("pca").run()
    assert "reconstructed vectors" in at.info[0].value
    assert "bit" not in at.radio(key="cm_colour").options and len(at.radio(key="cm_colour").options) == 2
    at.selectbox(key="cm_beside").set_value("the same images' pixels").run()
    at.radio(key="cm_colour").set_value("correct").run()
    assert not at.exception and not at.error
    assert [t.split(" · ")[0] for t in titles(at)] == ["PCA of the pq reconstructions", "PCA of the pixels"]
    names = {trace["name"].split(" (")[0] for trace in figures(at)[0]["data"]}
    assert names == {"right", "wrong"}


def test_code_map_beside_outputs_coloured_by_one_bit(tiny_zoo, monkeypatch, cache_dir):
    monkeypatch.setattr(projection, "_umap", umap_must_not_run)
    at = app_on(tiny_zoo, "pages/code_map.py", monkeypatch, model_name="csq-16")
    at.radio(key="cm_method").set_value("pca").run()
    at.selectbox(key="cm_beside").set_value("the network's continuous outputs").run()
    at.radio(key="cm_colour").set_value("bit").run()
    at.slider(key="cm_bit").set_value(3).run()
    assert not at.exception and not at.error
    codes_map, outputs_map = figures(at)
    assert outputs_map["layout"]["title"]["text"].startswith("PCA of the continuous outputs u")
    assert [t["name"] for t in codes_map["data"]] == ["bit = −1", "bit = +1"]
    assert map_rows(codes_map) == map_rows(outputs_map)      # the same images in both maps
