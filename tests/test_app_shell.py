"""The shell: navigation, the shared sidebar on every page, and the search backend choice."""

import pytest
from streamlit.testing.v1 import AppTest

from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"
PAGES = ["pages/retrieval.py", "pages/diagnostics.py", "pages/code_map.py", "pages/evaluate.py",
         "pages/compare.py", "pages/taxonomy.py", "pages/train.py"]


@pytest.fixture
def app(tiny_zoo, monkeypatch):
    monkeypatch.setenv("HASHVIZ_MODELS", str(tiny_zoo))
    return AppTest.from_file(str(APP), default_timeout=120).run()


def test_every_page_keeps_the_sidebar_and_runs_without_exception(app):
    assert not app.exception
    for page in PAGES:
        app.switch_page(page).run()
        assert not app.exception, page
        assert [s.label for s in app.sidebar.selectbox][:1] == ["Model"], page


def test_model_choice_survives_page_switches(app):
    app.sidebar.selectbox(key="model_name").set_value("itq-16").run()
    app.switch_page("pages/diagnostics.py").run()
    app.switch_page("pages/evaluate.py").run()
    assert app.session_state["model_name"] == "itq-16"
    assert "itq" in " ".join(c.value for c in app.sidebar.caption)


def test_unreachable_milvus_falls_back_to_faiss_with_a_warning(app):
    app.sidebar.radio(key="search_backend").set_value("Milvus").run()
    app.sidebar.text_input(key="milvus_uri").set_value("http://127.0.0.1:1").run()
    warnings = " ".join(w.value for w in app.warning)
    assert "Milvus is not usable" in warnings and "faiss" in warnings
    assert not app.exception and not app.error


def test_milvus_lite_backend_serves_the_retrieval_page(app, tmp_path):
    pytest.importorskip("pymilvus")
    app.sidebar.radio(key="search_backend").set_value("Milvus").run()
    app.sidebar.text_input(key="milvus_uri").set_value(str(tmp_path / "codes.db")).run()
    assert not app.exception and not app.error
    assert not any("Milvus is not usable" in w.value for w in app.warning)
    assert (tmp_path / "codes.db").exists()


def test_empty_root_offers_to_build_the_starter_zoo(tmp_path, monkeypatch):
    monkeypatch.setenv("HASHVIZ_MODELS", str(tmp_path))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert any("hashviz zoo build" in m.value for m in at.markdown)
    assert [b.label for b in at.button] == ["Build the starter zoo"]


def test_rows_sent_from_other_pages_become_the_retrieval_query(app, tiny_zoo):
    from hashviz.zoo import load_model_dir
    from pages.navigation import RETRIEVAL_LINK, retrieval_link
    model = load_model_dir(tiny_zoo / "csq-16")
    app.sidebar.selectbox(key="model_name").set_value("csq-16").run()
    app.session_state[RETRIEVAL_LINK] = retrieval_link(model, database_row=7)
    app.switch_page("pages/retrieval.py").run()
    assert not app.exception
    shown = " ".join(m.value for m in app.markdown)
    assert f"database item #7 (dataset image {int(model.database_ids[7])})" in shown
    app.session_state[RETRIEVAL_LINK] = retrieval_link(model, query_row=3)
    app.run()
    assert "query set #3" in " ".join(m.value for m in app.markdown)


def test_a_link_made_for_another_model_is_ignored_with_a_note(app, tiny_zoo):
    """Row 7 of lsh-16 is another image than row 7 of csq-16: the link is not applied to csq-16."""
    from app_support import shown
    from hashviz.zoo import load_model_dir
    from pages.navigation import RETRIEVAL_LINK, retrieval_link
    app.sidebar.selectbox(key="model_name").set_value("csq-16").run()
    app.session_state[RETRIEVAL_LINK] = retrieval_link(load_model_dir(tiny_zoo / "lsh-16"), database_row=7)
    app.switch_page("pages/retrieval.py").run()
    assert not app.exception
    notes = [shown(w.value) for w in app.warning]
    assert any(n.startswith("A link to database row 7 of model lsh-16 was ignored: the sidebar shows csq-16")
               for n in notes), notes
    assert "database item #7" not in " ".join(m.value for m in app.markdown)
    assert "query set #0" in " ".join(m.value for m in app.markdown)            # the page's own query
