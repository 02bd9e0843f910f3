"""The Evaluate page's "Metric lens" tab: the sidebar model's mAP under each evaluation rule, one
toggle at a time, and the published rules as presets. Logic: hashviz.metric_rules."""

import streamlit as st

from hashviz import metric_rules as mr
from hashviz.errors import HashvizError
from hashviz.safe_text import fill, trusted
from pages.common import as_text
from hashviz.byte_cache import ByteCache
from hashviz.lens_scores import LENS_CACHE_BYTES, lens_scores

CUSTOM = "custom"


@st.cache_resource
def lens_cache():
    """One byte-bounded cache of rankings and scores per process (hashviz.lens_scores)."""
    return ByteCache(LENS_CACHE_BYTES)


def _toggles_from(rule):
    """Set the widgets to a rule (a preset was chosen)."""
    cut = next((name for name, k in mr.CUTOFFS.items() if k == rule.cutoff), "top k")
    st.session_state.update(lens_tie=rule.tie, lens_seed=rule.seed, lens_empty=rule.empty, lens_cut=cut,
                            lens_slice=rule.slice_drops_last, lens_measure=rule.measure)
    if cut == "top k":
        st.session_state.lens_k = rule.cutoff


def _rule_from_toggles():
    s = st.session_state
    cut = mr.CUTOFFS[s.lens_cut] if s.lens_cut != "top k" else int(s.lens_k)
    return mr.MetricRule(tie=s.lens_tie, seed=int(s.lens_seed) if s.lens_tie == "random" else 0,
                         empty=s.lens_empty, cutoff=cut, measure=s.lens_measure,
                         slice_drops_last=bool(s.lens_slice) and cut is None)


def _on_preset():
    if st.session_state.lens_preset != CUSTOM:
        _toggles_from(mr.PRESETS[st.session_state.lens_preset].rule)


def _on_toggle():
    st.session_state.lens_preset = mr.matching_preset(_rule_from_toggles()) or CUSTOM


def _controls():
    if "lens_preset" not in st.session_state:
        st.session_state.update(lens_preset="hashviz", lens_k=100)
        _toggles_from(mr.PRESETS["hashviz"].rule)
    st.selectbox("Preset (a published rule)", [*mr.PRESETS, CUSTOM], key="lens_preset", on_change=_on_preset,
                 format_func=lambda k: mr.PRESETS[k].label if k in mr.PRESETS else "custom (the toggles below)")
    left, right = st.columns(2)
    left.radio("Tie order", list(mr.TIE_RULES), format_func=mr.TIE_RULES.get, key="lens_tie", on_change=_on_toggle)
    if st.session_state.lens_tie == "random":
        left.number_input("Seed", 0, 2**31 - 1, key="lens_seed", on_change=_on_toggle)
    right.radio("Queries with no relevant item", list(mr.EMPTY_RULES), format_func=mr.EMPTY_RULES.get,
                key="lens_empty", on_change=_on_toggle, horizontal=True)
    right.radio("Cut-off", list(mr.CUTOFFS), key="lens_cut", on_change=_on_toggle, horizontal=True)
    if st.session_state.lens_cut == "top k":
        right.number_input("k", 1, 10**7, key="lens_k", on_change=_on_toggle)
    else:
        right.checkbox("Slice [0:-1] at @all (CalcTopMap with topK = -1 leaves out the last item)",
                       key="lens_slice", on_change=_on_toggle)
    right.radio("Measure", list(mr.MEASURES), format_func=mr.MEASURES.get, key="lens_measure",
                on_change=_on_toggle, horizontal=True)


def metric_lens_tab(model) -> None:
    """The whole tab for one model directory."""
    st.markdown(fill("**{}** (the sidebar's model) scored under the rules papers and repositories use. The same "
                     "codes, the same labels: only the rule changes.", model.name))
    _controls()
    try:
        mr.check_lens_model(model)
        rule = _rule_from_toggles().checked()
    except HashvizError as exc:
        st.info(as_text(exc))
        return
    asked = [rule, mr.with_ties(rule, "worst"), mr.with_ties(rule, "best"), mr.PRESETS["hashviz"].rule]
    with st.spinner("Ranking every query under this rule…"):
        result, *others = lens_scores(model, asked, lens_cache())
    low, high, hashviz_map = (other.value for other in others)
    a, b = st.columns([1, 2])
    a.metric("mAP under this rule", f"{result.value:.4f}", delta=f"{result.value - hashviz_map:+.4f} vs hashviz",
             delta_color="off")
    b.markdown(fill("**Tie range under this rule:** {:.4f} – {:.4f} (the lowest and highest any order inside the "
                    "ties gives). **Counted:** {}.", low, high, result.summary()))
    st.caption("Rule: " + trusted(rule.text()))
    if (key := st.session_state.lens_preset) in mr.PRESETS:
        st.caption("Source: " + trusted(mr.PRESETS[key].citation))
