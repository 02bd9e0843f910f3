"""The protocol card of every model (hashviz.protocol_card): sizes read from the codes files, the
rules written out, and for a DeepHash-pytorch import the split convention its sizes match and the
mAP its save file's name claims beside the mAP computed here; shown by `hashviz eval` (text and
--json) and on Evaluate, where the leaderboard leads and the full statement is one click away."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hashviz import cli
from hashviz.protocol_card import matching_convention, protocol_card


def map_all_by_definition(q, d, ql, dl) -> float:
    """mAP@all written out: Hamming distance of ±1 codes, ties by database index, relevant = same
    class, AP = mean precision at each relevant rank, 0 without a relevant item."""
    aps = []
    for i in range(len(q)):
        dist = (q[i] != d).sum(1)
        order = np.lexsort((np.arange(len(d)), dist))
        relevant = (dl[order] == ql[i]).astype(float)
        ranks = np.flatnonzero(relevant) + 1
        aps.append(float(np.mean(np.arange(1, len(ranks) + 1) / ranks)) if len(ranks) else 0.0)
    return float(np.mean(aps))


@pytest.fixture(scope="module")
def cifar10_import(tmp_path_factory):
    """A DeepHash-pytorch save of the cifar10 split's sizes (1,000 queries, 54,000 database items,
    one-hot labels of 10 classes) whose file name claims mAP 0.81234."""
    from hashviz.importing import import_codes
    root = tmp_path_factory.mktemp("cifar10")
    rng = np.random.default_rng(0)
    labels = {"trn": rng.integers(0, 10, 54_000), "tst": rng.integers(0, 10, 1_000)}
    centres = rng.choice([-1.0, 1.0], size=(10, 32))
    codes = {}
    for part, lab in labels.items():
        flip = rng.random((len(lab), 32)) < 0.3                   # codes near their class's centre
        codes[part] = np.where(flip, -centres[lab], centres[lab]).astype(np.float32)
        np.save(root / f"cifar10-32-0.81234-{part}_binary.npy", codes[part])
        np.save(root / f"cifar10-32-0.81234-{part}_label.npy", np.eye(10, dtype=np.float32)[lab])
    out = import_codes(None, None, None, None, root / "model", deephash_dir=root)
    truth = map_all_by_definition(codes["tst"] > 0, codes["trn"] > 0, labels["tst"], labels["trn"])
    return out, truth


def test_a_trained_model_card_states_sizes_and_every_rule(tiny_zoo):
    from hashviz.zoo import load_model_dir
    model = load_model_dir(tiny_zoo / "dpsh-16")
    card = protocol_card(model)
    queries = np.load(tiny_zoo / "dpsh-16" / "codes" / "query.npy", allow_pickle=False)
    database = np.load(tiny_zoo / "dpsh-16" / "codes" / "database.npy", allow_pickle=False)
    config = json.loads((tiny_zoo / "dpsh-16" / "config.json").read_text())
    assert (card.queries, card.database) == (len(queries), len(database))
    assert card.relevance.startswith("single-label: relevant = same class")
    assert card.database_holds_training.startswith("yes (digits-small") and "every non-query image" in \
        card.database_holds_training
    assert "mAP@all over the whole database" in card.top_k and "ties by database index" in card.ties
    assert card.no_relevant_item.startswith("scores AP 0")
    assert card.model_selection == config["selection"] and "validation" in card.model_selection
    assert card.convention is None and card.claimed_map is None


def test_a_deephash_import_names_its_split_and_the_claimed_against_the_recomputed_map(cifar10_import):
    from hashviz.zoo import load_model_dir
    out, truth = cifar10_import
    card = protocol_card(load_model_dir(out))
    assert (card.queries, card.database, card.convention) == (1_000, 54_000, "cifar10")
    assert card.database_holds_training.startswith("no")
    assert card.model_selection.startswith("unknown")
    assert card.claimed_map == 0.81234 and card.recomputed_map == pytest.approx(truth, abs=1e-6)
    rows = dict(card.rows())
    assert rows["DeepHash-pytorch split"] == "cifar10" and rows["mAP its file name claims"] == "0.8123"


@pytest.mark.parametrize("queries, database, width, name", [
    (1_000, 54_000, 10, "cifar10"), (1_000, 59_000, 10, "cifar10-1"), (10_000, 50_000, 10, "cifar10-2"),
    (2_100, 193_734, 21, "nuswide_21"), (2_100, 193_734, 81, None), (1_000, 50_000, 10, None),
])
def test_split_conventions_are_matched_by_their_published_sizes(queries, database, width, name):
    found = matching_convention(queries, database, width)
    assert (found.name if found else None) == name


def test_hashviz_eval_prints_the_card_and_its_json(cifar10_import, capsys):
    out, truth = cifar10_import
    assert cli.main(["eval", str(out)]) == 0
    text = capsys.readouterr().out
    assert "protocol card:" in text and "DeepHash-pytorch split" in text and "cifar10" in text
    assert "mAP its file name claims           0.8123" in text
    assert cli.main(["eval", str(out), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)["protocol_card"]
    assert (card["queries"], card["database"], card["convention"], card["claimed_map"]) == \
        (1_000, 54_000, "cifar10", 0.81234)
    assert card["recomputed_map"] == pytest.approx(truth, abs=1e-6)


def test_evaluate_leads_with_the_table_and_keeps_the_full_protocol_one_click_away(tiny_zoo, monkeypatch):
    from app_support import app_on
    at = app_on(tiny_zoo, "pages/evaluate.py", monkeypatch, model_name="dpsh-16")
    board = at.tabs[0]
    first = next(iter(board.children.values()))
    assert type(first).__name__ == "Caption" and first.value.startswith("**Protocol** digits-small · relevant")
    assert "\n" not in first.value                                                     # one line
    assert [h.value for h in board.subheader][:2] == ["Mean ± sd over seeds", "Every model"]   # then the tables
    [details] = [x for x in board.expander if x.label.startswith("The full protocol")]
    assert any(m.value.startswith("**Protocol.**") and "ties" in m.value for m in details.markdown)
    statements = [m for m in board.markdown if m.value.startswith("**Protocol.**")]
    assert len(statements) == 1                                  # only inside the expander
    card = details.dataframe[0].value
    assert list(card.columns) == ["", "dpsh-16"] and card.iloc[0].tolist() == ["queries", "100"]
