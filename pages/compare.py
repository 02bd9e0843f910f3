"""Compare: two models over the same queries and database, query by query (AP under each, which
wins, where both fail), a scatter whose points open a query side by side on Retrieval, and the
table as CSV. Logic: hashviz.comparison and hashviz.compare_view."""

import streamlit as st

from hashviz import compare_view as cv
from hashviz.comparison import compare_models, outcome_counts
from hashviz.exports import export_file_name
from hashviz.safe_text import fill
from pages.common import as_text, current_models, model_by_name, or_stop, selected_model
from pages.downloads import csv_download
from pages.navigation import follow_side_by_side, send_side_by_side
from pages.shell import ensure_app_shell, require_model

ensure_app_shell()  # before anything is drawn: a page opened on its own goes through app.py

require_model()
st.title("Compare")


@st.cache_resource(show_spinner="Ranking every query under both models…", max_entries=8)
def compare_table(key_a: str, key_b: str, _model_a, _model_b):
    return compare_models(_model_a, _model_b)


@st.cache_resource(show_spinner="Finding models with the same queries…", max_entries=4)
def partner_names(model_keys: tuple, _models):
    return cv.partner_table(_models)


def open_side_by_side(query_row: int) -> None:
    """Run as a callback (before the sidebar is drawn), so the sidebar's model can become A."""
    send_side_by_side(model_by_name(st.session_state.compare_a), model_by_name(st.session_state.compare_b), query_row)


def point_clicked() -> None:
    points = ((st.session_state.get("compare_scatter") or {}).get("selection") or {}).get("points") or []
    if points and points[0].get("customdata") is not None:
        open_side_by_side(int(points[0]["customdata"]))


follow_side_by_side()

models = current_models()
partners = partner_names(tuple(m.content_key for m in models), models)
names = [m.name for m in models if partners[m.name]]
if not names:
    st.info("No two models here rank the same queries against the same database (same dataset, protocol "
            "and query set), so there is nothing to compare. Train or import a second model on the same "
            "protocol as one of these.")
    st.stop()
if st.session_state.get("compare_a") not in names:
    sidebar = selected_model()
    st.session_state.compare_a = sidebar.name if sidebar is not None and sidebar.name in names else names[0]
left, right = st.columns(2)
model_a = model_by_name(left.selectbox("Model A", names, key="compare_a"))
others = partners[model_a.name]
if st.session_state.get("compare_b") not in others:
    st.session_state.compare_b = others[0]
model_b = model_by_name(right.selectbox("Model B (same queries and database as A)", others, key="compare_b"))
if skipped := len(models) - 1 - len(others):
    right.caption(fill("{} other model(s) rank other queries or another database and are not offered.", skipped))

frame = or_stop(compare_table, model_a.content_key, model_b.content_key, model_a, model_b)
counts = outcome_counts(frame)
a_wins, b_wins, ties, fails = st.columns(4)
a_wins.metric(fill("{} (A) wins", model_a.name), f"{counts['A wins']:,}", help="queries", border=True)
b_wins.metric(fill("{} (B) wins", model_b.name), f"{counts['B wins']:,}", help="queries", border=True)
ties.metric("Ties", f"{counts['ties']:,}", help="queries", border=True)
fails.metric("Both fail", f"{counts['both fail']:,}", help="queries", border=True)
st.caption(as_text(cv.rule_note(model_a, model_b)))

st.plotly_chart(cv.scatter(frame, model_a, model_b), key="compare_scatter", on_select=point_clicked,
                selection_mode="points")
pick, opener = st.columns([4, 1], vertical_alignment="bottom")
by_row = frame.set_index("query_row")
row = pick.selectbox("Query (largest AP gap first)", cv.queries_by_gap(frame), key="compare_query",
                     format_func=lambda r: f"query row {r} · {by_row.loc[r, 'labels']} · AP "
                                           f"{by_row.loc[r, 'ap_a']:.3f} (A) / {by_row.loc[r, 'ap_b']:.3f} (B)")
opener.button("Open side by side on Retrieval", key="compare_open_button", on_click=open_side_by_side,
              args=(row,), icon=":material/image_search:")

st.subheader("Per query")
st.dataframe(frame, hide_index=True, key="compare_table",
             column_config={c: st.column_config.NumberColumn(format="%.3f") for c in ("ap_a", "ap_b")})
csv_download("Download the compare table (CSV)", cv.compare_csv(frame, model_a, model_b),       # keyed by the pair:
             export_file_name(model_a.name, f"vs-{model_b.name}-per-query"),               # a new pair, a new file
             key=f"compare_csv_{model_a.name}_{model_b.name}")
