"""Cross-page links (pages/navigation.py) and what Retrieval says when a database item is the query."""

from __future__ import annotations

import numpy as np
import pytest

from app_support import app_on, shown
from pages.navigation import RETRIEVAL_LINK, retrieval_link


def test_a_link_names_exactly_one_row_and_its_model(tiny_zoo):
    from hashviz.zoo import load_model_dir
    model = load_model_dir(tiny_zoo / "dpsh-16")
    assert retrieval_link(model, database_row=4) == {"model": "dpsh-16", "model_key": model.content_key,
                                                     "database_row": 4}
    with pytest.raises(ValueError):
        retrieval_link(model, query_row=1, database_row=4)
    with pytest.raises(ValueError):
        retrieval_link(model)


def test_a_database_item_as_query_is_said_to_find_itself_at_distance_0(tiny_zoo, monkeypatch):
    """Row 7 of the database as the query: first in its own ranking at distance 0 (ties by index put
    it before any other item at 0), and the note says its AP counts it."""
    from hashviz.zoo import load_model_dir
    model = load_model_dir(tiny_zoo / "dpsh-16")
    at = app_on(tiny_zoo, "pages/retrieval.py", monkeypatch, model_name="dpsh-16")
    at.session_state[RETRIEVAL_LINK] = retrieval_link(model, database_row=7)
    at.run()
    assert not at.exception
    notes = " ".join(shown(c.value) for c in at.caption)
    assert "This query is database item #7 itself: it sits at distance 0" in notes
    assert "counts as one relevant item in its AP" in notes and "mean over the query set" in notes
    bits = np.unpackbits(model.database_codes, axis=1)
    at_zero = np.flatnonzero((bits != bits[7]).sum(1) == 0)          # itself and its exact duplicates
    table = next(d.value for d in at.dataframe if "database_index" in d.value.columns)
    head = table.head(min(len(at_zero), len(table)))
    assert head["database_index"].tolist() == at_zero[:len(head)].tolist() and set(head["distance"]) == {0}
    assert 7 in at_zero                                               # by its own code, it is at distance 0
    at.session_state[RETRIEVAL_LINK] = retrieval_link(model, query_row=2)
    at.run()
    assert "This query is database item" not in " ".join(shown(c.value) for c in at.caption)
