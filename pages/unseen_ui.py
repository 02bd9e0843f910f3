"""The Evaluate page's "Seen & unseen" tab (the four settings side by side, with what each asks) and the
failure finder's filter to held-out classes' queries, with the finder's cached report. Widgets and
layout only; logic in hashviz.unseen and hashviz.failures."""

import streamlit as st

from hashviz import failures as ff
from hashviz import unseen as U
from hashviz.errors import HashvizError
from hashviz.safe_text import fill, trusted
from pages.common import show_error

NAMED = "evaluate_unseen_named"      # session key prefix: classes the user names as held out, per model


def _named_key(model) -> str:
    return f"{NAMED}_{model.content_key}"


def held_out_classes(model) -> tuple[int, ...]:
    """The sidebar model's held-out classes: those its training recorded, else those named in the tab."""
    return U.unseen_classes_of(model) or tuple(st.session_state.get(_named_key(model)) or ())


@st.cache_data(show_spinner="Scoring the four settings…", max_entries=16)
def _settings_table(model_key: str, _model, named: tuple[int, ...] | None):
    held, settings = U.model_settings(_model, named)
    return U.settings_table(_model, held, settings)


def _numbers(table, key):
    numeric = [c for c in table.columns if table[c].dtype.kind == "f"]
    st.dataframe(table, hide_index=True, key=key, placeholder="n/a",
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in numeric})


def unseen_tab(tab, models, ctx) -> None:
    """The tab's content: what each setting asks, every model with held-out classes, the sidebar model
    (its page context)."""
    with tab:
        _unseen_tab(models, ctx)


def _unseen_tab(models, ctx) -> None:
    model = ctx.model
    st.markdown(trusted(U.SETTINGS_TEXT))
    board = U.held_out_table(models)
    if board.empty:
        st.info("No model in this root was trained with held-out classes. `hashviz train --method greedyhash "
                "--bits 32 --protocol fmnist-unseen2` trains one (`hashviz zoo results --protocol fmnist-unseen2` "
                "all of them).")
    else:
        st.subheader("Models trained with held-out classes: mAP@all in each setting")
        _numbers(board, "evaluate_unseen_board")
    st.subheader(fill("{} in each setting", model.name))
    if model.query_labels.ndim != 1:
        st.info("These settings need one class per item; this model's labels are multi-label.")
        return
    names = ctx.class_names
    recorded = U.unseen_classes_of(model)
    if recorded:
        st.caption(fill("Held out of its training (config.json): {}.", ", ".join(names[c] for c in recorded)))
    else:
        st.multiselect("Classes held out of this model's training", list(range(len(names))), key=_named_key(model),
                       format_func=lambda c: names[c],
                       help="For an import whose training left classes out, name them. For a model trained "
                            "here on every class this only splits its scores by class: it saw them all.")
        if not held_out_classes(model):
            return
    try:
        table = _settings_table(model.content_key, model, None if recorded else held_out_classes(model))
    except HashvizError as exc:
        show_error(exc)
        return
    _numbers(table, "evaluate_unseen_settings")


def unseen_query_filter(container, ctx) -> tuple[int, ...]:
    """A checkbox (when the context's model has held-out classes) limiting the failure finder to their queries."""
    held = held_out_classes(ctx.model)
    if not held:
        return ()
    names = ctx.class_names
    only = container.checkbox(fill("Only queries of held-out classes ({})", ", ".join(names[c] for c in held)),
                              key="evaluate_only_unseen",
                              help="Their AP is against the whole database: the unseen@all setting.")
    return held if only else ()


@st.cache_resource(show_spinner="Ranking every query of the model…", max_entries=16)
def failure_report(model_key: str, _model, n: int, worst: int, classes: tuple[int, ...] = (), _space=None):
    """The failure finder's report, cached per model, top n, count and query classes (held-out ones or
    all); `_space`: the page's code space, whose cached index ranks every query."""
    return ff.failure_report(_model, n=n, worst=worst, query_classes=classes, space=_space)
