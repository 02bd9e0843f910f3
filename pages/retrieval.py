"""retrieval page (being built)."""

import streamlit as st

from pages.common import require_model

model = require_model()
st.title("retrieval".replace("_", " ").capitalize())
st.info("This view is being built.")
