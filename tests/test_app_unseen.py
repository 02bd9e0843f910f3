"""The Evaluate page's seen/unseen settings and the failure finder's held-out filter, under AppTest, on a
real model trained on digits-unseen2 beside the tiny zoo's model that saw every class."""

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app_support import app_on  # noqa: E402

from hashviz.metrics import average_precision_per_query  # noqa: E402
from hashviz.unseen import SETTINGS  # noqa: E402
from hashviz.zoo import class_names_of, load_model_dir  # noqa: E402


@pytest.fixture(scope="module")
def unseen_root(tiny_zoo, tmp_path_factory) -> Path:
    from hashviz.training import TrainSpec, build_model
    root = tmp_path_factory.mktemp("unseen")
    shutil.copytree(tiny_zoo / "itq-16", root / "itq-16")
    build_model(TrainSpec("dpsh", 16, dataset="digits", protocol="digits-unseen2", seed=1, epochs=2, lr=3e-3,
                          width=8, batch_size=64), root / "dpsh-unseen")
    return root


def _frame(at, *columns):
    found = [d.value for d in at.dataframe if set(columns) <= set(getattr(d.value, "columns", ()))]
    assert found, f"no dataframe with columns {columns}"
    return found[0]


def test_settings_side_by_side_with_what_each_asks(unseen_root, monkeypatch):
    at = app_on(unseen_root, "pages/evaluate.py", monkeypatch, model_name="dpsh-unseen")
    model = load_model_dir(unseen_root / "dpsh-unseen")
    stored = model.config["metrics"]["settings"]
    text = "\n".join(str(m.value) for m in at.markdown)
    assert all(f"**{s}**" in text for s in SETTINGS)              # one paragraph naming each setting
    board = _frame(at, "held out", "unseen@all mAP@all")
    assert board["model"].tolist() == ["dpsh-unseen"]           # the model that saw every class is not listed
    assert board["seen@seen mAP@all"].iloc[0] == pytest.approx(stored["seen@seen"]["map_all"])
    table = _frame(at, "setting", "queries", "mAP@all").set_index("setting")
    assert table.index.tolist() == list(SETTINGS)
    for s in SETTINGS:
        assert table.loc[s, "mAP@all"] == pytest.approx(stored[s]["map_all"])
        assert table.loc[s, "mAP@1000"] == pytest.approx(stored[s]["map_1000"])
    held = set(model.config["unseen_classes"])
    assert table.loc["unseen@all", "queries"] == sum(int(c) in held for c in model.query_labels)
    assert table.loc["seen@seen", "database"] == sum(int(c) not in held for c in model.database_labels)


def test_failure_finder_filters_to_held_out_queries(unseen_root, monkeypatch):
    at = app_on(unseen_root, "pages/evaluate.py", monkeypatch, model_name="dpsh-unseen")
    model = load_model_dir(unseen_root / "dpsh-unseen")
    names = class_names_of(model)
    held = model.config["unseen_classes"]
    at.checkbox(key="evaluate_only_unseen").check().run()
    assert not at.exception
    worst = _frame(at, "query row", "AP")
    assert set(worst["class"]) <= {names[c] for c in held}
    # the shown mean: each held-out query's AP against the whole database, averaged (by its own loop)
    rows = np.flatnonzero(np.isin(model.query_labels, held))
    ap = average_precision_per_query(model.query_codes[rows], model.database_codes, model.query_labels[rows],
                                     model.database_labels)
    assert f"mAP@all {ap.mean():.3f}" in "\n".join(str(h.value) for h in at.subheader)
    assert ap.mean() == pytest.approx(model.config["metrics"]["settings"]["unseen@all"]["map_all"])
    assert sorted(_frame(at, "class", "worst query row")["label"]) == sorted(held)


def test_an_unseen_free_model_is_judged_on_classes_the_user_names(unseen_root, monkeypatch):
    at = app_on(unseen_root, "pages/evaluate.py", monkeypatch, model_name="itq-16")
    model = load_model_dir(unseen_root / "itq-16")
    key = next(m.key for m in at.multiselect if m.key.startswith("evaluate_unseen_named"))
    at.multiselect(key=key).set_value([3, 8]).run()
    assert not at.exception
    table = _frame(at, "setting", "queries", "mAP@all").set_index("setting")
    rows = np.flatnonzero(np.isin(model.query_labels, [3, 8]))
    db = np.flatnonzero(np.isin(model.database_labels, [3, 8]))
    ap = average_precision_per_query(model.query_codes[rows], model.database_codes[db], model.query_labels[rows],
                                     model.database_labels[db])
    assert table.loc["unseen@unseen", "mAP@all"] == pytest.approx(ap.mean())
    at.checkbox(key="evaluate_only_unseen").check().run()             # the finder follows the named classes
    assert set(_frame(at, "query row", "AP")["class"]) <= {class_names_of(model)[c] for c in (3, 8)}
