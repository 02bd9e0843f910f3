"""Taxonomy: the survey's five supervised families, deep unsupervised hashing and the shallow
contrast, each with the similarity it preserves, its loss, the methods hashviz implements (live
registry) and the live numbers of the models in the root; then the new directions (unsupervised,
ensembles live; training strategies, GAN-based and multimodal hashing described). Text:
assets/taxonomy/*.md via hashviz.taxonomy."""

import streamlit as st

from hashviz import leaderboard as lb
from hashviz.safe_text import fill, trusted
from hashviz.taxonomy import (SURVEY_ID, calibration_line, family_methods, family_models, load_taxonomy,
                              new_directions)
from pages.common import current_models, models_root, or_stop
from pages.shell import ensure_app_shell

ensure_app_shell()  # before anything is drawn: a page opened on its own goes through app.py

SHOWN = ["model", "method", "bits", "dataset", "regularisers", *lb.metric_columns()]


@st.cache_resource(show_spinner=False)
def taxonomy():
    return load_taxonomy()


def show_models(table, key: str) -> None:
    st.dataframe(table[SHOWN], hide_index=True, placeholder="n/a", key=key,
                 column_config={c: st.column_config.NumberColumn(format=f) for c, f in lb.column_formats().items()})


tax = or_stop(taxonomy)

st.title(trusted(tax.title))                          # the texts of assets/taxonomy/, shipped with hashviz
st.caption(fill("After the survey {} (Luo et al., *A Survey on Deep Hashing Methods*).", SURVEY_ID))
st.markdown(trusted(tax.overview))
st.info(trusted(tax.journal_version), icon=":material/menu_book:")
with st.expander("Notation"):
    st.markdown(trusted(tax.notation))

models = current_models()
for tab, fam in zip(st.tabs([trusted(label) for label in tax.tab_labels()]), tax.families):
    with tab:
        st.caption("Journal version of the survey: " + trusted(fam.journal_group))
        st.markdown("**Similarity it preserves.** " + trusted(fam.similarity))
        st.markdown("**Loss**")
        for equation in fam.equations:
            st.latex(equation)
        st.markdown(trusted(fam.reading))
        st.markdown("**Methods the survey puts here:** " + trusted(", ".join(fam.survey_methods)))
        st.markdown("**Implemented in hashviz** (read live from the method registry)")
        st.dataframe(family_methods(fam.key), hide_index=True, key=f"taxonomy_methods_{fam.key}")
        if line := calibration_line(fam.key):
            st.caption(trusted(line))
        live = family_models(models, fam.key)
        if live.empty:
            st.caption(fill("No model of this family in **{}** yet (train one on the Train page).", models_root()))
        else:
            st.markdown(fill("**Models of this family in {}** (queries; pq models have no "
                             "Hamming-only numbers: n/a)", models_root()))
            show_models(live, f"taxonomy_models_{fam.key}")

st.header("New directions")
overview, directions = or_stop(lambda: new_directions(models))
st.markdown(trusted(overview))
for direction in directions:
    with st.expander(trusted(direction.title) + ("" if direction.family else " (not implemented in hashviz)"),
                     expanded=direction.live):
        st.markdown(trusted(direction.text))
        st.caption(trusted(direction.status()))
        if direction.live:
            st.dataframe(direction.methods, hide_index=True, key=f"directions_methods_{direction.family}")
        if direction.models is not None and not direction.models.empty:
            show_models(direction.models, f"directions_models_{direction.family}")
