"""Streamlit's AppTest on the real app.py, opened on one page with a chosen models root."""

import html
from pathlib import Path

from streamlit.testing.v1 import AppTest

from hashviz.safe_text import WORD_JOINER

REPO = Path(__file__).resolve().parent.parent


def app_on(root: Path, page: str, monkeypatch, **state) -> AppTest:
    """The app on `page` with the models root `root` (state: e.g. the sidebar's model_name)."""
    monkeypatch.setenv("HASHVIZ_MODELS", str(root))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    at.switch_page(page)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown(markdown: str) -> str:
    """What a reader sees of an element's markdown source: untrusted parts are written as character
    references with word joiners (hashviz.safe_text), which the browser shows as the plain text."""
    return html.unescape(markdown).replace(WORD_JOINER, "")
