"""Page support for the Retrieval page's Hamming lenses: the Hamming ball, the bit-flip probe and
backend parity (widgets and layout only; the logic is hashviz.retrieval, hashviz.lenses.bitflip and
hashviz.lenses.parity)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from hashviz import plots, retrieval as R
from hashviz.errors import HashvizError
from hashviz.lenses import bitflip, parity
from hashviz.safe_text import fill, trusted
from pages.common import MILVUS, _faiss_index, search_backend, show_error, thumbnail_grid
from pages.lenses_ui import images_row

SHOWN_BITS = 3                                                  # flipped bits with example images


# ---------------------------------------------------------------- caches (read-only results)

@st.cache_resource(show_spinner="Splitting the classes bit by bit…", max_entries=16)
def _bit_split(model_key: str, _model, n_classes: int):
    split = bitflip.bit_class_split(_model.database_codes, _model.database_labels, n_classes)
    sizes = bitflip.class_members(_model.database_labels, n_classes).sum(axis=0)
    return split, bitflip.bit_class_information(split, sizes)


def _grid(ctx, rows, distances, label, title: str, key: str) -> None:
    thumbnail_grid(bitflip.rows_grid_data(ctx.model, rows, distances, label, ctx.images, ctx.class_names, title),
                   key=key)


# ---------------------------------------------------------------- Retrieval: bit-flip probe, backends

def bit_flip_view(ctx, qcode, label, n: int) -> None:
    """Click bits of the query code to flip them: what enters and leaves the top n and the ball,
    how each flipped bit splits the classes, and images from both sides of it."""
    model, names = ctx.model, ctx.class_names
    values = np.unpackbits(qcode.code.ravel())
    flipped = st.pills("Flip bits of the query code (click a bit; label = position:value)", range(model.bits),
                       selection_mode="multi", format_func=lambda b: f"{b}:{values[b]}", key=f"rq_flip_{model.name}")
    if not flipped:
        st.info("Click one or more bits above: the query's code with those bits flipped is searched again.")
        return
    probe = bitflip.flip_probe(ctx.index, qcode.code, flipped, n, R.BALL_RADIUS)
    st.html(trusted(R.code_strip_html({"query": qcode.code, "flipped": probe.flipped_code}, ctx.code_space,
                                     title=probe.summary())))
    st.caption("Flipping bit b moves every item by one: items whose bit b matches the new query bit come one "
               "nearer, the others one farther. Ranked by Hamming distance, ties by database row.")
    after, before = (dict(zip(probe.top_after, probe.dist_after)), dict(zip(probe.top_before, probe.dist_before)))
    c1, c2 = st.columns(2)
    with c1:
        _grid(ctx, probe.entered, [after[r] for r in probe.entered], label,
              f"entered the top {n} (distance after the flip)", "rq_flip_in")
    with c2:
        _grid(ctx, probe.left, [before[r] for r in probe.left], label,
              f"left the top {n} (distance before the flip)", "rq_flip_out")
    split, information = _bit_split(ctx.key, model, len(names))
    bits = list(probe.bits)
    st.plotly_chart(plots.bit_split_figure(split[bits], bits, names, information[bits]), key="rq_flip_split")
    st.caption(fill("Hamming ball r ≤ {}: {} entered, {} left. I(bit; class) = mutual information between the "
                    "bit and the class over the database, in bits.",
                    probe.radius, len(probe.ball_entered), len(probe.ball_left)))
    for b in bits[:SHOWN_BITS]:
        sides = bitflip.bit_side_examples(model.database_codes, b)
        with st.expander(fill("Bit {}: examples from each side", b), expanded=b == bits[0]):
            images_row(ctx, sides[1], f"bit {b} = 1")
            images_row(ctx, sides[0], f"bit {b} = 0")


def lens_view(view: str, ctx, qcode, label, n: int) -> None:
    """Draw the Retrieval view "hamming-ball", "bit-flip" or "backends" for the query (binary codes)."""
    if reason := ctx.code_space.no_bits_reason:
        st.info(trusted(f"{reason}: there is no Hamming ball, bit flip or backend comparison; use Top n."))
    elif view == "bit-flip":
        bit_flip_view(ctx, qcode, label, n)
    elif view == "backends":
        backends_view(ctx, qcode, n)
    else:
        hamming_ball_view(ctx, qcode, label)


def hamming_ball_view(ctx, qcode, label) -> None:
    """Every database item within Hamming distance R.BALL_RADIUS of the query, by distance and class."""
    names = ctx.class_names
    ball = R.hamming_ball(ctx.model, ctx.code_space, qcode, label, R.BALL_RADIUS)
    st.caption(trusted(R.ball_note(ball)))
    a, b = st.columns([3, 2])
    a.dataframe(R.ball_table(ball, names), hide_index=True)
    b.plotly_chart(plots.ball_figure(R.class_counts_by_distance(ball, len(names)), names), key="rq_ball_fig")
    thumbnail_grid(R.ball_grid_data(ball, ctx.images, names), key="rq_ball")


def backends_view(ctx, qcode, n: int) -> None:
    """The same query on flat, hash, ivf and (when the sidebar chose it) Milvus, side by side."""
    indexes = {kind: _faiss_index(ctx.key, ctx.model, kind) for kind in ("flat", "hash", "ivf")}
    if search_backend()[0] == MILVUS:
        if getattr(ctx.index, "kind", "") == "milvus":
            indexes["milvus"] = ctx.index
    else:
        st.caption("Choose Milvus as the search backend in the sidebar to add it here.")
    try:
        result = parity.backend_parity(indexes, qcode.code, n, ctx.model.database_codes)
    except HashvizError as exc:
        show_error(exc)
        return
    st.markdown(trusted("\n".join(f"- **{r.name}** ({1000 * r.seconds:.1f} ms): {r.verdict(result.reference)}"
                                   for r in result.runs)))        # backend names and counts
    st.caption(trusted(parity.__doc__.split("\n\n")[1].replace("\n", " ")))
    st.dataframe(parity.parity_table(result), hide_index=True)
    if diffs := parity.differences_table(result):
        st.markdown("**Every difference, explained**")
        st.dataframe(diffs, hide_index=True)
