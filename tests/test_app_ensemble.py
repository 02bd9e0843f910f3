"""An ensemble model in the app (Streamlit AppTest): Diagnostics, Code map, Evaluate and an uploaded
query on Retrieval work on it like on any deep model."""

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app_support import app_on  # noqa: E402

from hashviz import projection  # noqa: E402


@pytest.fixture(scope="module")
def ensemble_root(tmp_path_factory):
    from hashviz.training import TrainSpec, build_model
    root = tmp_path_factory.mktemp("ensemble_zoo")
    build_model(TrainSpec("ensemble", 16, dataset="digits", epochs=2, width=8, lr=3e-3, batch_size=64,
                          hyper={"member": "greedyhash", "members": 2}), root / "ens-16")
    return root


def test_diagnostics_code_map_and_evaluate_run_on_an_ensemble(ensemble_root, monkeypatch):
    at = app_on(ensemble_root, "pages/diagnostics.py", monkeypatch, model_name="ens-16")
    assert not at.error, [e.value for e in at.error]
    assert "Effective bits" in {m.label for m in at.metric}
    monkeypatch.setattr(projection, "_umap", lambda x, metric, n_neighbors, seed, min_dist, n_epochs:
                        projection._pca(np.asarray(x, dtype=np.float64), seed))
    at = app_on(ensemble_root, "pages/code_map.py", monkeypatch, model_name="ens-16")
    assert not at.error and len(at.get("plotly_chart")) == 1
    at = app_on(ensemble_root, "pages/evaluate.py", monkeypatch)
    assert not at.error and any("ens-16" in frame.value.astype(str).to_numpy() for frame in at.dataframe)


def test_an_upload_is_encoded_through_every_member(ensemble_root, monkeypatch):
    at = app_on(ensemble_root, "pages/retrieval.py", monkeypatch, model_name="ens-16")
    at.radio(key="rq_mode").set_value("Upload")
    at.run()
    picture = np.zeros((32, 32), np.uint8)
    picture[6:26, 14:18] = 255
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG")
    at.file_uploader(key="rq_file").upload("one.png", buf.getvalue(), "image/png")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(at.dataframe[0].value["database_index"]) == 20
