"""hashviz: the entry point. Routes the pages and holds the shared sidebar (models root, model)."""

from pathlib import Path

import streamlit as st

from hashviz.deployment import current_deployment
from pages.shell import render_sidebar

# A shipped icon: a material-icon favicon is fetched from an outside font host, which a demo must not need.
FAVICON = str(Path(__file__).resolve().parent / "assets" / "favicon.png")
st.set_page_config(page_title="hashviz", page_icon=FAVICON, layout="wide")

PAGES = [
    st.Page("pages/retrieval.py", title="Retrieval", icon=":material/image_search:", default=True),
    st.Page("pages/diagnostics.py", title="Diagnostics", icon=":material/analytics:"),
    st.Page("pages/code_map.py", title="Code map", icon=":material/scatter_plot:"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/leaderboard:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/taxonomy.py", title="Taxonomy", icon=":material/account_tree:"),
]
if not current_deployment().demo:       # a demo server has no Train page, not even by URL
    PAGES.append(st.Page("pages/train.py", title="Train", icon=":material/model_training:"))

page = st.navigation(PAGES)
render_sidebar()
page.run()
