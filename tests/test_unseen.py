"""Seen and unseen classes: the four settings on a hand-sized case (answers worked out by hand and by
plain loops over an explicit ranking), the protocol that holds classes out, and a model trained on it."""

import json
from pathlib import Path

import numpy as np
import pytest

from hashviz.errors import HashvizError
from hashviz.metrics import evaluate
from hashviz.unseen import SETTINGS, model_settings, parse_classes, settings_metrics, setting_rows
from reference import ref_ap, ref_distances, ref_ranked_relevance, ref_relevant

# 8-bit codes, classes 0, 1, 2; class 2 is the held-out one.
DB_CODES = [0b00000000, 0b00000001, 0b00000011, 0b11111111, 0b00000111]
DB_LABELS = [0, 1, 2, 0, 2]
Q_CODES = [0b00000000, 0b00000011, 0b11111111]
Q_LABELS = [0, 2, 1]
# By hand, ranking by Hamming distance then database index:
#   q0 (class 0) in seen@seen: db0 (d 0, rel), db1 (1), db3 (8, rel)          -> AP (1 + 2/3) / 2 = 5/6
#   q2 (class 1) in seen@seen: db3 (0), db1 (7, rel), db0 (8)                   -> AP 1/2
#   q0 in seen@all: db0 (0, rel), db1 (1), db2 (2), db4 (3), db3 (8, rel)       -> AP (1 + 2/5) / 2 = 0.7
#   q2 in seen@all: db3 (0), db4 (5), db2 (6), db1 (7, rel), db0 (8)            -> AP 1/4
#   q1 (class 2) in unseen@unseen: db2 (0, rel), db4 (1, rel)                   -> AP 1
#   q1 in unseen@all: db2 (0, rel), db1 (1), db4 (1, rel), db0 (2), db3 (6)    -> AP (1 + 2/3) / 2 = 5/6
BY_HAND = {"seen@seen": (5 / 6 + 1 / 2) / 2, "seen@all": (0.7 + 0.25) / 2, "unseen@unseen": 1.0,
           "unseen@all": 5 / 6}


def _codes(values):
    return np.array(values, dtype=np.uint8)[:, None]


def _loop_map(q_codes, db_codes, q_labels, db_labels, unseen, setting, k=None):
    """mAP of one setting by plain loops: pick the rows by their classes, rank, average AP."""
    want_q, want_db = setting.split("@")
    q_rows = [i for i, c in enumerate(q_labels.tolist()) if (c in unseen) == (want_q == "unseen")]
    db_rows = [j for j, c in enumerate(db_labels.tolist())
               if want_db == "all" or (c in unseen) == (want_db == "unseen")]
    dist = ref_distances(q_codes[q_rows], db_codes[db_rows])
    rel = ref_relevant(q_labels[q_rows], db_labels[db_rows])
    return float(np.mean([ref_ap(ref_ranked_relevance(d, r), k) for d, r in zip(dist, rel)]))


def _score(q_codes, db_codes, q_labels, db_labels):
    return lambda q, db: evaluate(q_codes[q], db_codes[db], q_labels[q], db_labels[db])


def test_hand_sized_case_matches_the_answers_worked_out_by_hand():
    q, db = _codes(Q_CODES), _codes(DB_CODES)
    ql, dl = np.array(Q_LABELS), np.array(DB_LABELS)
    got = settings_metrics(_score(q, db, ql, dl), ql, dl, [2])
    assert list(got) == list(SETTINGS)
    for setting, expected in BY_HAND.items():
        assert got[setting]["map_all"] == pytest.approx(expected, abs=1e-12), setting
        assert got[setting]["map_all"] == pytest.approx(_loop_map(q, db, ql, dl, {2}, setting), abs=1e-12)
    rows = setting_rows(ql, dl, [2])
    assert [r.tolist() for r in rows["seen@seen"]] == [[0, 2], [0, 1, 3]]
    assert [r.tolist() for r in rows["unseen@unseen"]] == [[1], [2, 4]]
    assert [r.tolist() for r in rows["unseen@all"]] == [[1], [0, 1, 2, 3, 4]]


def test_random_case_every_setting_equals_plain_loops():
    rng = np.random.default_rng(5)
    q, db = rng.integers(0, 256, (40, 2), dtype=np.uint8), rng.integers(0, 256, (300, 2), dtype=np.uint8)
    ql, dl = rng.integers(0, 5, 40), rng.integers(0, 5, 300)
    got = settings_metrics(_score(q, db, ql, dl), ql, dl, [1, 3])
    for setting in SETTINGS:
        assert got[setting]["map_all"] == pytest.approx(_loop_map(q, db, ql, dl, {1, 3}, setting), abs=1e-9)
        assert got[setting]["map_1000"] == pytest.approx(_loop_map(q, db, ql, dl, {1, 3}, setting, 1000), abs=1e-9)


def test_refusals_name_the_problem():
    ql, dl = np.array(Q_LABELS), np.array(DB_LABELS)
    with pytest.raises(HashvizError, match="no query is of class 7"):
        setting_rows(ql, dl, [7])
    with pytest.raises(HashvizError, match="at least one class must stay seen"):
        setting_rows(ql, dl, [0, 1, 2])
    with pytest.raises(HashvizError, match="multi-label"):
        setting_rows(np.eye(3, dtype=np.uint8), np.eye(3, dtype=np.uint8), [1])
    assert parse_classes("3, Sneaker", ["a", "b", "c", "d", "e", "f", "g", "Sneaker"]) == (3, 7)
    with pytest.raises(HashvizError, match="neither a class id"):
        parse_classes("12", ["a", "b"])


def test_eval_of_an_import_with_named_held_out_classes(tmp_path, capsys):
    from hashviz.cli import main
    from hashviz.importing import import_codes
    arrays = {"db": np.unpackbits(_codes(DB_CODES), axis=1), "dbl": np.array(DB_LABELS),
              "q": np.unpackbits(_codes(Q_CODES), axis=1), "ql": np.array(Q_LABELS)}     # 0/1 bits, as exported
    for name, value in arrays.items():
        np.save(tmp_path / f"{name}.npy", value)
    out = import_codes(tmp_path / "db.npy", tmp_path / "dbl.npy", tmp_path / "q.npy", tmp_path / "ql.npy",
                       tmp_path / "model")
    assert main(["eval", str(out), "--unseen-classes", "2", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["unseen_classes"] == [2]
    assert {s: round(m["map_all"], 12) for s, m in printed["settings"].items()} == \
        {s: round(v, 12) for s, v in BY_HAND.items()}
    assert main(["eval", str(out), "--unseen-classes", "2"]) == 0
    text = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in text.splitlines() if line.strip().split(" ")[0] in SETTINGS}
    assert lines["unseen@all"][1:4] == ["1", "5", f"{5 / 6:.3f}"]      # queries, database, mAP@all
    assert lines["seen@seen"][1:4] == ["2", "3", f"{2 / 3:.3f}"]


def test_fmnist_protocol_holds_out_the_recorded_classes_chosen_by_the_seed():
    from hashviz.data import load_dataset, make_split
    dataset = load_dataset("fashion-mnist")
    labels = np.asarray(dataset.labels)
    drawn = set()
    for seed in (0, 1, 2):
        split = make_split(dataset, "fmnist-unseen2", seed)
        # the definition written out: the seed's generator draws 2 of the 10 classes first
        expected = tuple(sorted(np.random.default_rng(seed).choice(10, 2, replace=False).tolist()))
        assert split.unseen_classes == expected
        drawn.add(expected)
        seen = sorted(set(range(10)) - set(expected))
        assert np.bincount(labels[split.train], minlength=10).tolist() == [0 if c in expected else 500 for c in range(10)]
        assert np.bincount(labels[split.validation], minlength=10).tolist() == \
            [0 if c in expected else 100 for c in range(10)]
        assert sorted(set(labels[split.train].tolist())) == seen
        assert np.bincount(labels[split.query], minlength=10).tolist() == [100] * 10
        assert sorted(set(split.database.tolist()) | set(split.query.tolist())) == list(range(len(labels)))
        assert not set(split.train.tolist()) & set(split.query.tolist())
        again = make_split(dataset, "fmnist-unseen2", seed)
        assert again.unseen_classes == split.unseen_classes
        assert all(np.array_equal(getattr(again, p), getattr(split, p)) for p in ("query", "train", "validation"))
    assert len(drawn) > 1                # the seed, not a constant, chooses them


def test_a_model_trained_with_held_out_classes_records_and_scores_them(tmp_path):
    from hashviz.data import load_dataset, make_split
    from hashviz.training import TrainSpec, build_model
    from hashviz.zoo import load_model_dir
    spec = dict(dataset="digits", protocol="digits-unseen2", seed=3, lr=3e-3, width=8, batch_size=64)
    split = make_split(load_dataset("digits"), "digits-unseen2", 3)
    for method, epochs in (("csq", 2), ("itq", None)):
        model = load_model_dir(build_model(TrainSpec(method, 16, epochs=epochs, **spec), tmp_path / method))
        held = set(model.config["unseen_classes"])
        assert held == set(split.unseen_classes) and len(held) == 2
        if method == "csq":          # the classifier's centres: one per seen class
            assert model.config["num_classes"] == 8
        stored = model.config["metrics"]["settings"]
        for setting in SETTINGS:
            q, db = setting_rows(model.query_labels, model.database_labels, sorted(held))[setting]
            assert len(q) and len(db)
            loop = _loop_map(model.query_codes, model.database_codes, model.query_labels, model.database_labels,
                             held, setting)
            assert stored[setting]["map_all"] == pytest.approx(loop, abs=1e-9), (method, setting)
        assert model_settings(model)[0] == tuple(sorted(held))
        assert model_settings(model)[1]["unseen@all"]["map_all"] == pytest.approx(stored["unseen@all"]["map_all"])


def test_seen_labels_renumber_over_the_seen_classes():
    from hashviz.data import seen_labels
    assert seen_labels(np.array([0, 1, 3, 5, 9]), (2, 4)).tolist() == [0, 1, 2, 3, 7]
    with pytest.raises(HashvizError, match="held-out class reached training"):
        seen_labels(np.array([0, 2]), (2, 4))


def test_results_run_writes_the_settings_section_and_keeps_the_rest(tmp_path):
    from hashviz.zoo import load_model_dir
    from hashviz.zoo_build import NOTES_MARKER, results_table
    out = tmp_path / "results.md"
    out.write_text(f"# Results\n\nthe main table\n\n{NOTES_MARKER}\n\nhand notes\n")
    for _ in range(2):          # a second run replaces the section instead of adding another
        results_table(tmp_path / "models", out, bits=(32,), methods=["itq", "lsh"], seeds=2, dataset="digits",
                      protocol="digits-unseen2", log=lambda _: None)
    text = out.read_text()
    assert text.startswith("# Results\n\nthe main table\n") and "hand notes" in text
    assert text.count("## Seen and unseen classes (digits-unseen2)") == 1
    assert "hashviz zoo results --protocol digits-unseen2" in text
    row = next(line for line in text.splitlines() if line.startswith("| itq |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    models = [load_model_dir(tmp_path / "models" / name) for name in ("itq-32", "itq-32-s1")]
    assert cells[3] == "2"
    for cell, setting in zip(cells[4:8], SETTINGS):
        values = [m.config["metrics"]["settings"][setting]["map_all"] for m in models]
        assert cell == f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"
    assert not list((tmp_path / "models").glob("*balance*"))      # no ablation on a held-out protocol
    results_table(tmp_path / "models", out, bits=(32,), methods=["itq", "sh"], seeds=2, dataset="digits",
                  protocol="digits-unseen2", train=False, log=lambda _: None)
    text = out.read_text()
    assert "not trained yet: sh-32 (seeds 0, 1)." in text and "| itq |" in text and "| lsh |" not in text
    assert not (tmp_path / "models" / "sh-32").exists()


def test_a_spec_field_added_later_as_none_keeps_seeds_in_one_group(tiny_zoo, tmp_path):
    """Models of one results run trained before and after TrainSpec gained a field (None by default)."""
    import shutil
    from hashviz.seeds import group_by_seed
    from hashviz.zoo import load_model_dir
    for name, seed, extra in (("old", 0, {}), ("new", 1, {"resolution": None}), ("other", 2, {"resolution": 48})):
        shutil.copytree(tiny_zoo / "itq-16", tmp_path / name)
        config = json.loads((tmp_path / name / "config.json").read_text())
        config["seed"], config["spec"] = seed, {**config["spec"], "seed": seed, **extra}
        (tmp_path / name / "config.json").write_text(json.dumps(config))
    groups = group_by_seed([load_model_dir(tmp_path / n) for n in ("old", "new", "other")])
    assert [[m.name for m in g.models] for g in groups] == [["old", "new"], ["other"]]
