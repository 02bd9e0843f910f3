"""The Evaluate page's protocol: the full statement and a protocol card for any model of the root,
one click away from the leaderboard (logic: hashviz.leaderboard, hashviz.protocol_card)."""

import streamlit as st

from hashviz import leaderboard as lb
from hashviz.protocol_card import card_table, protocol_card
from hashviz.safe_text import trusted


def protocol_details(models, model) -> None:
    """An expander with the full protocol statement and the protocol card of a chosen model (the
    sidebar's by default): sizes, relevance, top-k, ties, empty queries, model selection."""
    with st.expander("The full protocol and each model's protocol card"):
        st.markdown(trusted(lb.protocol_statement(models)))
        names = [m.name for m in models]
        chosen = st.selectbox("Protocol card of", names, index=names.index(model.name) if model in models else 0,
                              key="evaluate_card_model")
        card = protocol_card(next(m for m in models if m.name == chosen))
        st.dataframe(card_table(card), hide_index=True, key="evaluate_protocol_card")
