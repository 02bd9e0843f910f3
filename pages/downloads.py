"""Download buttons for tables: every CSV the app offers is made by hashviz.exports."""

import streamlit as st

from hashviz.exports import csv_bytes, export_file_name, model_context
from hashviz.safe_text import trusted


def csv_download(label: str, data: bytes, file_name: str, key: str | None = None) -> None:
    """A download button for CSV bytes made by hashviz.exports (`label`: the page's own words)."""
    st.download_button(trusted(label), data, file_name, "text/csv", key=key, icon=":material/download:")


def table_download(label: str, table, model, what: str, title: str = "", key: str | None = None) -> None:
    """A download button for `table` of `model`: its first lines state model, protocol and rule, and
    its file name is hashviz-<model>-<what>.csv."""
    csv_download(label, csv_bytes(table, model_context(model), title=title or what),
                 export_file_name(model.name, what), key)
