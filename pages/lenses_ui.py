"""Page support for the lenses (hashviz.lenses) on the Diagnostics and Code map pages, and what the
Retrieval lenses (pages/lenses_retrieval.py) share: widgets and layout only. Every number comes from
hashviz; this module only caches and draws."""

from __future__ import annotations

import numpy as np
import streamlit as st

from hashviz import plots, retrieval as R
from hashviz.code_space import code_space
from hashviz.lenses import cube, lookup, trust
from hashviz.safe_text import fill, trusted
from pages.common import as_text


@st.cache_resource(show_spinner="Measuring table lookup…", max_entries=16)
def _lookup(model_key: str, _model, k: int):
    """(LookupGrid, its figure): the figure is cached too (building it costs more than the grid)."""
    grid = lookup.lookup_grid(_model.database_codes, _model.query_codes, k)
    return grid, plots.lookup_figure(grid)


@st.cache_resource(show_spinner="Finding collisions…", max_entries=16)
def _collisions(model_key: str, _model):
    return lookup.collisions(_model.database_codes, _model.database_labels)


@st.cache_resource(show_spinner="Building the Hamming cube…", max_entries=16)
def _cube(model_key: str, _model, max_nodes: int, _names):
    """(Cube, its figure)."""
    view = cube.hamming_cube(_model.database_codes, _model.database_labels, max_nodes)
    return view, plots.cube_figure(view, _names)


@st.cache_resource(show_spinner="Judging the map…", max_entries=32)
def _trust(model_key: str, _model, rows: np.ndarray, xy: np.ndarray):
    return trust.projection_trust(_model.database_codes[rows], xy, k=10)


# ---------------------------------------------------------------- shared drawing

def images_row(ctx, rows, label: str) -> None:
    """A caption and one small image per database row of the context's model (rows only without images)."""
    st.caption(fill("{} ({})", label, len(rows)))
    model, images = ctx.model, ctx.images
    if images is None or model.database_ids is None or not len(rows):
        st.write(as_text(", ".join(f"row {r}" for r in rows) or "—"))
        return
    st.image([R.enlarge(images[model.database_ids[r]], 56) for r in rows],
             caption=[as_text(R.label_text(model.database_labels[r], ctx.class_names)) for r in rows])


# ---------------------------------------------------------------- Diagnostics: hash lookup, Hamming cube

def _without_bits(model) -> bool:
    """Where the model's codes have no bits, say so (these lenses read bits) and return True."""
    if reason := code_space(model).no_bits_reason:
        st.info(trusted(f"{reason}: this lens applies to binary codes only."))
    return bool(reason)


def hash_lookup(ctx, d, key: str) -> None:
    """Recall of table lookup vs candidates scanned for a grid of (b, nflip); cross-class collisions."""
    m = ctx.model
    if _without_bits(m):
        return
    k = st.select_slider("k (neighbours to find)", [1, 10, 100, 1000], value=100, key=f"{key}-k")
    grid, fig = _lookup(ctx.key, m, int(k))
    st.plotly_chart(fig, key=f"{key}-fig")
    st.caption(trusted(grid.note()))
    with st.expander("The grid as a table"):
        st.dataframe(grid.rows(), hide_index=True)
    st.markdown("**Collisions: distinct codes shared by several classes, worst first**")
    found = _collisions(ctx.key, m)
    if not found:
        st.success("No code is shared by items of different classes.")
        return
    names = ctx.class_names
    st.dataframe(lookup.collision_table(found, names), hide_index=True)
    st.caption("cross-class pairs = pairs of items of different classes with this very code (Hamming "
               "distance 0): no ranking can tell them apart. Multi-label items count by their first label.")
    c = found[st.selectbox("Images of the collision", range(len(found)), key=f"{key}-collision",
                           format_func=lambda i: f"{found[i].code} · {found[i].size:,} items · "
                                                 f"{found[i].cross_pairs:,} cross-class pairs")]
    for cls, rows in c.class_rows.items():
        images_row(ctx, rows, f"{names[cls] if 0 <= cls < len(names) else cls} ×{c.class_counts[cls]:,}")


def hamming_cube(ctx, d, key: str) -> None:
    """The occupied corners of the code space as a graph (edges one bit apart)."""
    m = ctx.model
    if _without_bits(m):
        return
    nodes = st.select_slider("Corners shown (most occupied first)", [16, 32, 64, 128, 256, 512],
                             value=64 if m.bits > 8 else 256, key=f"{key}-nodes")
    view, fig = _cube(ctx.key, m, int(nodes), ctx.class_names)
    st.plotly_chart(fig, key=f"{key}-fig")
    st.caption(trusted(view.note()))


# ---------------------------------------------------------------- Code map: projection trust

def trust_metric(col, model, xy, rows):
    """Write the map's projection trust into `col`; return the Trust (None where the codes have no bits)."""
    if code_space(model).no_bits_reason:
        return None
    t = _trust(model.content_key, model, np.asarray(rows), np.asarray(xy))
    col.metric("Projection trust", f"{t.mean:.1%}", help=trusted(t.note()))
    col.caption(fill("{:,} of {:,} points torn (keep < half of their {} nearest Hamming neighbours on this map).",
                     int(t.torn.sum()), len(t.kept), t.k))
    return t


def trust_figure(t, xy, rows, title: str, axis: str):
    return plots.trust_map_figure(xy, rows, t.share, t.k, title, f"{axis} 1", f"{axis} 2")


def colour_kinds(model, kinds: dict) -> dict:
    """The Code map's colour choices plus projection trust (codes with bits)."""
    return kinds if code_space(model).no_bits_reason else {**kinds, "trust": "projection trust"}
