"""Diagnostics: what the chosen model's database codes look like (bit balance, bit independence,
quantization, buckets, distances), optionally side by side with a second model."""

import streamlit as st

from hashviz import plots
from hashviz.diagnostics import bit_table, bucket_table, diagnose_model, summary_table
from hashviz.labels import group_names, grouping_choices, is_multi_label
from hashviz.safe_text import fill
from pages.common import as_text, current_models, model_by_name, or_stop
from pages.context import context_of, require_context
from pages.lenses_ui import hamming_cube, hash_lookup
from pages.shell import ensure_app_shell

ensure_app_shell()  # before anything is drawn: a page opened on its own goes through app.py


@st.cache_resource(show_spinner="Diagnosing the codes…", max_entries=32)
def diagnosis(model_key: str, _model, group=None):
    """One Diagnosis per model content and label grouping (shared by all sessions; read-only)."""
    return diagnose_model(_model, group_label=group)


def class_names(c):
    return group_names(c.class_names, group_of(c.model), is_multi_label(c.model.database_labels))


def chart(fig, key):
    st.plotly_chart(fig, key=key)


ctx = require_context()
model = ctx.model
st.title("Diagnostics")
st.caption("Statistics of the model's database codes: are the bits balanced and independent, how far "
           "the network's outputs are from ±1, how the codes fill the code space, and how well Hamming "
           "distance separates classes.")
others = [m.name for m in sorted(current_models(), key=lambda m: (m.method != model.method, m.name))
          if m.name != model.name]                  # the same method first (e.g. with a regulariser)
compare = st.toggle("Compare with a second model", key="diag_compare", disabled=not others,
                    help="e.g. the same method with and without the balance regulariser")
contexts = [ctx]
if compare and others:
    contexts.append(context_of(model_by_name(st.selectbox("Second model", others, key="diag_other"))))
choices = grouping_choices(model.database_labels, ctx.class_names)
group = st.selectbox("Group by label", list(choices), format_func=choices.get, key="diag_group",
                     help="multi-label data: classes below are 'with / without' this label") if choices else None
group_of = lambda m: group if m is model else None  # noqa: E731
diags = or_stop(lambda: [(c, diagnosis(c.key, c.model, group_of(c.model))) for c in contexts])


def side_by_side(section, render):
    for col, (c, d) in zip(st.columns(len(diags)), diags):
        with col:
            if len(diags) > 1:
                st.subheader(as_text(c.model.name), divider="gray")
            render(c, d, f"{section}-{c.model.name}")


def balance(c, d, key):
    if d.balance is None:
        st.info("Product-quantisation codes are codebook indices, not bits: see *Quantization* for "
                "how evenly the codewords are used.")
        return
    b = d.balance
    st.metric("Dead bits (near-constant)", f"{b.n_dead} of {c.model.bits}",
              help=fill("share of +1 below {:.0%} or above {:.0%}", b.threshold, 1 - b.threshold))
    chart(plots.bit_balance_figure(b.share_plus, b.dead, b.threshold), f"{key}-share")
    chart(plots.bit_entropy_figure(b.entropy, b.dead), f"{key}-entropy")
    with st.expander("Per-bit table"):
        st.dataframe(bit_table(b), hide_index=True)


def independence(c, d, key):
    if d.independence is None:
        st.info("Not applicable to product-quantisation codes.")
        return
    ind = d.independence
    c1, c2 = st.columns(2)
    c1.metric("Effective bits", f"{ind.effective_bits:.1f} of {ind.nominal_bits}")
    c2.metric("Max |correlation|", f"{ind.max_abs_correlation:.2f}")
    chart(plots.effective_bits_figure(ind.nominal_bits, ind.entropy_sum, ind.effective_bits), f"{key}-eff")
    chart(plots.correlation_heatmap(ind.correlation), f"{key}-corr")
    chart(plots.mutual_info_heatmap(ind.mutual_info), f"{key}-mi")
    st.caption(fill("Most correlated bit pairs: {}", ", ".join(
        f"{i}–{j} ({c:+.2f})" for i, j, c in ind.most_correlated_pairs(5))))


def quantization(c, d, key):
    if d.usage is not None:
        u = d.usage
        c1, c2 = st.columns(2)
        c1.metric("Mean codebook perplexity", f"{u.mean_perplexity:.0f} of {u.n_codewords}")
        c2.metric("Unused codewords", f"{int(u.unused.sum())} of {u.counts.size}")
        chart(plots.codeword_usage_figure(u.counts, u.perplexity), f"{key}-usage")
    elif d.output_error is not None:
        e = d.output_error
        c1, c2, c3 = st.columns(3)
        c1.metric("Mean |u|", f"{e.overall_mean_abs:.3f}")
        c2.metric("Mean |u − sign(u)|", f"{e.overall_mean_err:.3f}")
        c3.metric(fill("|u| < {:g}", e.near_zero), f"{e.near_zero_share.mean():.1%}",
                  help="outputs close to 0, whose sign flips easily")
        chart(plots.quantization_error_figure(e.edges, e.abs_hist, e.err_hist), f"{key}-err")
        chart(plots.output_error_per_bit_figure(e.edges, e.abs_hist_per_bit), f"{key}-perbit")
        st.caption(fill("From {:,} saved outputs of the database.", e.n_samples))
    else:
        st.info("This model saved no continuous outputs, so there is no quantization error to show.")


def buckets(c, d, key):
    bk = d.buckets
    c1, c2, c3 = st.columns(3)
    c1.metric("Distinct codes", f"{bk.n_distinct:,}",
              help=fill("of {:,} codes ({:.1%})", bk.n_codes, bk.distinct_share))
    c2.metric("Largest bucket", f"{bk.largest[0].size:,}" if bk.largest else "0")
    c3.metric("Cross-class collisions", f"{bk.cross_class_pairs:,}",
              help=fill("pairs of different classes with the same code; {:,} buckets mix classes", bk.mixed_buckets))
    chart(plots.bucket_size_figure(bk.size_values, bk.size_counts), f"{key}-sizes")
    st.markdown("**Largest buckets**")
    st.dataframe(bucket_table(bk, class_names(c)), hide_index=True)


def distances(c, d, key):
    if d.distances is None:
        st.info("Hamming distances do not apply to product-quantisation codes.")
        return
    ds = d.distances
    c1, c2, c3 = st.columns(3)
    c1.metric("Mean distance, same class", f"{ds.mean_same:.2f}")
    c2.metric("Mean distance, different class", f"{ds.mean_diff:.2f}")
    c3.metric("Overlap", f"{ds.overlap:.2f}", help="0 = the two histograms are fully separated")
    chart(plots.distance_distribution_figure(ds.same_hist, ds.diff_hist, ds.overlap), f"{key}-dist")
    st.caption(fill("{:,} same-class and {:,} different-class pairs, sampled with seed 0.", ds.n_same, ds.n_diff))


tabs = st.tabs(["Summary", "Bit balance", "Bit independence", "Quantization", "Buckets", "Distances",
                "Hash lookup", "Hamming cube"])
with tabs[0]:
    st.dataframe(summary_table({c.model.name: d for c, d in diags}), hide_index=True)
    for c, d in diags:
        for note in d.notes:
            st.caption(fill("{}: {}", c.model.name, note))
for tab, (name, render) in zip(tabs[1:], [("balance", balance), ("independence", independence),
                                           ("quantization", quantization), ("buckets", buckets),
                                           ("distances", distances), ("lookup", hash_lookup),
                                           ("cube", hamming_cube)]):
    with tab:
        side_by_side(name, render)
