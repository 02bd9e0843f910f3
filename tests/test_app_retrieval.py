"""The Retrieval page in Streamlit's AppTest: it runs on the tiny zoo and its widgets change the result."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app_support import shown as visible

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def make_app(root: Path, monkeypatch, params: dict | None = None):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("HASHVIZ_MODELS", str(root))
    at = AppTest.from_file(APP, default_timeout=90)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page("pages/retrieval.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def app(tiny_zoo, monkeypatch):
    return make_app(tiny_zoo, monkeypatch)


def shown(at):
    """Database indices of the top n, as the page's results table lists them."""
    return at.dataframe[0].value["database_index"].tolist()


def rerun(at):
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at):
    """The markdown as a reader sees it (untrusted parts arrive as character references)."""
    return " ".join(visible(m.value) for m in at.markdown)


def test_retrieval_page_runs_and_shows_the_top_n(app):
    assert app.title[0].value == "Retrieval"
    assert len(shown(app)) == 20 and app.slider(key="rq_n").value == 20
    assert "precision@20" in texts(app) and "AP" in texts(app)
    assert any("ties by database index" in c.value for c in app.caption)
    assert any(getattr(e, "key", None) == "rq_grid" for e in app.main)
    assert app.query_params["query"] == "0" and app.query_params["n"] == "20"


def test_changing_the_query_index_changes_the_top_n(app):
    before = shown(app)
    app.number_input(key="rq_index").set_value(5)
    rerun(app)
    assert shown(app) != before
    assert "query set #5" in texts(app) and app.query_params["query"] == "5"


def test_n_changes_the_count(app):
    app.slider(key="rq_n").set_value(7)
    rerun(app)
    assert len(shown(app)) == 7 and len(app.selectbox(key="rq_detail").options) == 7
    assert "precision@7" in texts(app) and app.query_params["n"] == "7"


def test_random_query_of_a_class_has_that_class(app):
    app.radio(key="rq_mode").set_value("Random of a class")
    rerun(app)
    app.selectbox(key="rq_class").set_value(3)
    rerun(app)
    app.button[0].click()
    rerun(app)
    assert "**label:** 3" in texts(app)
    results = app.dataframe[0].value
    assert (results["right_wrong"] == np.where(results["label"] == "3", "right", "wrong")).all()


def test_detail_select_shows_the_item_and_its_differing_bits(app):
    app.selectbox(key="rq_detail").set_value(20)
    rerun(app)
    assert any(visible(c).startswith("#20 ·") for img in app.image for c in img.captions)
    assert any("#20 · label" in h.value and "differs from the query in" in h.value for h in app.html)


def test_side_by_side_shows_one_column_per_model(app):
    app.radio(key="rq_view").set_value("side-by-side")
    rerun(app)
    assert app.multiselect(key="rq_compare").value == ["csq-16", "dpsh-16"]
    assert texts(app).count("precision@20") == 2
    app.multiselect(key="rq_compare").set_value(["csq-16", "dpsh-16", "itq-16"])
    rerun(app)
    assert texts(app).count("precision@20") == 3
    assert app.query_params["compare"] == "csq-16,dpsh-16,itq-16"


def test_hamming_ball_counts_items_per_radius(app):
    app.radio(key="rq_view").set_value("hamming-ball")
    rerun(app)
    table = app.dataframe[0].value
    assert table["distance"].tolist() == [0, 1, 2, 3]
    assert (table["items within d"].diff().fillna(table["items at d"]) == table["items at d"]).all()


def test_a_link_opens_the_same_view(tiny_zoo, monkeypatch):
    at = make_app(tiny_zoo, monkeypatch, {"model": "dpsh-16", "query": "12", "n": "9", "view": "side-by-side",
                                          "compare": "dpsh-16,itq-16,lsh-16"})
    assert at.session_state["model_name"] == "dpsh-16"
    assert "query set #12" in texts(at) and at.slider(key="rq_n").value == 9
    assert at.multiselect(key="rq_compare").value == ["dpsh-16", "itq-16", "lsh-16"]
    assert texts(at).count("precision@9") == 3


def test_a_bad_link_warns_and_falls_back(tiny_zoo, monkeypatch):
    at = make_app(tiny_zoo, monkeypatch, {"query": "9999", "view": "nope"})
    assert "query set #0" in texts(at)


def test_an_uploaded_png_is_searched(app):
    app.radio(key="rq_mode").set_value("Upload")
    rerun(app)
    picture = np.zeros((32, 32), np.uint8)
    picture[6:26, 14:18] = 255                                    # a bright "1" on black
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG")
    app.file_uploader(key="rq_file").upload("one.png", buf.getvalue(), "image/png")
    rerun(app)
    assert "upload one.png" in texts(app) and len(shown(app)) == 20
    assert any("resized 32×32 to 8×8" in c.value for c in app.caption)
    assert set(app.dataframe[0].value["right_wrong"]) == {"unknown"}
    app.selectbox(key="rq_upload_label").set_value(1)
    rerun(app)
    assert set(app.dataframe[0].value["right_wrong"]) <= {"right", "wrong"}


def test_a_broken_upload_is_an_error_message_not_a_traceback(app):
    app.radio(key="rq_mode").set_value("Upload")
    rerun(app)
    app.file_uploader(key="rq_file").upload("broken.png", b"\x89PNG\r\n\x1a\n broken", "image/png")
    rerun(app)
    assert any("PNG or JPEG" in e.value for e in app.error)


def test_a_pq_model_has_no_hamming_ball(tiny_zoo, monkeypatch):
    at = make_app(tiny_zoo, monkeypatch, {"model": "dpq-16", "view": "hamming-ball"})
    assert [i.value for i in at.info] == ["This model stores pq codes (codeword indices), not bits: there is no "
                                          "Hamming ball, bit flip or backend comparison; use Top n."]
    strip = at.get("html")[0].proto.body
    assert "Query&#x27;s pq code: codeword index per sub-space (pq codes have no bit strip)" in strip
    assert ">sub-space</th>" in strip and "#0072B2" not in strip          # indices, no filled bit cells


def test_a_codes_only_model_runs_without_pictures_or_uploads(tmp_path, monkeypatch):
    from hashviz.importing import import_codes
    rng = np.random.default_rng(0)
    for name, array in {"db": rng.integers(0, 2, (40, 16)), "dbl": rng.integers(0, 3, 40),
                        "q": rng.integers(0, 2, (4, 16)), "ql": rng.integers(0, 3, 4)}.items():
        np.save(tmp_path / f"{name}.npy", array)
    import_codes(*(tmp_path / f"{n}.npy" for n in ("db", "dbl", "q", "ql")), tmp_path / "root" / "imported-16")
    at = make_app(tmp_path / "root", monkeypatch)
    assert "Upload" not in at.radio(key="rq_mode").options
    assert len(shown(at)) == 20 and not at.image
