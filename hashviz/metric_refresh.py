"""`hashviz eval DIR --write`: recompute the metrics stored in model directories from their codes.

A metric added to the schema (hashviz.metrics.reported_metrics) reaches models saved before it only
by recomputation; this writes the recomputed metrics into config.json, replacing the file atomically
(a temporary file in the same folder, renamed over it), and leaves every other file untouched.
Stored keys the recomputation does not produce (the seen/unseen settings) are kept.
"""

from __future__ import annotations

import json
from pathlib import Path

from hashviz.atomic_files import write_text_atomically

__all__ = ["write_metrics", "write_metrics_under"]


def write_metrics(path) -> dict:
    """Recompute the metrics of the model directory `path` and store them in its config.json;
    returns the metrics written."""
    from hashviz.evaluation import recomputed_metrics
    from hashviz.zoo import CONFIG, _json_default, load_model_dir
    model = load_model_dir(Path(path))
    config = json.loads((model.path / CONFIG).read_text())
    metrics = {**(config.get("metrics") or {}), **recomputed_metrics(model)}
    config["metrics"] = json.loads(json.dumps(metrics, default=_json_default))    # keys as JSON stores them
    _replace_file(model.path / CONFIG, json.dumps(config, indent=2, sort_keys=True, default=_json_default))
    return config["metrics"]


def write_metrics_under(root) -> list[tuple[str, str | None]]:
    """write_metrics for every model directory under `root` (one level deep, as discovery reads it):
    (name, None) when written, (name, reason) for a directory that is not a valid model."""
    from hashviz.zoo import discover
    valid, invalid = discover(Path(root))
    done = []
    for model in valid:
        write_metrics(model.path)
        done.append((model.name, None))
    return done + [(Path(path).name, reason) for path, reason in invalid]


def _replace_file(target: Path, text: str) -> None:
    write_text_atomically(target, text, mode=target.stat().st_mode & 0o777)
