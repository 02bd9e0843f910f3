"""`hashviz eval DIR --write` / `hashviz eval ROOT --write`: stored metrics recomputed from the codes
(compared to a recomputation written out here with hashviz.metrics on the arrays), every other file
and config key unchanged."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from hashviz import metrics as M
from hashviz.cli import main
from hashviz.search import PQIndex

MODELS = Path(__file__).resolve().parent.parent / "models"


def _files(model: Path) -> dict[str, str]:
    return {str(p.relative_to(model)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(model.rglob("*")) if p.is_file() and p.name != "config.json"}


def _plain_metrics(model: Path) -> dict:
    """The metrics from the arrays alone: Hamming for packed codes, asymmetric distances for pq."""
    load = lambda name: np.load(model / "codes" / f"{name}.npy", allow_pickle=False)  # noqa: E731
    config = json.loads((model / "config.json").read_text())
    if config["code_type"] == "pq":
        index = PQIndex(load("database"), load("codebooks"), metric=config["pq"]["metric"])
        return M.evaluate_index(index, load("query_vectors"), load("query_labels"), load("database_labels"))
    return M.evaluate(load("query"), load("database"), load("query_labels"), load("database_labels"))


def _same(stored, computed) -> bool:
    if isinstance(computed, dict):
        return all(_same(stored[str(k)], v) for k, v in computed.items())
    if isinstance(computed, list):
        return len(stored) == len(computed) and all(_same(a, b) for a, b in zip(stored, computed))
    if isinstance(computed, float) and math.isnan(computed):
        return isinstance(stored, float) and math.isnan(stored)
    return stored == computed


def _tamper(model: Path) -> dict:
    config = json.loads((model / "config.json").read_text())
    config["metrics"]["map_all"] = 0.123
    del config["metrics"]["map_tie_min"]
    (model / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
    return config


@pytest.mark.parametrize("name", ["lsh-16", "dpq-32"])
def test_eval_write_stores_the_recomputed_metrics_and_nothing_else(tmp_path, name, capsys):
    model = Path(shutil.copytree(MODELS / name, tmp_path / name))
    before = _tamper(model)
    files = _files(model)
    assert main(["eval", str(model), "--write"]) == 0
    after = json.loads((model / "config.json").read_text())
    expected = _plain_metrics(model)
    assert all(_same(after["metrics"][k], v) for k, v in expected.items())
    assert after["metrics"]["map_all"] != 0.123 and "map_tie_min" in after["metrics"]
    assert {k: v for k, v in after.items() if k != "metrics"} == {k: v for k, v in before.items() if k != "metrics"}
    assert _files(model) == files                    # no other file changed, no temporary file left


def test_eval_write_on_a_root_refreshes_every_model(tmp_path, capsys):
    for name in ("lsh-16", "dpq-32"):
        _tamper(Path(shutil.copytree(MODELS / name, tmp_path / name)))
    assert main(["eval", str(tmp_path), "--write"]) == 0
    out = capsys.readouterr().out
    for name in ("lsh-16", "dpq-32"):
        stored = json.loads((tmp_path / name / "config.json").read_text())["metrics"]
        assert _same(stored["map_all"], _plain_metrics(tmp_path / name)["map_all"])
        assert f"{name}: metrics recomputed and written" in out


def test_eval_write_that_fails_leaves_config_json_as_it_was(tmp_path, monkeypatch, capsys):
    """The new config.json replaces the old one in one rename: when that fails, the old file stays
    byte for byte and the temporary file is gone."""
    import hashviz.atomic_files as atomic
    model = Path(shutil.copytree(MODELS / "lsh-16", tmp_path / "lsh-16"))
    _tamper(model)
    before, files = (model / "config.json").read_bytes(), _files(model)

    def no_rename(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(atomic.os, "replace", no_rename)
    assert main(["eval", str(model), "--write"]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert (model / "config.json").read_bytes() == before and _files(model) == files
