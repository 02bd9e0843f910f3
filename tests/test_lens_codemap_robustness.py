"""Robustness of the Evaluate page's failure finder and metric lens and of the Code map: inputs that
used to crash a page or grow server memory (docs/reliability.md)."""

from pathlib import Path

import numpy as np

from app_support import app_on
from hashviz.importing import import_codes


def imported_model(root: Path, name: str, query_labels: np.ndarray, database_labels: np.ndarray, seed=0) -> Path:
    """A codes-only model directory from random 16-bit codes and the given labels."""
    rng = np.random.default_rng(seed)
    arrays = root / f"{name}-arrays"
    arrays.mkdir(parents=True)
    files = {}
    for part, labels in (("database", database_labels), ("query", query_labels)):
        np.save(arrays / f"{part}_codes.npy", (rng.random((len(labels), 16)) < 0.5).astype(np.uint8))
        np.save(arrays / f"{part}_labels.npy", labels)
        files.update({f"{part}_codes": arrays / f"{part}_codes.npy", f"{part}_labels": arrays / f"{part}_labels.npy"})
    return import_codes(**files, out=root / "models" / name)


def test_evaluate_renders_when_no_query_carries_a_label(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    db_labels = (rng.random((80, 3)) < 0.5).astype(np.uint8)
    model = imported_model(tmp_path, "unlabelled-queries", np.zeros((12, 3), np.uint8), db_labels)
    at = app_on(model.parent, "pages/evaluate.py", monkeypatch, model_name=model.name)
    per_label = [f.value for f in at.dataframe if "worst query row" in f.value.columns]
    assert len(per_label) == 1 and per_label[0].empty                  # the table is there, with no row
    notes = " ".join(i.value for i in at.info)
    assert "No query carries a label" in notes and "every query's AP is 0" in notes
