"""The Python API (`import hashviz as hv`) against independent truth: import-codes and a plain mAP
reference for from_arrays, numpy popcount rankings for neighbours, two per-query evaluations written
out for compare, a real server's health check for launch_app."""

import socket
import subprocess
import sys
import urllib.request

import numpy as np
import pytest

import hashviz as hv
from export_fixtures import reference_map_all, write_deephash_export
from hashviz.cli import main
from hashviz.importing import find_deephash_arrays, import_codes
from hashviz.zoo import load_model_dir


def _reference_ap(query_bits, database_bits, query_labels, database_labels):
    """AP@all per query written out: Hamming distance by counting differing bits, ties by database
    row, relevant = same class (int labels) or a shared label (multi-hot), 0 without a relevant item."""
    aps = []
    for q, label in zip(query_bits, query_labels):
        dist = (database_bits != q).sum(1)
        order = np.lexsort((np.arange(len(dist)), dist))
        relevant = (database_labels[order] == label) if database_labels.ndim == 1 else \
            (database_labels[order] & label).any(1)
        hits = np.cumsum(relevant)
        aps.append(float((hits[relevant] / (np.flatnonzero(relevant) + 1)).mean()) if relevant.any() else 0.0)
    return np.array(aps)


def _popcount_distances(database_codes: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Hamming distance by popcount of XORed bytes (a 256-entry table), not hashviz's kernel."""
    table = np.array([bin(v).count("1") for v in range(256)], dtype=np.int64)
    return table[np.bitwise_xor(database_codes, code)].sum(1)


def _labelled_codes(seed=0, n_db=300, n_q=40, bits=16, classes=5, noise=0.2):
    rng = np.random.default_rng(seed)
    prototypes = rng.integers(0, 2, (classes, bits))
    labels = {"db": rng.integers(0, classes, n_db), "q": rng.integers(0, classes, n_q)}
    codes = {k: np.where(rng.random((len(v), bits)) < noise, 1 - prototypes[v], prototypes[v]) for k, v in labels.items()}
    return codes["db"], codes["q"], labels["db"], labels["q"]


def test_importing_hashviz_loads_neither_streamlit_nor_torch():
    code = ("import sys, hashviz as hv; hv.load; hv.from_arrays; hv.launch_app; "
            "print('streamlit' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_from_arrays_gives_the_map_of_import_codes_on_a_deephash_save(tmp_path):
    export = write_deephash_export(tmp_path / "export", n_db=60, n_q=12)
    out = tmp_path / "imported"
    assert main(["import-codes", "--deephash-dir", str(export.save), "--out", str(out)]) == 0
    imported = load_model_dir(out)
    files = {k: np.load(v) for k, v in find_deephash_arrays(export.save).items()}
    model = hv.from_arrays(files["database_codes"], files["query_codes"], database_labels=files["database_labels"],
                           query_labels=files["query_labels"], name="mine")
    expected = reference_map_all(export.query_codes, export.database_codes, export.query_labels, export.database_labels)
    assert hv.evaluate(model)["map_all"] == pytest.approx(expected, abs=1e-12)
    assert hv.evaluate(model)["map_all"] == imported.metrics["map_all"]
    np.testing.assert_array_equal(model.database_codes, imported.database_codes)
    per_query = hv.evaluate(model, per_query=True)
    reference = _reference_ap(export.query_codes > 0, export.database_codes > 0, export.query_labels,
                              export.database_labels)
    np.testing.assert_allclose(per_query["ap"], reference, atol=1e-12)


def test_from_arrays_takes_signs_bits_packed_and_tensors_alike():
    import torch
    db, q, db_labels, q_labels = _labelled_codes()
    forms = {"bits": (db, q), "signs": (2.0 * db - 1, 2.0 * q - 1), "packed": (np.packbits(db, 1), np.packbits(q, 1)),
             "tensor": (torch.sign(torch.tensor(db - 0.5)), torch.sign(torch.tensor(q - 0.5)))}
    expected = _reference_ap(q, db, q_labels, db_labels)
    for name, (d, qq) in forms.items():
        model = hv.from_arrays(d, qq, database_labels=db_labels, query_labels=q_labels, name=name)
        np.testing.assert_array_equal(model.database_codes, np.packbits(db, 1))
        np.testing.assert_allclose(hv.evaluate(model, per_query=True)["ap"], expected, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("codes, labels", [
    (np.full((4, 16), 3.0), np.arange(4)),                  # values other than 0/1 or -1/+1
    (np.ones((4, 12)), np.arange(5)),                        # more labels than codes
    (np.ones((4, 16)), np.full((4, 3), 2)),                  # labels that are neither ids nor 0/1
])
def test_from_arrays_refuses_with_the_message_of_import_codes(tmp_path, codes, labels):
    files = {"database_codes": codes, "database_labels": labels, "query_codes": np.ones((2, codes.shape[1])),
             "query_labels": np.arange(2)}
    for key, value in files.items():
        np.save(tmp_path / f"{key}.npy", value)
    with pytest.raises(hv.HashvizError) as cli_error:
        import_codes(out=tmp_path / "cli", **{k: tmp_path / f"{k}.npy" for k in files})
    with pytest.raises(hv.HashvizError) as api_error:
        hv.from_arrays(codes, files["query_codes"], database_labels=labels, query_labels=files["query_labels"])
    assert str(api_error.value) == str(cli_error.value)
    assert "\n" not in str(api_error.value)


def test_neighbours_equal_a_popcount_brute_force():
    db, q, db_labels, q_labels = _labelled_codes(seed=1, bits=8, noise=0.3)     # 8 bits: many ties
    model = hv.from_arrays(db, q, database_labels=db_labels, query_labels=q_labels,
                           class_names=["a", "b", "c", "d", "e"], name="ties")
    packed_db = np.packbits(db, 1)
    queries = {("query", 3): (np.packbits(q[3]), q_labels[3]), 7: (np.packbits(q[7]), q_labels[7]),
               ("database", 11): (packed_db[11], db_labels[11]), "code": (np.packbits(q[5]), None)}
    for query, (code, label) in queries.items():
        table = hv.neighbours(model, q[5] if query == "code" else query, n=25)
        dist = _popcount_distances(packed_db, code)
        order = np.lexsort((np.arange(len(dist)), dist))[:25]
        np.testing.assert_array_equal(table["database_row"], order)
        np.testing.assert_array_equal(table["distance"], dist[order])
        np.testing.assert_array_equal(table["tie_group_size"], [int((dist == dist[r]).sum()) for r in order])
        np.testing.assert_array_equal(table["rank"], np.arange(1, 26))
        assert list(table["labels"]) == ["abcde"[c] for c in db_labels[order]]
        if label is None:
            assert table["relevant"].isna().all()
        else:
            assert list(table["relevant"]) == list(db_labels[order] == label)
        assert table["image_path"].isna().all()


def test_neighbours_name_the_files_of_an_import_with_image_paths(tmp_path):
    db, q, db_labels, q_labels = _labelled_codes(seed=2, n_db=20, n_q=4)
    paths = [f"pics/{i}.png" for i in range(24)]
    model = hv.from_arrays(db, q, database_labels=db_labels, query_labels=q_labels, images=paths,
                           image_root=tmp_path, name="files")
    table = hv.neighbours(model, 0, n=5)
    assert list(table["image_path"]) == [str(tmp_path / "pics" / f"{r}.png") for r in table["database_row"]]


def test_compare_equals_two_per_query_evaluations():
    db, q, db_labels, q_labels = _labelled_codes(seed=3, n_q=60, bits=16, noise=0.25)
    db_b, q_b, _, _ = _labelled_codes(seed=4, n_q=60, bits=16, noise=0.45)
    a = hv.from_arrays(db, q, database_labels=db_labels, query_labels=q_labels, name="a")
    b = hv.from_arrays(db_b, q_b, database_labels=db_labels, query_labels=q_labels, name="b")
    table = hv.compare(a, b)
    ap_a, ap_b = _reference_ap(q, db, q_labels, db_labels), _reference_ap(q_b, db_b, q_labels, db_labels)
    np.testing.assert_allclose(table["ap_a"], ap_a, atol=1e-12)
    np.testing.assert_allclose(table["ap_b"], ap_b, atol=1e-12)
    expected_winner = np.where(np.abs(ap_a - ap_b) <= 1e-9, "tie", np.where(ap_a > ap_b, "A", "B"))
    assert list(table["winner"]) == list(expected_winner)
    top10 = {}
    for name, (dbc, qc) in {"a": (db, q), "b": (db_b, q_b)}.items():
        top10[name] = [int((db_labels[np.lexsort((np.arange(len(db)), (dbc != code).sum(1)))[:10]] == label).sum())
                       for code, label in zip(qc, q_labels)]
    assert list(table["relevant_top10_a"]) == top10["a"] and list(table["relevant_top10_b"]) == top10["b"]
    assert list(table["both_fail"]) == [x == 0 and y == 0 for x, y in zip(top10["a"], top10["b"])]
    assert table["ap_a"].mean() == pytest.approx(hv.evaluate(a)["map_all"], abs=1e-12)


def test_compare_refuses_models_over_different_queries():
    db, q, db_labels, q_labels = _labelled_codes(seed=5)
    a = hv.from_arrays(db, q, database_labels=db_labels, query_labels=q_labels, name="a")
    fewer = hv.from_arrays(db, q[:-1], database_labels=db_labels, query_labels=q_labels[:-1], name="fewer")
    relabelled = hv.from_arrays(db, q, database_labels=db_labels, query_labels=(q_labels + 1) % 5, name="relabelled")
    with pytest.raises(hv.HashvizError, match=r"cannot compare a and fewer: their query sets differ in size \(40 vs 39\)"):
        hv.compare(a, fewer)
    with pytest.raises(hv.HashvizError, match="their query labels differ"):
        hv.compare(a, relabelled)


def test_evaluate_offers_every_metric_lens_rule():
    db, q, db_labels, q_labels = _labelled_codes(seed=6, n_q=30)
    model = hv.from_arrays(db, q, database_labels=db_labels, query_labels=q_labels)
    reference = _reference_ap(q, db, q_labels, db_labels)
    assert hv.evaluate(model, rule="hashviz")["map_all"] == pytest.approx(reference.mean(), abs=1e-12)
    for rule in ("deephash-pytorch", "hashnet", "11-point"):
        series = hv.evaluate(model, rule=rule)
        per_query = hv.evaluate(model, rule=rule, per_query=True)
        assert series["queries"] == 30 and 0 < series["map"] <= 1
        assert per_query.iloc[:, 2].mean() == pytest.approx(series["map"], abs=1e-12)   # none dropped here
    with pytest.raises(hv.HashvizError, match="unknown rule 'map'"):
        hv.evaluate(model, rule="map")


def test_launch_app_serves_a_healthy_app_and_close_frees_the_port():
    db, q, db_labels, q_labels = _labelled_codes(seed=7)
    model = hv.from_arrays(db, q, database_labels=db_labels, query_labels=q_labels, name="served")
    with hv.launch_app([model]) as app:
        assert app.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(app.url + "/_stcore/health", timeout=5) as answer:
            assert answer.read() == b"ok"
        assert (app.models_root / "served" / "config.json").is_file()
        assert app.url in app._repr_html_() and "<iframe" in app._repr_html_()
    assert not app.running and not app.models_root.exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", app.port), timeout=2).close()
    with socket.socket() as again:      # a new server may take the port (SO_REUSEADDR, as servers bind)
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", app.port))


def test_launch_app_serves_a_models_root_as_a_demo(tmp_path):
    db, q, db_labels, q_labels = _labelled_codes(seed=8)
    hv.from_arrays(db, q, database_labels=db_labels, query_labels=q_labels, name="one").save(tmp_path / "root" / "one")
    app = hv.launch_app(tmp_path / "root", demo=True)
    try:
        assert app.models_root == (tmp_path / "root").resolve()
        with urllib.request.urlopen(app.url + "/_stcore/health", timeout=5) as answer:
            assert answer.read() == b"ok"
        with open(f"/proc/{app.process.pid}/environ", "rb") as environ:    # hashviz serve --demo's setting
            assert b"HASHVIZ_DEMO=1\x00" in environ.read()
    finally:
        app.close()
    assert (tmp_path / "root" / "one" / "config.json").is_file()      # a root of the user's is left as it was
    with pytest.raises(hv.HashvizError, match="is not a folder"):
        hv.launch_app(tmp_path / "nowhere")


def test_hv_neighbours_is_the_api_function_even_after_its_module_is_imported():
    import inspect

    import hashviz as hv
    import hashviz.api
    import hashviz.neighbour_table  # noqa: F401  (importing the table module must not shadow the function)
    assert inspect.isfunction(hv.neighbours) and hv.neighbours is hashviz.api.neighbours
