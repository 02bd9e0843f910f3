"""The Compare page and the CSV downloads of Code map and the failure finder, against brute force
written out in numpy (codes unpacked, distances counted, ties by database row)."""

import shutil

import numpy as np
import pytest

from app_support import app_on
from compare_reference import brute_force_ap_and_top10, expected_counts
from hashviz import codemap
from hashviz import compare_view as cv
from hashviz.exports import read_export
from hashviz.zoo import discover, load_model_dir

BINARY_PAIR = ("dpsh-16", "itq-16")


@pytest.fixture(scope="module")
def zoo(tiny_zoo):
    return {name: load_model_dir(tiny_zoo / name) for name in ("dpsh-16", "itq-16", "csq-16", "dpq-16")}


@pytest.fixture
def other_queries(tmp_path, tiny_zoo):
    """A models root with the tiny zoo's dpsh-16 and itq-16 and an import of other queries."""
    from hashviz.importing import import_codes
    root = tmp_path / "models"
    for name in BINARY_PAIR:
        shutil.copytree(tiny_zoo / name, root / name)
    rng = np.random.default_rng(0)
    files = {"db": rng.integers(0, 2, (60, 16)), "dbl": rng.integers(0, 3, 60),
             "q": rng.integers(0, 2, (5, 16)), "ql": rng.integers(0, 3, 5)}
    for name, array in files.items():
        np.save(tmp_path / f"{name}.npy", array)
    import_codes(*(tmp_path / f"{n}.npy" for n in files), root / "other-16")
    return root


# ------------------------------------------------------------------------------- the logic

def test_partners_are_the_models_with_the_same_queries_and_database(other_queries):
    models = discover(other_queries)[0]
    assert cv.partner_table(models) == {"dpsh-16": ["itq-16"], "itq-16": ["dpsh-16"], "other-16": []}


def test_scatter_puts_every_query_once_at_its_two_aps_with_its_row(zoo):
    from hashviz.comparison import compare_models
    a, b = zoo["dpsh-16"], zoo["itq-16"]
    frame = compare_models(a, b)
    ap_a, _ = brute_force_ap_and_top10(a)
    fig = cv.scatter(frame, a, b)
    points = [(int(r), x, y) for t in fig.data[1:] for r, x, y in zip(t.customdata, t.x, t.y)]
    assert sorted(r for r, _, _ in points) == list(range(len(a.query_codes)))
    assert np.allclose([x for _, x, _ in sorted(points)], ap_a)
    assert {t.name for t in fig.data[1:]} <= {"dpsh-16 wins", "itq-16 wins", "tie",
                                              "both fail (no relevant item in either top 10)"}
    gaps = np.abs(frame["ap_a"] - frame["ap_b"]).to_numpy()
    assert np.all(np.diff(gaps[cv.queries_by_gap(frame)]) <= 0)


def test_compare_csv_names_both_models_and_holds_the_table(zoo):
    from hashviz.comparison import compare_models
    a, b = zoo["dpsh-16"], zoo["itq-16"]
    frame = compare_models(a, b)
    context, back = read_export(cv.compare_csv(frame, a, b))
    assert context["model"] == "A = dpsh-16; B = itq-16" and "digits-small" in context["protocol"]
    assert np.allclose(back["ap_a"], brute_force_ap_and_top10(a)[0])
    assert back["query_row"].tolist() == list(range(len(a.query_codes)))


def test_side_by_side_link_is_the_retrieval_url_state(zoo):
    from hashviz.retrieval import parse_url_state
    link = cv.side_by_side_link(zoo["dpsh-16"], zoo["itq-16"], 7, n=12)
    state = parse_url_state(link, 100, ["dpsh-16", "itq-16"])
    assert link["model"] == "dpsh-16" and not state.warnings
    assert (state.query, state.n, state.view, state.compare) == (7, 12, "side-by-side", ["dpsh-16", "itq-16"])


def test_code_map_selection_table_lists_rows_ids_and_labels(zoo):
    model = zoo["csq-16"]
    table = codemap.selection_table(model, [5, 0, 17], ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"])
    assert table["database_row"].tolist() == [5, 0, 17]
    assert table["dataset_id"].tolist() == [int(model.database_ids[r]) for r in (5, 0, 17)]
    assert table["labels"].tolist() == [f"c{int(model.database_labels[r])}" for r in (5, 0, 17)]
    assert table["image_path"].isna().all()


# ------------------------------------------------------------------------------- the page

def metric_values(at) -> dict[str, int]:
    return {m.label: int(m.value.replace(",", "")) for m in at.metric}


def test_compare_page_counts_equal_two_brute_force_evaluations(tiny_zoo, zoo, monkeypatch):
    at = app_on(tiny_zoo, "pages/compare.py", monkeypatch, model_name="dpsh-16", compare_b="itq-16")
    assert at.title[0].value == "Compare" and not at.error
    assert at.selectbox(key="compare_a").value == "dpsh-16" and at.selectbox(key="compare_b").value == "itq-16"
    want = expected_counts(zoo["dpsh-16"], zoo["itq-16"])
    assert metric_values(at) == {"dpsh-16 (A) wins": want["A wins"], "itq-16 (B) wins": want["B wins"],
                                 "Ties": want["ties"], "Both fail": want["both fail"]}
    table = at.dataframe[0].value
    assert len(table) == len(zoo["dpsh-16"].query_codes)
    assert [b.proto.label for b in at.get("download_button")] == ["Download the compare table (CSV)"]
    at.selectbox(key="compare_b").set_value("csq-16").run()
    want = expected_counts(zoo["dpsh-16"], zoo["csq-16"])
    assert metric_values(at)["csq-16 (B) wins"] == want["B wins"]


def test_compare_offers_only_models_with_the_same_queries(other_queries, monkeypatch):
    at = app_on(other_queries, "pages/compare.py", monkeypatch, model_name="other-16")
    assert at.selectbox(key="compare_a").options == ["dpsh-16", "itq-16"]   # other-16 has no partner
    assert at.selectbox(key="compare_b").options == ["itq-16"]
    assert "1 other model(s) rank other queries" in " ".join(c.value for c in at.caption)


def test_compare_with_no_comparable_pair_says_so(tmp_path, tiny_zoo, monkeypatch):
    shutil.copytree(tiny_zoo / "dpsh-16", tmp_path / "dpsh-16")
    at = app_on(tmp_path, "pages/compare.py", monkeypatch)
    assert "nothing to compare" in at.info[0].value and not at.error


def test_open_side_by_side_shows_the_query_ranked_by_both_models(tiny_zoo, monkeypatch):
    at = app_on(tiny_zoo, "pages/compare.py", monkeypatch, model_name="itq-16", compare_a="dpsh-16",
                compare_b="itq-16", compare_query=4)
    at.button(key="compare_open_button").click().run()
    assert not at.exception
    assert at.session_state["model_name"] == "dpsh-16" and at.session_state["rq_q"] == 4
    assert at.session_state["rq_view"] == "side-by-side"
    assert at.session_state["rq_compare"] == ["dpsh-16", "itq-16"]
    assert "query set #4" in " ".join(m.value for m in at.markdown)
