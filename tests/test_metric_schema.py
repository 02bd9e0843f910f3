"""The one metric schema (hashviz.metrics.reported_metrics): changing the top-k or adding a column
is followed by evaluate, the leaderboard, the Taxonomy page, `hashviz eval` and the results table."""

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from hashviz import leaderboard as lb
from hashviz import metrics
from hashviz.cli import main
from hashviz.taxonomy import family_models
from hashviz.zoo import ModelDir, discover
from hashviz.zoo_build import render_results

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_support import app_on  # noqa: E402


def hand_case():
    """One query (code 0) and six database codes at distances 0..5; relevant at ranks 1, 3, 4, 6."""
    database = np.array([[0x00], [0x01], [0x03], [0x07], [0x0F], [0x1F]], dtype=np.uint8)
    return np.zeros((1, 1), np.uint8), database, np.array([1]), np.array([1, 0, 1, 1, 0, 1])


def test_evaluate_follows_map_k(monkeypatch):
    monkeypatch.setattr(metrics, "MAP_K", 5)
    res = metrics.evaluate(*hand_case())
    assert "map_1000" not in res
    assert res["map_5"] == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)              # AP@5 by hand: 29/36
    assert res["map_all"] == pytest.approx((1 + 2 / 3 + 3 / 4 + 4 / 6) / 4)    # 37/48
    assert [m.key for m in metrics.reported_metrics()] == ["map_all", "map_5", "map_tie_aware", "map_tie_min",
                                                          "map_tie_max", "p_h2", "p_h2_empty"]


def test_changing_map_k_reaches_every_table_and_the_cli(tiny_zoo, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(metrics, "MAP_K", 5)
    models = discover(tiny_zoo)[0]
    table = lb.leaderboard_table(models)
    assert "mAP@5" in table.columns and "mAP@1000" not in table.columns
    assert table["mAP@5"].isna().all()               # stored under map_1000: not shown as mAP@5
    assert "stores no such metric" in lb.not_applicable_note(table)
    assert "mAP@5" in family_models(models, "shallow").columns
    assert "**mAP@5** over the top 5" in lb.protocol_statement(models)
    assert "| mAP@5 |" in render_results([tiny_zoo / "itq-16"], [])

    assert main(["eval", str(tiny_zoo / "itq-16"), "--json"]) == 0   # recomputed from the codes
    result = json.loads(capsys.readouterr().out)
    assert "map_1000" not in result and 0 < result["map_5"] <= 1
    assert main(["eval", str(tiny_zoo / "itq-16")]) == 0
    assert "mAP@5" in capsys.readouterr().out

    at = app_on(tiny_zoo, "pages/taxonomy.py", monkeypatch)           # was a KeyError
    shown = [d.value for d in at.dataframe if "mAP@all" in getattr(d.value, "columns", ())]
    assert shown and all("mAP@5" in frame.columns for frame in shown)


def test_adding_a_column_is_one_schema_row(tiny_zoo, monkeypatch, capsys):
    extra = metrics.Metric("p_at_3", "P@3", False, ".3f", "share of relevant items in the top 3", "p_at_3")
    schema = metrics.reported_metrics()
    monkeypatch.setattr(metrics, "reported_metrics", lambda: (*schema, extra))
    config = {"method": "lsh", "family": "shallow", "bits": 16, "code_type": "binary", "dataset": "d",
              "protocol": "p", "metrics": {"map_all": 0.5, "p_at_3": 0.25}}
    table = lb.leaderboard_table([ModelDir(Path("x"), config, {})])
    assert table.loc[0, "P@3"] == 0.25 and math.isnan(table.loc[0, "mAP@1000"])
    assert lb.column_formats()["P@3"] == "%.3f" and "P@3" in lb.metric_columns()
    assert "| P@3 |" in render_results([tiny_zoo / "itq-16"], [])
    assert main(["eval", str(tiny_zoo / "itq-16")]) == 0
    assert "share of relevant items in the top 3" in capsys.readouterr().out


@pytest.mark.parametrize("key", [m.key for m in metrics.reported_metrics()])
def test_stored_metric_validation_checks_every_schema_key(key):
    from hashviz.errors import HashvizError
    from hashviz.model_checks import check_metrics
    check_metrics({key: float("nan")}, "config.json")            # a number (NaN: not applicable) passes
    with pytest.raises(HashvizError, match=f"metrics.{key} must be a number"):
        check_metrics({key: "0.9"}, "config.json")


def test_sentences_name_a_metric_by_its_schema_entry(monkeypatch):
    """metric_of finds a quantity's row; a changed radius reaches the ball's sentence, and an unknown
    quantity is an error, not a silent guess."""
    assert metrics.metric_of("map_all").label == "mAP@all"
    assert metrics.metric_of("p_ball").key == "p_h2"
    monkeypatch.setattr(metrics, "LOOKUP_RADIUS", 3)
    assert metrics.metric_of("p_ball").label == "P@H<=3"
    from hashviz.retrieval.ball import Ball, ball_note
    note = ball_note(Ball(radius=3, rows=np.arange(4), distances=np.zeros(4, np.int32), labels=np.zeros(4, np.int64),
                          relevant=None, dataset_ids=None))
    assert "p_h3 (P@H<=3)" in note and "radius 3" in note
    with pytest.raises(KeyError, match="no reported metric computes 'map_foo'"):
        metrics.metric_of("map_foo")
