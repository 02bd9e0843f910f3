"""Retrieval: pick a query, see a model's top n (right/wrong, tie groups), compare models side by
side, look inside the Hamming ball. Logic: hashviz.retrieval; the view lives in the URL."""

import numpy as np
import streamlit as st

from hashviz import retrieval as R
from hashviz.deployment import current_deployment
from hashviz.errors import HashvizError
from hashviz.neighbour_table import ranking_table
from hashviz.safe_text import fill, trusted
from hashviz.zoo import check_ids_within
from pages.common import as_text, current_models, model_by_name, or_stop, show_error, sync_query_params, thumbnail_grid
from pages.context import context_of, require_context
from pages.downloads import table_download
from pages.lenses_retrieval import lens_view
from pages.navigation import take_retrieval_link
from pages.session_keys import RETRIEVAL_TOP_N, RETRIEVAL_URL_READ
from pages.shell import ensure_app_shell

ensure_app_shell()  # before anything is drawn: a page opened on its own goes through app.py

ctx = require_context(warn=True)
model = ctx.model
st.title("Retrieval")
images, names = ctx.images, ctx.class_names     # images: a source read on demand (hashviz.data.images)
n_queries = len(model.query_codes)

if RETRIEVAL_URL_READ not in st.session_state:      # a shared link opens the same view, once
    st.session_state[RETRIEVAL_URL_READ] = True
    url = R.parse_url_state(st.query_params, n_queries, [m.name for m in current_models()])
    st.session_state.update({"rq_" + {"query": "q", "compare": "cmp"}.get(k, k): v for k, v in url.given().items()})
    for warning in url.warnings:
        st.warning(as_text(warning))
link, ignored = take_retrieval_link(model)         # sent by Evaluate, the Code map or Compare
if ignored:
    st.warning(as_text(ignored))
if "query_row" in link:
    st.session_state.update(rq_q=link["query_row"], rq_mode="By index", rq_db_row=None)
if "database_row" in link:
    st.session_state.update(rq_db_row=link["database_row"], rq_mode="By index")
if not 0 <= st.session_state.setdefault("rq_q", 0) < n_queries:
    st.session_state.rq_q = 0
st.session_state.setdefault(RETRIEVAL_TOP_N, 20)


def draw(class_index=None):
    try:
        st.session_state.update(rq_q=R.random_query_row(model, np.random.default_rng(), class_index), rq_db_row=None)
    except HashvizError as exc:
        st.session_state.rq_draw_error = str(exc)


def pick_from_grid():
    st.session_state.rq_detail = (st.session_state.get("rq_grid") or {}).get("clicked") or 1


# ---------------------------------------------------------------- the query
modes = ["By index", "Random", "Random of a class"] + (["Upload"] if images is not None and model.has_weights else [])
mode = st.radio("Query", modes, horizontal=True, key="rq_mode")
upload = label = None
if mode == "By index":
    st.session_state.rq_index = st.session_state.rq_q
    st.number_input(fill("Query-set index (0 to {})", n_queries - 1), 0, n_queries - 1, key="rq_index",
                    on_change=lambda: st.session_state.update(rq_q=st.session_state.rq_index, rq_db_row=None))
elif mode == "Random":
    st.button("Draw a random query", icon=":material/casino:", on_click=draw)
elif mode == "Random of a class":
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    cls = c1.selectbox("Class", range(len(names)), format_func=lambda i: names[i], key="rq_class")
    c2.button("Draw a query of this class", icon=":material/casino:", on_click=draw, args=(cls,))
else:
    c1, c2, c3 = st.columns([3, 2, 1])
    file = c1.file_uploader("PNG or JPEG image", type=["png", "jpg", "jpeg"], key="rq_file")
    label = c2.selectbox("Its class (for ✓/✗)", [None, *range(len(names))], key="rq_upload_label",
                         format_func=lambda i: "unknown" if i is None else names[i])
    invert = c3.radio("Invert", list(R.INVERT_CHOICES), key="rq_invert")
    if file is None:
        st.info("Upload a picture: it is converted to the dataset's size and channels, then encoded by the model.")
        st.stop()
    upload = or_stop(R.decode_upload, file.getvalue(), images.shape[1:], name=file.name, dark=R.dark_background(images),
                     invert=R.INVERT_CHOICES[invert], **current_deployment().upload_caps())  # a demo's are smaller
if message := st.session_state.pop("rq_draw_error", None):
    st.warning(as_text(message))

query = R.choose_query(model, images, upload=upload, upload_class=label, query_row=int(st.session_state.rq_q),
                       database_row=st.session_state.get("rq_db_row") if mode == "By index" else None)
qcode = or_stop(R.query_code, model, query, ctx.encoder)
left, right = st.columns([1, 4])
if query.image is not None:
    left.image(R.enlarge(query.image), caption=as_text(query.source))
right.markdown(fill("**Query:** {} · **label:** {}", query.source, R.label_text(query.label, names)))
if query.notes:
    right.caption(fill("What was done to the upload: {}.", "; ".join(query.notes)))
right.html(trusted(R.query_strip_html(model, qcode)))

# ---------------------------------------------------------------- the results
c1, c2 = st.columns([1, 1])
n = c1.slider("Top n", R.N_RANGE[0], R.N_RANGE[1], key=RETRIEVAL_TOP_N)
view = c2.radio("View", list(R.VIEWS), format_func=R.VIEWS.get, horizontal=True, key="rq_view")
compare: list[str] = []
if view == "top-n":
    ranking = R.rank_query(model, ctx.code_space, qcode, query.label, n)
    st.markdown(trusted(R.scores_text(ranking)))
    st.caption(as_text(R.protocol_note(model, query.db_row)))
    if st.session_state.get("rq_detail") not in range(1, ranking.n + 1):
        st.session_state.rq_detail = 1
    thumbnail_grid(R.grid_data(ranking, images, names, st.session_state.get("rq_detail")), key="rq_grid",
                   on_click=pick_from_grid)
    table_download("Download the top n as CSV", ranking_table(model, ranking, names), model, f"top{n}",
                   title=f"top {n} neighbours of {query.source}", key="rq_download")
    rank = st.selectbox("Look closer (or click a thumbnail)", range(1, ranking.n + 1), key="rq_detail",
                        format_func=lambda k: f"#{k}")
    image, caption, strip = R.item_detail(ranking, qcode, rank - 1, images, names)
    a, b = st.columns([1, 4])
    if image is not None:
        a.image(image, caption=as_text(caption))
    b.html(trusted(strip))
    with st.expander("Results as a table"):
        st.dataframe(R.ranking_frame(ranking, names), hide_index=True)
elif view == "side-by-side":
    remembered = st.session_state.get("rq_cmp", [])
    choices, st.session_state.rq_compare = R.comparison_choice(model, current_models(), remembered)
    compare = st.multiselect("Models side by side (2 to 4, same dataset)", choices, key="rq_compare", max_selections=4,
                             on_change=lambda: st.session_state.update(rq_cmp=st.session_state.rq_compare))
    if len(compare) < 2:
        st.info("Choose at least two models.")
    for col, name in zip(st.columns(max(len(compare), 1)), compare):
        other = context_of(model_by_name(name))
        with col:
            st.markdown(fill("**{}**", other.model.label))
            try:
                check_ids_within(other.model, images)
                r = R.rank_query(other.model, other.code_space, R.query_code(other.model, query, other.encoder),
                                 query.label, n)
            except HashvizError as exc:
                show_error(exc)
                continue
            st.markdown(trusted(R.scores_text(r)))
            thumbnail_grid(R.grid_data(r, images, names, size=48, clickable=False), key=f"rq_cmp_{name}")
    st.caption(as_text(R.protocol_note(model, query.db_row)))
else:                                               # the Hamming lenses: ball, bit flip, backends
    lens_view(view, ctx, qcode, query.label, n)

sync_query_params(R.url_params(model.name, None if upload else int(st.session_state.rq_q), n, view, compare),
                  drop=("query", "compare"))
