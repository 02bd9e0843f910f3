"""The Evaluate, Taxonomy and Train pages under Streamlit's AppTest, on the tiny zoo."""

import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from streamlit.testing.v1 import AppTest  # noqa: E402

from app_support import app_on  # noqa: E402

from hashviz.methods import FAMILIES  # noqa: E402





def frame(at, *columns, index: int = 0):
    """The index-th dataframe whose columns include `columns` (display dataframes carry no key)."""
    found = [d.value for d in at.dataframe if set(columns) <= set(getattr(d.value, "columns", ()))]
    assert len(found) > index, f"no dataframe with columns {columns}"
    return found[index]


def texts(at) -> str:
    return "\n".join(str(e.value) for kind in (at.markdown, at.caption, at.info, at.success, at.warning)
                     for e in kind)


# ------------------------------------------------------------------ Evaluate

def test_evaluate_shows_leaderboard_protocol_and_csv(tiny_zoo, monkeypatch):
    at = app_on(tiny_zoo, "pages/evaluate.py", monkeypatch)
    assert at.title[0].value == "Evaluate" and not at.error
    board = frame(at, "model", "tie-aware mAP", "train s")
    assert set(board["model"]) == {"dpsh-16", "csq-16", "dpq-16", "itq-16", "lsh-16"}
    seeds = frame(at, "models", "n", "mAP@all").set_index("models")      # one seed each: the value, n = 1
    assert (seeds["n"] == 1).all() and seeds.loc["csq-16", "mAP@all"] == f"{board.set_index('model').loc['csq-16', 'mAP@all']:.3f}"
    page = texts(at)
    assert "ties" in page and "scores 0" in page and "validation" in page
    assert "dpq-16: product-quantised" in page and "n/a" in page
    assert [b.proto.label for b in at.get("download_button")] == ["Download the leaderboard (CSV)",
                                                                   "Download these queries (CSV)"]


def test_evaluate_curves_and_conclusions(tiny_zoo, monkeypatch):
    at = app_on(tiny_zoo, "pages/evaluate.py", monkeypatch)
    charts = at.get("plotly_chart")
    assert len(charts) >= 3                          # PR, precision@k, confusion
    page = texts(at)
    assert "mAP vs code length needs one method trained at two or more code lengths" in page
    verdicts = [line for line in page.splitlines() if line.startswith("**Verdict:")]
    from hashviz.ablations import ABLATIONS
    assert len(verdicts) == 3 + len(ABLATIONS) == 5        # three survey conclusions, then each ablation
    assert all("**Verdict: cannot check here (missing models).**" in v for v in verdicts[3:])  # no ablations in the tiny zoo
    assert "more than half" not in page and "**inside the noise** otherwise" in page   # the rule, stated
    assert "0.01 assumed" in page              # one seed per model: no measured spread in the tiny zoo
    assert frame(at, "best label-using")["best label-using"].iloc[0] == "csq-16"
    at.multiselect(key="evaluate_curve_models").set_value(["lsh-16"]).run()
    assert not at.exception


def test_failure_finder_opens_rows_on_the_retrieval_page(tiny_zoo, monkeypatch):
    at = app_on(tiny_zoo, "pages/evaluate.py", monkeypatch)
    worst = frame(at, "query row", "AP")
    assert len(worst) == 10 and worst["AP"].is_monotonic_increasing
    assert len(frame(at, "class", "worst query row")) == 10
    at.selectbox(key="evaluate_open_worst").set_value(int(worst["query row"].iloc[1]))
    at.button(key="evaluate_open_worst_open").click().run()
    assert [t.value for t in at.title][:1] == ["Retrieval"]        # switched, and the page took the row
    assert f"query set #{int(worst['query row'].iloc[1])} " in texts(at)


def test_failure_finder_opens_a_collision_as_database_row(tiny_zoo, monkeypatch):
    at = app_on(tiny_zoo, "pages/evaluate.py", monkeypatch, model_name="lsh-16")
    assert "Where **lsh-16**" in texts(at)
    collisions = frame(at, "code", "database row")
    assert (collisions["classes in bucket"] > 1).all()
    at.button(key="evaluate_open_collision_open").click().run()
    assert [t.value for t in at.title][:1] == ["Retrieval"]
    assert f"database item #{int(collisions['database row'].iloc[0])} " in texts(at)


def test_evaluate_without_models_says_what_to_do(tmp_path, monkeypatch):
    at = app_on(tmp_path, "pages/evaluate.py", monkeypatch)
    assert "No valid model" in texts(at) and not at.error


# ------------------------------------------------------------------ Taxonomy

def test_taxonomy_shows_families_losses_registry_and_live_numbers(tiny_zoo, monkeypatch):
    at = app_on(tiny_zoo, "pages/taxonomy.py", monkeypatch)
    assert len(at.tabs) == len(FAMILIES) and at.tabs[0].label.startswith("1. Pairwise")
    assert at.tabs[5].label == "6. Deep unsupervised hashing"
    assert at.tabs[-1].label == "Contrast: Shallow baselines"
    assert len(at.latex) >= 10
    assert "journal version" in texts(at).lower() and "pointwise" in texts(at)
    methods = frame(at, "method", "paper", "recipe")
    assert {"dpsh", "hashnet", "dsh", "dch"} <= set(methods["method"])
    method_tables = [d.value for d in at.dataframe if "recipe" in getattr(d.value, "columns", ())]
    assert any({"csq", "orthohash", "classifier-code"} <= set(t["method"]) for t in method_tables)
    assert "**Calibration row** (classifier-code): a plain classifier" in texts(at)
    assert list(frame(at, "model", "mAP@all")["model"]) == ["dpsh-16"]
    assert list(frame(at, "model", "mAP@all", index=-1)["model"]) == ["itq-16", "lsh-16"]
    assert "No model of this family" in texts(at)                 # multiwise / implicit: none in the tiny zoo


def test_taxonomy_new_directions_live_with_models_and_the_rest_described(tiny_zoo, tmp_path, monkeypatch):
    at = app_on(tiny_zoo, "pages/taxonomy.py", monkeypatch)
    labels = [e.label for e in at.expander]
    assert "Ensemble learning" in labels and "Unsupervised deep hashing" in labels
    for name in ("Training strategies", "GAN-based hashing", "Multimodal hashing"):
        assert f"{name} (not implemented in hashviz)" in labels
    shown = texts(at)
    assert "DCMH" in shown and "paired image-text data" in shown and "BinGAN" in shown
    assert "No `ensemble` model in the models root yet" in shown        # the tiny zoo has none
    root = tmp_path / "models"
    shutil.copytree(tiny_zoo, root)
    from hashviz.training import TrainSpec, build_model
    build_model(TrainSpec("ensemble", 16, dataset="digits", epochs=1, max_train=120, width=8), root / "ens-16")
    at = app_on(root, "pages/taxonomy.py", monkeypatch)
    assert "1 `ensemble` model(s) in the models root." in texts(at)
    assert list(frame(at, "model", "mAP@all", index=-1)["model"]) == ["ens-16"]      # the directions' table
    assert "ensemble" in set(frame(at, "method", "paper", "recipe", index=-1)["method"])


# ------------------------------------------------------------------ Train

@pytest.fixture
def zoo_copy(tiny_zoo, tmp_path):
    root = tmp_path / "models"
    shutil.copytree(tiny_zoo, root)
    return root


def test_train_runs_in_background_and_the_model_reaches_the_picker(zoo_copy, monkeypatch):
    at = app_on(zoo_copy, "pages/train.py", monkeypatch)
    at.selectbox(key="train_method").set_value("dpsh")
    at.radio(key="train_dataset").set_value("digits")
    at.select_slider(key="train_bits").set_value(16).run()
    at.number_input(key="train_epochs_dpsh").set_value(1)
    at.number_input(key="train_reg_balance").set_value(0.1).run()
    at.button[0].click().run()                                      # Start training
    assert not at.error, [e.value for e in at.error]
    job = at.session_state["train_job"]
    snap = job.join(300)
    assert snap.state == "done" and snap.name == "dpsh-16-balance-digits"
    at.run()                                                        # the poll sees the end: app rerun
    at.run()
    assert "Saved **dpsh-16-balance-digits**" in texts(at)
    show = next(b for b in at.button if b.label.startswith("Show dpsh-16-balance-digits"))
    show.click().run()
    assert at.session_state["model_name"] == "dpsh-16-balance-digits"
    shell = AppTest.from_file(str(REPO / "app.py"), default_timeout=180).run()   # app.py draws the sidebar
    options = shell.sidebar.selectbox(key="model_name").options          # labels: "name (method, bits · mAP)"
    assert any(o.startswith("dpsh-16-balance-digits (dpsh, 16 bits") for o in options)


def test_train_refuses_an_existing_name_with_a_message(zoo_copy, monkeypatch):
    at = app_on(zoo_copy, "pages/train.py", monkeypatch)
    at.selectbox(key="train_method").set_value("lsh")
    at.radio(key="train_dataset").set_value("digits").run()
    at.text_input(key="train_name").set_value("lsh-16").run()
    at.button[0].click().run()
    assert "already exists" in at.error[0].value and "train_job" not in at.session_state
    assert not at.exception


def test_train_cancel_leaves_nothing(zoo_copy, monkeypatch):
    at = app_on(zoo_copy, "pages/train.py", monkeypatch)
    at.selectbox(key="train_method").set_value("dpsh")
    at.radio(key="train_dataset").set_value("digits").run()
    at.number_input(key="train_epochs_dpsh").set_value(200).run()
    before = sorted(p.name for p in zoo_copy.iterdir())
    at.button[0].click().run()
    cancel = next(b for b in at.button if b.label == "Cancel training")
    cancel.click().run()
    snap = at.session_state["train_job"].join(120)
    assert snap.state == "cancelled"
    at.run()
    at.run()
    assert "nothing was saved" in texts(at)
    assert sorted(p.name for p in zoo_copy.iterdir()) == before
