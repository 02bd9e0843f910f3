import json
import shutil

import numpy as np
import pytest

from hashviz.encoders import load_encoder
from hashviz.errors import HashvizError
from hashviz.metrics import evaluate
from hashviz.training import TrainSpec, build_model, is_validation_epoch, train
from hashviz.zoo import discover, load_model_dir


def test_tiny_zoo_is_discovered_valid(tiny_zoo):
    valid, invalid = discover(tiny_zoo)
    assert {m.name for m in valid} == {"dpsh-16", "csq-16", "dpq-16", "itq-16", "lsh-16"}
    assert invalid == []
    csq = next(m for m in valid if m.name == "csq-16")
    assert csq.database_codes.shape == (len(csq.database_ids), 2)
    assert csq.config["protocol"] == "digits-small" and csq.config["history"]
    assert set(csq.metrics) >= {"map_all", "map_1000", "map_tie_aware", "p_h2", "protocol"}


def test_deep_models_beat_random_codes(tiny_zoo):
    model = load_model_dir(tiny_zoo / "csq-16")
    rng = np.random.default_rng(0)
    random_codes = rng.integers(0, 256, model.database_codes.shape, dtype=np.uint8)
    random_q = rng.integers(0, 256, model.query_codes.shape, dtype=np.uint8)
    baseline = evaluate(random_q, random_codes, model.query_labels, model.database_labels)["map_all"]
    assert model.metrics["map_all"] > baseline + 0.2


def test_save_load_gives_identical_codes(tiny_zoo):
    from hashviz.data import load_dataset
    images = load_dataset("digits").images
    for name in ("dpsh-16", "itq-16", "dpq-16"):
        model = load_model_dir(tiny_zoo / name)
        codes = load_encoder(model).encode(images[model.query_ids])
        np.testing.assert_array_equal(codes, model.query_codes)


def test_training_is_seeded_and_changes_codes():
    spec = TrainSpec("dpsh", 16, dataset="digits", protocol="digits-small", epochs=1, width=8)
    a, b = train(spec), train(spec)
    for key in a.encoder_weights:
        np.testing.assert_array_equal(a.encoder_weights[key], b.encoder_weights[key])
    untrained = train(TrainSpec("dpsh", 16, dataset="digits", protocol="digits-small", epochs=0, width=8))
    head = "net.head.weight"
    assert not np.allclose(a.encoder_weights[head], untrained.encoder_weights[head])


def test_history_records_loss_per_epoch_and_validation_on_schedule(tiny_zoo):
    config = load_model_dir(tiny_zoo / "dpsh-16").config
    history = config["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5, 6]
    assert all(np.isfinite(h["loss"]) for h in history)
    # 6 epochs: epoch 1, every fourth, and every second of the last 30 % are validated; the best is kept
    assert [h["epoch"] for h in history if "val_map" in h] == [1, 4, 6]
    assert all(0 <= h["val_map"] <= 1 for h in history if "val_map" in h)
    assert config["best_epoch"] == max((h for h in history if "val_map" in h), key=lambda h: h["val_map"])["epoch"]


def test_validation_schedule():
    validated = [e for e in range(1, 41) if is_validation_epoch(e, 40)]
    assert validated == [1, 4, 8, 12, 16, 20, 24, 28, 30, 32, 34, 36, 38, 40]
    assert [e for e in range(1, 33) if is_validation_epoch(e, 32)] == [1, 4, 8, 12, 16, 20, 24, 26, 28, 30, 32]
    assert [e for e in range(1, 3) if is_validation_epoch(e, 2)] == [1, 2]


def test_existing_output_is_refused_and_untouched(tiny_zoo, tmp_path):
    target = tmp_path / "m"
    shutil.copytree(tiny_zoo / "lsh-16", target)
    before = (target / "config.json").read_bytes()
    with pytest.raises(HashvizError, match="already exists"):
        build_model(TrainSpec("lsh", 16, dataset="digits", protocol="digits-small"), target)
    assert (target / "config.json").read_bytes() == before


def test_non_finite_loss_stops_with_message(tmp_path):
    spec = TrainSpec("dpsh", 16, dataset="digits", protocol="digits-small", epochs=1, lr=1e30, width=8)
    with pytest.raises(HashvizError, match="non-finite|loss became"):
        build_model(spec, tmp_path / "nan")
    assert not (tmp_path / "nan").exists()
    assert not any(p.name.startswith(".tmp") for p in tmp_path.iterdir())


def test_cancelled_training_leaves_nothing(tmp_path):
    from hashviz.training import TrainingCancelled
    spec = TrainSpec("csq", 16, dataset="digits", protocol="digits-small", epochs=3, width=8)
    calls = []
    with pytest.raises(TrainingCancelled):
        build_model(spec, tmp_path / "c", should_stop=lambda: calls.append(1) or len(calls) > 5)
    assert list(tmp_path.iterdir()) == []


def test_pq_model_records_code_cost(tiny_zoo):
    model = load_model_dir(tiny_zoo / "dpq-16")
    assert model.code_type == "pq"
    assert model.config["pq"]["code_bits"] == 16
    assert model.database_codes.shape[1] == model.config["pq"]["M"]
    assert 0 < model.metrics["map_all"] <= 1


def test_config_is_plain_json(tiny_zoo):
    config = json.loads((tiny_zoo / "csq-16" / "config.json").read_text())
    assert config["method"] == "csq" and config["family"] == "classification"
    assert config["paper"] == "arXiv:1908.00347" and config["code_type"] == "binary"


def test_precision_choice_is_checked_and_honoured():
    import torch
    from hashviz.training import training_autocast
    with pytest.raises(HashvizError, match="precision must be auto, fp32 or bf16"):
        training_autocast("fp16", "cpu")
    x = torch.randn(4, 8)
    layer = torch.nn.Linear(8, 2)
    with training_autocast("bf16", "cpu"):
        assert layer(x).dtype == torch.bfloat16
    with training_autocast("fp32", "cpu"):
        assert layer(x).dtype == torch.float32


def test_hashviz_precision_environment_decides_what_auto_means(monkeypatch):
    import torch
    from hashviz.training import training_autocast
    layer, x = torch.nn.Linear(8, 2), torch.randn(4, 8)
    for chosen, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        monkeypatch.setenv("HASHVIZ_PRECISION", chosen)
        assert TrainSpec("dpsh", 16).resolved().precision == chosen   # what config.json records
        with training_autocast("auto", "cpu"):
            assert layer(x).dtype == dtype
    monkeypatch.setenv("HASHVIZ_PRECISION", "fp32")
    assert TrainSpec("dpsh", 16, precision="bf16").resolved().precision == "bf16"  # explicit wins
    monkeypatch.setenv("HASHVIZ_PRECISION", "fp16")
    with pytest.raises(HashvizError, match="HASHVIZ_PRECISION must be auto, fp32 or bf16, not 'fp16'"):
        TrainSpec("dpsh", 16).resolved()


def test_training_records_seconds_per_phase(tiny_zoo):
    config = load_model_dir(tiny_zoo / "dpsh-16").config
    phases = config["train_phase_seconds"]
    assert set(phases) == {"data", "forward", "backward", "optimizer", "validation"}
    assert all(v >= 0 for v in phases.values())
    assert sum(phases.values()) <= config["train_seconds"] + 0.05   # parts of the loop, not more


def test_bf16_training_saves_fp32_weights_and_reloads_identical_codes(tmp_path):
    from hashviz.data import load_dataset
    spec = TrainSpec("greedyhash", 16, dataset="digits", protocol="digits-small", epochs=2, width=8,
                     precision="bf16")
    model = load_model_dir(build_model(spec, tmp_path / "g"))
    assert model.config["spec"]["precision"] == "bf16"
    encoder = load_encoder(model)
    assert all(p.dtype == torch_float32() for p in encoder.net_.parameters())
    images = load_dataset("digits").images
    np.testing.assert_array_equal(encoder.encode(images[model.query_ids]), model.query_codes)


def torch_float32():
    import torch
    return torch.float32


def test_results_table_names_each_recipe_and_keeps_hand_written_notes(tiny_zoo, tmp_path):
    from hashviz.zoo_build import NOTES_MARKER, recipe_summary, render_results, write_results
    deep = {"backbone": "small-cnn", "spec": {"epochs": 36, "batch_size": 64, "lr": 0.001,
                                              "weight_decay": 0.5, "precision": "bf16"}}
    assert recipe_summary(deep) == "36 ep, batch 64, lr 0.001, wd 0.5, bf16"
    assert recipe_summary({"backbone": None, "spec": {"epochs": 0}}) == "closed form"
    table = render_results([tiny_zoo / "csq-16", tiny_zoo / "itq-16"], [])
    rows = [line for line in table.splitlines() if line.startswith("| csq") or line.startswith("| itq")]
    precision = load_model_dir(tiny_zoo / "csq-16").config["spec"]["precision"]
    assert rows[0].endswith(f"| 6 ep, batch 64, lr 0.003, wd 0.5, {precision} |")  # wd: CSQ's recipe
    assert rows[1].endswith("| closed form |")
    out = tmp_path / "results.md"
    out.write_text("old table\n" + NOTES_MARKER + "\nwhy DPSH is lower\n")
    write_results(out, table)
    text = out.read_text()
    assert text.startswith("# Results") and "old table" not in text
    assert text.endswith(NOTES_MARKER + "\nwhy DPSH is lower\n")


def test_results_run_trains_each_seed_once_and_writes_mean_sd_verdicts_and_its_wall_time(tmp_path):
    """`hashviz zoo results` on tiny models: 2 seeds at 32 bits and for one ablation arm, seed 0 at 16."""
    import re
    import statistics
    from dataclasses import replace
    from hashviz.ablations import TRICKS, Arm
    from hashviz.zoo_build import NOTES_MARKER, results_table
    root, out = tmp_path / "models", tmp_path / "results.md"
    out.write_text("the old table\n" + NOTES_MARKER + "\nhand-written\n")
    balance = replace(TRICKS, arms=(Arm("dpsh-32-balance", "dpsh", 32, {"regularizers": {"balance": 0.1}}),))
    quick = dict(dataset="digits", protocol="digits-small", epochs=1, max_train=200, width=8, batch_size=64)
    log = []
    results_table(root, out, bits=(16, 32), methods=["dpsh", "itq"], seeds=2, ablations=[balance],
                  log=log.append, **quick)
    names = {p.name for p in root.iterdir()}
    assert names == {"dpsh-16", "dpsh-32", "dpsh-32-s1", "itq-16", "itq-32", "itq-32-s1",
                     "dpsh-32-balance", "dpsh-32-balance-s1"}
    configs = {n: load_model_dir(root / n).config for n in names}
    assert configs["dpsh-32-s1"]["seed"] == 1 and configs["dpsh-32"]["seed"] == 0
    assert configs["dpsh-32-balance-s1"]["seed"] == 1
    assert configs["dpsh-32-balance-s1"]["regularizers"] == {"balance": 0.1}
    text = out.read_text()
    maps = [configs[n]["metrics"]["map_all"] for n in ("dpsh-32", "dpsh-32-s1")]
    cell = f"{statistics.mean(maps):.3f} ± {statistics.stdev(maps):.3f}"     # sample sd (n - 1)
    assert f"| dpsh | pairwise | 32 | 2 | {cell} |" in text
    assert f"| dpsh | pairwise | 16 | 1 | {configs['dpsh-16']['metrics']['map_all']:.3f} |" in text
    balanced = [configs[n]["metrics"]["map_all"] for n in ("dpsh-32-balance", "dpsh-32-balance-s1")]
    assert (f"| dpsh | balance=0.1 | 2 | {statistics.mean(balanced):.3f} ± {statistics.stdev(balanced):.3f} |"
            in text)
    assert f"| dpsh | none | 2 | {cell} |" in text
    assert "2 seed(s) each" in text and "the 16-bit rows ran with seed 0 only" in text
    assert re.search(r"This run took \d+ min \d\d s wall clock on \d+ CPU cores: 8 model\(s\) trained, 0 already", text)
    conclusions = text[text.index("## The survey's conclusions against the noise"):text.index(NOTES_MARKER)]
    verdicts = re.findall(r"^- \*\*(.+?)\*\*", conclusions, flags=re.M)
    assert len(verdicts) == 4 and set(verdicts) <= {"holds", "does not hold", "inside the noise",
                                                    "cannot check here (missing models)"}
    assert "variant balance=0.1" in conclusions and "with n 2" in conclusions
    assert text.endswith(NOTES_MARKER + "\nhand-written\n") and "the old table" not in text
    log.clear()                                                 # a second run trains nothing
    results_table(root, out, bits=(16, 32), methods=["dpsh", "itq"], seeds=2, ablations=[balance],
                  log=log.append, **quick)
    assert not [line for line in log if line.startswith("training")]
    assert "0 model(s) trained, 8 already" in out.read_text()    # the baselines are the table's own models
    results_table(root, out, bits=(32,), methods=["dpsh"], seeds=3, ablations=[], **quick)   # a third seed, one row
    results_table(root, out, bits=(16, 32), methods=["dpsh", "itq"], seeds=2, ablations=[balance], train=False)
    maps = [load_model_dir(root / n).config["metrics"]["map_all"] for n in ("dpsh-32", "dpsh-32-s1", "dpsh-32-s2")]
    text = out.read_text()
    assert f"| dpsh | pairwise | 32 | 3 | {statistics.mean(maps):.3f} ± {statistics.stdev(maps):.3f} |" in text
    assert "| itq | shallow | 32 | 2 |" in text and "| dpsh | none | 3 |" in text
    with pytest.raises(HashvizError, match="--seeds must be at least 1"):
        results_table(root, out, seeds=0)
