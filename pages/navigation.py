"""Links between pages, in one place: a page that opens a row on Retrieval (Evaluate's failure
finder, the Code map, Compare) writes one link tied to the model it was made for, and Retrieval
takes it only for that model. The sidebar may show another model by the time the link is read (a
second tab, a changed selection, a retrained directory), and row k of another model is another
image: such a link is ignored with a note, never applied to the wrong codes. Compare opens a query
side by side (`send_side_by_side`): the view travels in the URL, which Retrieval then reads again."""

from __future__ import annotations

import streamlit as st

from hashviz.compare_view import side_by_side_link
from pages.session_keys import MODEL_NAME, RETRIEVAL_LINK, RETRIEVAL_TOP_N, RETRIEVAL_URL_READ, RETRIEVAL_VIEW

__all__ = ["RETRIEVAL_LINK", "RETRIEVAL_PAGE", "retrieval_link", "send_to_retrieval", "send_side_by_side",
           "follow_side_by_side", "take_retrieval_link"]

RETRIEVAL_PAGE = "pages/retrieval.py"


def retrieval_link(model, query_row: int | None = None, database_row: int | None = None) -> dict:
    """A link (plain data) to `model`'s query-set row or database row; exactly one is given."""
    if (query_row is None) == (database_row is None):
        raise ValueError("a Retrieval link names a query row or a database row")
    part, row = ("query_row", query_row) if query_row is not None else ("database_row", database_row)
    return {"model": model.name, "model_key": model.content_key, part: int(row)}


def send_to_retrieval(model, query_row: int | None = None, database_row: int | None = None,
                      switch: bool = True) -> None:
    """Leave a link for Retrieval (replacing any earlier one) and, unless in a callback, go there."""
    st.session_state[RETRIEVAL_LINK] = retrieval_link(model, query_row, database_row)
    if switch:
        st.switch_page(RETRIEVAL_PAGE)


def send_side_by_side(model_a, model_b, query_row: int) -> None:
    """In a callback (before the sidebar is drawn): make A the sidebar's model, leave a link to its
    query row, and the view of A and B side by side (at Retrieval's top n) for `follow_side_by_side`."""
    st.session_state[MODEL_NAME] = model_a.name
    send_to_retrieval(model_a, query_row=int(query_row), switch=False)
    st.session_state.pop(RETRIEVAL_URL_READ, None)       # Retrieval reads the view from the URL once more
    st.session_state[RETRIEVAL_VIEW] = side_by_side_link(model_a, model_b, query_row,
                                                         st.session_state.get(RETRIEVAL_TOP_N, 20))


def follow_side_by_side() -> None:
    """Go to Retrieval when a callback of this run left a side-by-side view for it."""
    if view := st.session_state.pop(RETRIEVAL_VIEW, None):
        st.switch_page(RETRIEVAL_PAGE, query_params=view)


def take_retrieval_link(model) -> tuple[dict, str | None]:
    """(the pending link if it was made for `model`, else {}; a note when one for another model was
    dropped). The link is consumed either way."""
    link = st.session_state.pop(RETRIEVAL_LINK, None)
    if not link:
        return {}, None
    if (link.get("model"), link.get("model_key")) == (model.name, model.content_key):
        return link, None
    what = "query-set row" if "query_row" in link else "database row"
    row = link.get("query_row", link.get("database_row"))
    same_name = link.get("model") == model.name
    return {}, (f"A link to {what} {row} of model {link.get('model')} was ignored: "
                + ("that model's files changed since the link was made" if same_name else
                   f"the sidebar shows {model.name}, whose row {row} is another item")
                + ". Open it again from the page that made it.")
