"""hv.from_network: the user's own network over a Dataset, an array or image files, stored as a
checked torch.export graph (JSON) with safetensors weights; the saved model encodes new images as
the live network does; crafted files (pickle payloads, os.system in the graph, code in size
expressions or guard code) are refused and never run."""

import json
import os
import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.numpy import load_file, save_file

import hashviz as hv
from hashviz.data import load_dataset
from hashviz.encoders import load_encoder
from hashviz.network_store import GRAPH_TENSOR


def _net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                               torch.nn.Flatten(), torch.nn.Linear(4 * 8 * 8, 16))


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits")
    return data.images[:240], data.labels[:240]


@pytest.fixture(scope="module")
def saved(digits, tmp_path_factory):
    images, labels = digits
    model = hv.from_network(_net(), images[:200], images[200:], database_labels=labels[:200],
                            query_labels=labels[200:], name="digits-net")
    return hv.load(model.save(tmp_path_factory.mktemp("saved") / "digits-net"))


def test_codes_are_the_sign_of_the_network_output(digits, saved):
    images, _ = digits
    with torch.no_grad():
        out = _net().eval()(torch.from_numpy(images[200:].copy()).float()[:, None] / 255.0).numpy()
    np.testing.assert_array_equal(saved.query_codes, np.packbits(out > 0, axis=1))


def test_a_saved_network_encodes_new_images_like_the_live_one(digits, saved):
    images, _ = digits
    encoder = load_encoder(saved)          # what the app's Retrieval page loads for an upload
    codes = encoder.codes_from_outputs(encoder.outputs(images[200:]))
    np.testing.assert_array_equal(codes, saved.query_codes)
    table = hv.neighbours(saved, images[205], n=10)          # an image, encoded by the stored network
    stored = hv.neighbours(saved, ("query", 5), n=10)
    np.testing.assert_array_equal(table["database_row"], stored["database_row"])
    np.testing.assert_array_equal(table["distance"], stored["distance"])
    names = {p.relative_to(saved.path).as_posix() for p in saved.path.rglob("*") if p.is_file()}
    assert "weights.safetensors" in names and not [n for n in names if n.endswith((".pt", ".pt2", ".pkl"))]


def test_a_codes_only_model_refuses_an_image_query(digits):
    images, labels = digits
    codes = np.packbits(images[:, 0, :] > 8, axis=1)          # any 8-bit codes
    model = hv.from_arrays(codes[:200], codes[200:], database_labels=labels[:200], query_labels=labels[200:])
    with pytest.raises(hv.HashvizError, match="has no network to encode an image query"):
        hv.neighbours(model, images[0])


def test_datasets_arrays_and_image_files_give_the_same_codes(digits, tmp_path):
    images, labels = digits
    array = hv.from_network(_net(), images[:60], images[60:80], database_labels=labels[:60],
                            query_labels=labels[60:80], batch_size=7)

    class Digits(torch.utils.data.Dataset):
        def __len__(self):
            return 60

        def __getitem__(self, i):
            return torch.from_numpy(images[i].copy()).float()[None] / 255.0, int(labels[i])

    paths = []
    for i in range(60, 80):
        Image.fromarray(images[i]).save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    mixed = hv.from_network(_net(), Digits(), paths, query_labels=labels[60:80], name="mixed")
    np.testing.assert_array_equal(mixed.database_codes, array.database_codes)
    np.testing.assert_array_equal(mixed.query_codes, array.query_codes)
    np.testing.assert_array_equal(mixed.database_labels, labels[:60])


# ---------------------------------------------------------------- crafted files

class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _with_graph(model_dir, change):
    """Rewrite the stored graph of a copy of a saved network model with `change(graph)`."""
    weights = load_file(str(model_dir / "weights.safetensors"))
    graph = json.loads(weights[GRAPH_TENSOR].tobytes())
    change(graph)
    weights[GRAPH_TENSOR] = np.frombuffer(json.dumps(graph).encode(), dtype=np.uint8).copy()
    save_file(weights, str(model_dir / "weights.safetensors"))


def _first_node(graph):
    return graph["graph_module"]["graph"]["nodes"][0]


@pytest.mark.parametrize("attack, refusal", [
    ("pickle", "weights.safetensors"),
    ("os.system", "calls 'torch.os.system'"),
    ("sympy", "argument of kind as_sym_int"),
    ("guards", "guards_code"),
    ("name", "is not an identifier"),
])
def test_crafted_network_files_are_refused_and_never_run(saved, tmp_path, attack, refusal):
    from torch._export.serde.serialize import GraphModuleDeserializer
    assert GraphModuleDeserializer().deserialize_operator("torch.os.system") is os.system   # torch alone would run it
    marker = tmp_path / "marker"
    model_dir = tmp_path / "model"
    saved.save(model_dir)
    command = f"__import__('os').system('touch {marker}')"
    if attack == "pickle":
        (model_dir / "weights.safetensors").write_bytes(pickle.dumps(_Payload(marker)))
    elif attack == "os.system":
        _with_graph(model_dir, lambda g: _first_node(g).update(
            target="torch.os.system", inputs=[{"name": "command", "arg": {"as_string": f"touch {marker}"}, "kind": 1}]))
    elif attack == "sympy":
        _with_graph(model_dir, lambda g: _first_node(g)["inputs"].append(
            {"name": "size", "arg": {"as_sym_int": {"as_expr": {"expr_str": command}}}, "kind": 1}))
    elif attack == "guards":
        _with_graph(model_dir, lambda g: g.update(guards_code=[command]))
    else:
        _with_graph(model_dir, lambda g: _first_node(g)["outputs"][0]["as_tensor"].update(name=f"x; {command}"))
    with pytest.raises(hv.HashvizError, match=refusal):
        model = hv.load(model_dir)
        load_encoder(model).outputs(np.zeros((1, 8, 8), dtype=np.uint8))
    assert not marker.exists()


def test_the_app_answers_an_uploaded_query_with_a_saved_network(saved, digits, tmp_path, monkeypatch):
    """Retrieval's upload path (decode, the model's encoder, the index) on a from_network model."""
    import io
    from streamlit.testing.v1 import AppTest
    from app_support import REPO
    images, _ = digits
    saved.save(tmp_path / "root" / "digits-net")
    monkeypatch.setenv("HASHVIZ_MODELS", str(tmp_path / "root"))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/retrieval.py")
    at.run()
    at.radio(key="rq_mode").set_value("Upload")
    at.run()
    picture = io.BytesIO()
    Image.fromarray(images[207]).save(picture, format="PNG")
    at.file_uploader(key="rq_file").upload("query.png", picture.getvalue(), "image/png")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    expected = hv.neighbours(saved, images[207], n=20)["database_row"].tolist()
    assert at.dataframe[0].value["database_index"].tolist() == expected


def test_a_torch_export_archive_in_a_model_directory_is_refused_unopened(saved, tmp_path):
    """torch.export.save's .pt2 keeps the weights as pickles: hashviz neither opens nor accepts one."""
    marker = tmp_path / "marker"
    model_dir = tmp_path / "model"
    saved.save(model_dir)
    (model_dir / "network.pt2").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(hv.HashvizError, match="network.pt2: pickle-format files are never loaded"):
        hv.load(model_dir)
    assert not marker.exists()


def test_a_function_transform_encodes_in_the_session_and_saves_codes_only(digits, tmp_path):
    images, labels = digits
    with pytest.warns(UserWarning, match="Model.save stores codes only"):
        model = hv.from_network(_net(), images[:50], images[50:60], database_labels=labels[:50],
                                query_labels=labels[50:60], transform=lambda batch: 1.0 - batch, name="inverted")
    with torch.no_grad():
        out = _net().eval()(1.0 - torch.from_numpy(images[50:60].copy()).float()[:, None] / 255.0).numpy()
    np.testing.assert_array_equal(model.query_codes, np.packbits(out > 0, axis=1))
    top = hv.neighbours(model, images[53], n=5)             # the live network, transform included
    np.testing.assert_array_equal(top["database_row"], hv.neighbours(model, ("query", 3), n=5)["database_row"])
    saved = hv.load(model.save(tmp_path / "inverted"))
    assert not saved.has_weights
    with pytest.raises(hv.HashvizError, match="has no network to encode an image query"):
        hv.neighbours(saved, images[53])
