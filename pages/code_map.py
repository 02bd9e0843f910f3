"""Code map: a 2-D map of the chosen model's database codes (UMAP, Hamming metric), optionally beside
a map of the same images' pixels or the network's continuous outputs. Select points to see their
images; send one to the Retrieval page as the query."""

import uuid

import streamlit as st

from hashviz import codemap, plots
from hashviz.code_space import code_space
from hashviz.deployment import current_deployment
from hashviz.errors import HashvizError
from hashviz.map_jobs import DEMO_POINTS, MapJobs, MapsBusy
from hashviz.labels import group_names, grouping_choices, is_multi_label
from hashviz.safe_text import fill, trusted
from pages.common import as_text, or_stop
from pages.context import require_context
from pages.downloads import table_download
from pages.lenses_ui import colour_kinds, trust_figure, trust_metric
from pages.navigation import send_to_retrieval
from pages.shell import ensure_app_shell

ensure_app_shell()  # before anything is drawn: a page opened on its own goes through app.py


@st.cache_resource
def projection_jobs(demo: bool):
    """The whole app's map jobs: a missing UMAP map is computed once, for everyone; one pending map per
    session, a few in all; a demo offers a few point counts only (keyed by the flag, which a server
    fixes at start, so a runner made for one mode never serves the other)."""
    return MapJobs(workers=2, sizes=DEMO_POINTS if demo else None)


@st.cache_resource(show_spinner="Colouring the points…", max_entries=64)
def point_colours(model_key: str, _model, rows, kind: str, bit: int, group=None):
    return codemap.color_values(_model, rows, kind, bit, group=group)


ctx = require_context()
model = ctx.model
st.title("Code map")
st.caption("Each point is a database image placed by its code: nearby points have similar codes. "
           "Drag a box (or lasso) over points to see their images.")
dataset = ctx.dataset
n_db = model.database_codes.shape[0]

c1, c2, c3, c4 = st.columns([1.2, 1, 1.4, 1.6])
method = c1.radio("Projection", ["umap", "pca"], horizontal=True, key="cm_method",
                  format_func={"umap": "UMAP", "pca": "PCA (instant)"}.get)
if method == "umap" and st.session_state.get(f"cm_size_{model.name}", 0) > codemap.MAX_UMAP_POINTS:
    st.session_state[f"cm_size_{model.name}"] = codemap.MAX_UMAP_POINTS     # chosen under PCA: capped
if (choices := projection_jobs(current_deployment().demo).size_choices(n_db)) is not None:
    size = c2.selectbox("Points", choices, choices.index(min(codemap.DEFAULT_SAMPLE, n_db)),
                        key=f"cm_points_{model.name}", help=trusted(codemap.POINTS_HELP))
else:
    size = int(c2.number_input("Points", min_value=min(100, n_db), step=500, key=f"cm_size_{model.name}",
                               max_value=min(n_db, codemap.MAX_UMAP_POINTS) if method == "umap" else n_db,
                               value=min(codemap.DEFAULT_SAMPLE, n_db), help=trusted(codemap.POINTS_HELP)))
sources = codemap.available_sources(model)
beside = sources[c3.selectbox("Beside it, a map of", list(sources), key="cm_beside")]
kinds = colour_kinds(model, codemap.colour_kinds(model))
kind = c4.radio("Colour by", list(kinds), format_func=kinds.get, horizontal=True, key="cm_colour")
bit = st.slider("Bit", 0, model.bits - 1, 0, key="cm_bit") if kind == "bit" else 0
groups = grouping_choices(model.database_labels, ctx.class_names) if kind == "label" else {}
group = st.selectbox("Label", list(groups), format_func=groups.get, key="cm_group") if groups else None
if note := code_space(model).map_note:       # the codes cannot be mapped as they are: what is mapped instead
    st.info(trusted(note))


def get_map(source):
    """(xy, rows, pending job or None): the UMAP map, or the instant PCA view while UMAP computes (or
    while the server queues no more maps)."""
    found = job = None
    if method == "umap":
        try:
            found, job = codemap.map_or_start(projection_jobs(current_deployment().demo), model, "umap", size, 0, source, dataset=dataset,
                                              owner=st.session_state.setdefault("cm_session", uuid.uuid4().hex))
        except MapsBusy as exc:
            st.info(as_text(exc))
    if found is not None:
        return (*found, None)
    return (*codemap.code_map_projection(model, "pca", size, 0, source=source, dataset=dataset), job)


maps = or_stop(lambda: {src: get_map(src) for src in ["codes"] + ([beside] if beside else [])})

pending = [job for _, _, job in maps.values() if job is not None]
if pending:
    st.info("Computing the UMAP map in the background (the first one after a restart also compiles UMAP, "
            "which takes longer). Meanwhile this is the instant PCA view; the page switches by itself.",
            icon=":material/hourglass_top:")

    @st.fragment(run_every=2)
    def wait_for_umap():
        if all(job.state in ("done", "failed") for job in pending):
            st.rerun()
        progress = "; ".join(f"{job.description}: {job.progress_text}" for job in dict.fromkeys(pending))
        st.caption(as_text(progress) + "…")
    wait_for_umap()

drawn, sizes_of, counts_of = codemap.drawn_note(model, size)
if drawn:
    st.caption(fill("Drawn: {}.", drawn))
names = group_names(ctx.class_names, group, is_multi_label(model.database_labels))
selected = []
for col, (source, (xy, rows, job)) in zip(st.columns(len(maps)), maps.items()):
    shown = "pca" if job is not None or method == "pca" else "umap"
    try:
        title, trust = codemap.map_title(model, source, shown, len(rows)), trust_metric(col, model, xy, rows)
        if kind == "trust":
            fig = trust_figure(trust, xy, rows, title, shown.upper())
        else:
            fig = plots.code_map_figure(xy, rows, point_colours(ctx.key, model, rows, kind, bit, group),
                                        kind, names, dragmode="select", title=title, x_label=f"{shown.upper()} 1",
                                        marker_size=sizes_of(rows) if sizes_of and source == "codes" else 5,
                                        y_label=f"{shown.upper()} 2", counts=counts_of(rows) if counts_of else None)
    except HashvizError as exc:
        col.error(as_text(exc))
        continue
    event = col.plotly_chart(fig, on_select="rerun", selection_mode=("box", "lasso"),
                             key=f"cm_plot_{model.name}_{source}_{shown}_{size}")
    picked = [r for r in plots.selected_rows(event) if 0 <= r < n_db]       # a code selects all its items
    selected = list(dict.fromkeys(selected + codemap.code_members(model, picked).tolist()))

if not selected:
    st.caption("No points selected yet.")
    st.stop()

LIMIT = 48
st.subheader(fill("{:,} selected" + (" (showing the first {})" if len(selected) > LIMIT else ""), len(selected), LIMIT))
images = ctx.images
items = codemap.gallery(model, selected, dataset, limit=LIMIT, images=images)
if images is None:
    st.caption("This model's codes carry no image ids, so only rows and labels are listed.")
for start in range(0, len(items), 8):
    for col, (row, image, caption) in zip(st.columns(8), items[start:start + 8]):
        if image is not None:
            col.image(image, caption=as_text(caption))
        else:
            col.write(as_text(caption))

table_download("Download the selection (CSV)", model=model, what="code-map-selection",
               table=codemap.selection_table(model, selected, ctx.class_names),
               title=f"{len(selected)} database items selected on the Code map")
choices = codemap.row_choices(model, [r for r, _, _ in items], dataset)
q1, q2 = st.columns([2, 1], vertical_alignment="bottom")
query = q1.selectbox("Query image for the Retrieval page", list(choices), format_func=choices.get,
                     key="cm_query")
if q2.button("Search with it on the Retrieval page", type="primary", icon=":material/image_search:"):
    send_to_retrieval(model, database_row=int(query))
