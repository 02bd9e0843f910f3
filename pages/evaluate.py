"""Evaluate: the leaderboard of every model in the root, its curves, the survey's conclusions checked
on these models, the metric lens, a failure finder and the seen/unseen-class settings for the sidebar's
model. Logic: hashviz.leaderboard, hashviz.metric_rules, hashviz.failures and hashviz.unseen."""

import streamlit as st

from hashviz import failures as ff
from hashviz import leaderboard as lb
from hashviz.codemap import gallery
from hashviz.protocol_card import protocol_summary
from hashviz.safe_text import fill, trusted
from pages.common import as_text, current_models, models_root, or_stop, selected_model
from pages.context import context_of
from pages.downloads import csv_download, table_download
from pages.metric_lens import metric_lens_tab
from pages.navigation import send_to_retrieval
from pages.protocol_ui import protocol_details
from pages.shell import ensure_app_shell
from pages.unseen_ui import failure_report, unseen_query_filter, unseen_tab

ensure_app_shell()  # before anything is drawn: a page opened on its own goes through app.py

VERDICT_ICON = {lb.HOLDS: ":material/check_circle:", lb.DOES_NOT_HOLD: ":material/cancel:",
                lb.INSIDE_NOISE: ":material/remove_circle:", lb.CANNOT_CHECK: ":material/help:"}


def numbers_table(table, numbers=None, **kw):
    """The schema's formats (other `numbers` three decimals) and "n/a" for missing numbers; the columns
    stay numeric, so sorting works."""
    formats = lb.column_formats() if numbers is None else {c: "%.3f" for c in numbers}
    config = {c: st.column_config.NumberColumn(format=f) for c, f in formats.items() if c in table.columns}
    st.dataframe(table, hide_index=True, column_config=config, placeholder="n/a", **kw)


def opener(label, rows, key, kind="query_row", describe=str):
    """A picker of rows (`label`: the page's own words) and a button that opens the chosen one on Retrieval."""
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    row = left.selectbox(trusted(label), rows, key=key, format_func=describe)
    if right.button("Open on Retrieval", key=f"{key}_open", disabled=row is None):
        send_to_retrieval(selected_model() or models[0], **{kind: row})


st.title("Evaluate")
models = current_models()
if not models:
    st.info(fill("No valid model in **{}** yet: train one on the Train page, or build the starter "
                 "zoo with `hashviz zoo build --root models`.", models_root()))
    st.stop()

# on_change="rerun": a tab's `.open` is known, so the metric lens ranks every query only when opened
board, curves, claims, lens, finder, seen = st.tabs(["Leaderboard", "Curves", "Survey conclusions", "Metric lens",
                                                      "Failure finder", "Seen & unseen"],
                                                     key="evaluate_tab", on_change="rerun")

ctx = context_of(selected_model() or models[0])   # no sidebar choice yet (a page opened on its own)
model = ctx.model
with board:                                  # the numbers first; the full protocol one click away
    st.caption(trusted(protocol_summary(models)))
    st.subheader("Mean ± sd over seeds")
    st.caption("One row per group of models that differ only by seed: mean ± sample sd over its n seeds "
               "(the value alone when n = 1), best mean mAP@all first.")
    st.dataframe(lb.seed_table(models), hide_index=True, key="evaluate_seed_board",
                 column_config={"train s": st.column_config.NumberColumn(format="%.1f")})
    st.subheader("Every model")
    table = lb.leaderboard_table(models)
    numbers_table(table, key="evaluate_leaderboard")
    if note := lb.not_applicable_note(table):
        st.caption(trusted(note))
    if note := lb.calibration_note(table):
        st.caption(trusted(note))
    csv_download("Download the leaderboard (CSV)", lb.leaderboard_csv(table, models), "hashviz-leaderboard.csv")
    protocol_details(models, model)

with curves:
    names = [m.name for m in models]
    chosen = st.multiselect("Models to compare", names, default=names[:6], key="evaluate_curve_models")
    picked = [m for m in models if m.name in chosen]
    left, right = st.columns(2)
    with left:
        st.plotly_chart(lb.pr_figure(picked), key="evaluate_pr")
        if skipped := lb.pr_curves(picked)[1]:
            st.caption(fill("No Hamming precision-recall curve for {}: product-quantised "
                            "codes have no Hamming radius.", ", ".join(skipped)))
    right.plotly_chart(lb.precision_at_k_curve_figure(picked), key="evaluate_pk")
    if lb.map_vs_bits_rows(models):
        st.plotly_chart(lb.map_vs_bits_curve_figure(models), key="evaluate_bits")
    else:
        st.info("mAP vs code length needs one method trained at two or more code lengths "
                "(e.g. `hashviz zoo results` trains 16, 32 and 64 bits).")

with claims:
    st.markdown("The survey's conclusions and the ablations, judged on the models in this root. Only "
                "models of the same dataset, protocol and code length are compared (deep against deep also "
                "on the same backbone), on mAP@all over the queries.")
    st.markdown(trusted(lb.conclusions_rule(models)))
    for c in lb.check_conclusions(models):
        with st.container(border=True):
            st.markdown(trusted(f"#### {VERDICT_ICON[c.verdict]} {c.claim}"))
            st.markdown(fill("**Verdict: {}.** {}", c.verdict, c.summary))
            st.caption("Test: " + trusted(c.test))
            if c.needs:
                st.caption("Needs " + trusted(c.needs) + ".")
            else:
                numbers_table(c.evidence, lb.evidence_number_columns(c.evidence), key=f"evaluate_claim_{c.key}")

with lens:                                   # before the failure finder, whose st.stop() ends the run
    if lens.open:
        metric_lens_tab(model)
unseen_tab(seen, models, ctx)

with finder:
    st.markdown(fill("Where **{}** (the sidebar's model) fails. Every row can be opened on the Retrieval page.",
                     model.name))
    left, right = st.columns(2)
    n = left.slider("Retrievals per query (top n)", 5, 50, 10, key="evaluate_top_n")
    worst = right.slider("Worst queries to list", 5, 50, 10, key="evaluate_worst")
    report = or_stop(failure_report, ctx.key, model, n, worst, unseen_query_filter(st, ctx), ctx.code_space)
    among = "held-out classes' queries, " if report.query_classes else ""
    st.subheader(fill("Worst queries by AP ({}mAP@all {:.3f})", among, report.mean_ap))
    st.dataframe(report.worst, hide_index=True, key="evaluate_worst_table")
    table_download("Download these queries (CSV)", report.worst, model, f"worst-{worst}-queries-top{n}")
    if (images := ctx.images) is not None:          # the worst queries' pictures, read on demand
        pictures = gallery(model, report.worst["query row"], limit=10, images=images, part="query")
        for col, (_, image, caption) in zip(st.columns(10), pictures):
            col.image(image, caption=as_text(caption))
    by_row = report.worst.set_index("query row")
    opener("Query", list(by_row.index), "evaluate_open_worst",
           describe=lambda r: f"query row {r} · {by_row.loc[r, 'class']} · AP {by_row.loc[r, 'AP']:.3f}")
    st.subheader("Per-class AP" if report.single_label else "Per-label AP (over the queries carrying each label)")
    numbers_table(report.per_class, ["mAP", "worst AP"], key="evaluate_per_class")
    worst_of = report.per_class.drop_duplicates("worst query row").set_index("worst query row")
    opener("Worst query of a class", list(worst_of.index), "evaluate_open_class",
           describe=lambda r: f"{worst_of.loc[r, 'class']}: query row {r} · AP {worst_of.loc[r, 'worst AP']:.3f}")
    if not report.single_label:
        st.info(trusted(report.multi_label_note()))
        st.stop()
    st.plotly_chart(ff.confusion_figure(report.confusion, report.class_names, n), key="evaluate_confusion")
    st.subheader("Cross-class collisions: different labels, identical code")
    if report.collisions.empty:
        st.success("No code in the database is shared by two classes.")
    else:
        st.dataframe(report.collisions, hide_index=True, key="evaluate_collisions")
        coll = report.collisions.set_index("database row")
        opener("Database item", list(coll.index), "evaluate_open_collision", kind="database_row",
               describe=lambda r: f"database row {r} · {coll.loc[r, 'class']} · bucket of {coll.loc[r, 'bucket size']}")
