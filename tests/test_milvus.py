"""The Milvus backend against a real Milvus Lite engine (a .db file): results equal faiss flat's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from hashviz.errors import HashvizError  # noqa: E402
from hashviz.search.milvus import MilvusHammingIndex, codes_fingerprint, collection_name_for, push_codes  # noqa: E402
from hashviz.search import HammingIndex  # noqa: E402

BITS = 64


def _clustered(n, seed, centres=8, p=0.02):
    centre_bits = np.random.default_rng(7).integers(0, 2, (centres, BITS), dtype=np.uint8)
    rng = np.random.default_rng(seed)
    codes = np.packbits(centre_bits[rng.integers(0, centres, n)] ^ (rng.random((n, BITS)) < p), axis=1)
    codes[: n // 3 : 2] = codes[0]  # a tie group of n/6 identical codes
    return codes


def _random(n, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, BITS // 8), dtype=np.uint8)


DATA = {
    "random": (_random(3000, 0), _random(40, 1)),
    "clustered": (_clustered(3000, 0), np.concatenate([_clustered(37, 1), _clustered(3000, 0)[:3]])),
}


@pytest.fixture(scope="module")
def milvus(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("milvus") / "hashviz.db")
    calls = {}
    indexes = {}
    for name, (db, _) in DATA.items():
        calls[name] = []
        indexes[name] = HammingIndex(db, kind="milvus", uri=uri, collection=f"hv_test_{name}", batch_size=1000,
                                     progress=lambda done, total, c=calls[name]: c.append((done, total)))
    yield uri, indexes, calls
    for index in indexes.values():
        index.close()


def _flat(name):
    return HammingIndex(DATA[name][0], "flat")


@pytest.mark.parametrize("name", list(DATA))
def test_knn_equals_flat(milvus, name):
    _, indexes, _ = milvus
    index, flat = indexes[name], _flat(name)
    assert isinstance(index, MilvusHammingIndex) and index.kind == "milvus"
    queries = DATA[name][1]
    for k in (1, 10, 100, 1200):
        d, i = index.knn(queries, k)
        fd, fi = flat.knn(queries, k)
        assert d.dtype == np.int32 and i.dtype == np.int64
        np.testing.assert_array_equal(d, fd)
        np.testing.assert_array_equal(i, fi)


@pytest.mark.parametrize("name", list(DATA))
def test_radius_equals_flat(milvus, name):
    _, indexes, _ = milvus
    index, flat = indexes[name], _flat(name)
    queries = DATA[name][1]
    for r in range(4):
        for (ids, dist), (fids, fdist) in zip(index.radius(queries, r), flat.radius(queries, r)):
            assert ids.dtype == np.int64 and dist.dtype == np.int32
            np.testing.assert_array_equal(ids, fids)
            np.testing.assert_array_equal(dist, fdist)


def test_progress_and_properties(milvus):
    _, indexes, calls = milvus
    assert calls["random"] == [(0, 3000), (1000, 3000), (2000, 3000), (3000, 3000)]
    index = indexes["random"]
    assert index.ntotal == 3000 and index.bits == 64 and index.memory_bytes() == 3000 * 8


def test_open_existing_without_reinsert(milvus):
    uri, indexes, _ = milvus
    queries = DATA["clustered"][1]
    opened = MilvusHammingIndex.open(uri, "hv_test_clustered")
    again = HammingIndex(None, kind="milvus", uri=uri, collection="hv_test_clustered")
    assert opened.ntotal == again.ntotal == 3000 and opened.bits == 64
    want = _flat("clustered").knn(queries, 25)
    for index in (opened, again):
        d, i = index.knn(queries, 25)
        np.testing.assert_array_equal(d, want[0])
        np.testing.assert_array_equal(i, want[1])
    with pytest.raises(HashvizError, match="has no collection 'hv_missing'"):
        MilvusHammingIndex.open(uri, "hv_missing")


def test_ties_repaired_when_server_order_is_arbitrary(milvus):
    """Rows inserted in shuffled order: the server's order inside tie groups follows insertion, not id."""
    uri, _, _ = milvus
    from hashviz.search.milvus import _pymilvus, _schema

    pymilvus = _pymilvus()
    db = np.zeros((2400, 8), np.uint8)
    db[::3, 0] = 1
    db[1::3, 1] = 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = pymilvus.MilvusClient(uri=uri)
    if client.has_collection("hv_test_shuffled"):
        client.drop_collection("hv_test_shuffled")
    params = client.prepare_index_params()
    params.add_index(field_name="code", index_type="BIN_FLAT", metric_type="HAMMING")
    client.create_collection("hv_test_shuffled", schema=_schema(pymilvus, 64), index_params=params)
    order = np.random.default_rng(0).permutation(len(db))
    for s in range(0, len(db), 600):
        client.insert("hv_test_shuffled", [{"id": int(i), "code": db[i].tobytes()} for i in order[s:s + 600]])
    raw = client.search("hv_test_shuffled", data=[db[0].tobytes()], limit=10, anns_field="code",
                        search_params={"metric_type": "HAMMING"})
    assert [h["id"] for h in raw[0]] != list(range(0, 30, 3))  # the server does not give lowest ids first

    index = MilvusHammingIndex.open(uri, "hv_test_shuffled")
    flat = HammingIndex(db, "flat")
    queries = db[:6]
    for k in (1, 10, 799, 800, 801, 2000):
        d, i = index.knn(queries, k)
        fd, fi = flat.knn(queries, k)
        np.testing.assert_array_equal(d, fd)
        np.testing.assert_array_equal(i, fi)
    for (ids, dist), (fids, fdist) in zip(index.radius(queries, 1), flat.radius(queries, 1)):
        np.testing.assert_array_equal(ids, fids)
        np.testing.assert_array_equal(dist, fdist)


def test_push_codes_replaces_only_its_own_collection(milvus):
    uri, _, _ = milvus
    codes = _random(500, 3)
    first = push_codes(codes, uri, "hv_test_push")
    again = push_codes(codes, uri, "hv_test_push")        # the same codes: its own collection, re-pushed
    assert first.ntotal == again.ntotal == 500 and again.fingerprint == codes_fingerprint(codes)
    with pytest.raises(HashvizError, match="hashviz did not make for these codes; it is left as it is"):
        push_codes(_random(200, 4), uri, "hv_test_push")
    d, i = MilvusHammingIndex.open(uri, "hv_test_push").knn(codes[:5], 1)
    assert d[:, 0].tolist() == [0] * 5 and i[:, 0].tolist() == [0, 1, 2, 3, 4]


def test_a_collection_hashviz_did_not_make_is_never_dropped(milvus):
    """Someone else's collection (no hashviz tag) under the name the app wants: refused, rows kept."""
    uri, _, _ = milvus
    from hashviz.search.milvus import _pymilvus, _schema
    pymilvus = _pymilvus()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = pymilvus.MilvusClient(uri=uri)
    params = client.prepare_index_params()
    params.add_index(field_name="code", index_type="BIN_FLAT", metric_type="HAMMING")
    client.create_collection("hv_someone_elses", schema=_schema(pymilvus, 64), index_params=params)
    theirs = _random(30, 9)
    client.insert("hv_someone_elses", [{"id": i, "code": theirs[i].tobytes()} for i in range(30)])
    with pytest.raises(HashvizError, match="already has a collection 'hv_someone_elses' that hashviz did not"):
        push_codes(_random(30, 10), uri, "hv_someone_elses")
    assert client.has_collection("hv_someone_elses")
    kept = client.query("hv_someone_elses", filter="id >= 0", output_fields=["code"])
    assert sorted((r["id"], bytes(r["code"][0])) for r in kept) == [(i, theirs[i].tobytes()) for i in range(30)]


def test_retrained_model_is_never_served_its_old_codes(tiny_zoo, tmp_path):
    """Same directory, same number of codes, new codes: the app's Milvus index holds the new ones."""
    import shutil

    from hashviz.zoo import load_model_dir
    from pages.common import _milvus_index
    uri = str(tmp_path / "app.db")
    shutil.copytree(tiny_zoo / "dpsh-16", tmp_path / "m")
    before = load_model_dir(tmp_path / "m")
    _milvus_index("before", uri, before)
    np.save(tmp_path / "m" / "codes" / "database.npy", ~before.database_codes)   # "retrained": other codes
    after = load_model_dir(tmp_path / "m")
    index = _milvus_index("after", uri, after)
    queries = after.query_codes[:8]
    brute = np.unpackbits(queries[:, None] ^ after.database_codes[None], axis=2).sum(axis=2)
    d, i = index.knn(queries, 10)
    for q in range(len(queries)):    # the definition: distances to the new codes, ties by row id
        order = np.lexsort((np.arange(brute.shape[1]), brute[q]))[:10]
        assert i[q].tolist() == order.tolist() and d[q].tolist() == brute[q][order].tolist()


def test_server_token_goes_only_to_the_configured_uri(tmp_path, monkeypatch):
    import pymilvus

    sent = {}

    class Recording(pymilvus.MilvusClient):        # the real client; it only notes the token it was given
        def __init__(self, uri, token="", **kwargs):
            sent[uri] = token
            super().__init__(uri=uri, token=token, **kwargs)

    configured, typed = str(tmp_path / "server.db"), str(tmp_path / "typed-in-browser.db")
    monkeypatch.setattr(pymilvus, "MilvusClient", Recording)
    monkeypatch.setenv("HASHVIZ_MILVUS_URI", configured)
    monkeypatch.setenv("HASHVIZ_MILVUS_TOKEN", "root:s3cret")
    push_codes(_random(20, 5), typed, "hv_token_test")
    push_codes(_random(20, 5), configured, "hv_token_test")
    assert sent == {typed: "", configured: "root:s3cret"}


def test_errors(milvus):
    uri, indexes, _ = milvus
    with pytest.raises(HashvizError, match="query codes have 32 bits but the index holds 64-bit codes"):
        indexes["random"].knn(_random(3, 0)[:, :4], 3)
    with pytest.raises(HashvizError, match="invalid Milvus collection name"):
        HammingIndex(_random(10, 0), kind="milvus", uri=uri, collection="1-bad name")
    with pytest.raises(HashvizError, match="a Milvus uri is required"):
        HammingIndex(_random(10, 0), kind="milvus", collection="hv_x")
    with pytest.raises(HashvizError, match="database is empty"):
        HammingIndex(_random(10, 0)[:0], kind="milvus", uri=uri, collection="hv_x")


def test_unreachable_server_fails_clearly(capfd):        # how fast: bench/responsiveness.py
    with pytest.raises(HashvizError, match="cannot reach Milvus at 'http://127.0.0.1:1'"):
        HammingIndex(_random(10, 0), kind="milvus", uri="http://127.0.0.1:1", collection="hv_x", timeout=2)
    assert "[ERROR]" not in capfd.readouterr().err      # pymilvus's own log lines stay quiet: one error, ours


def test_the_cli_says_an_unreachable_milvus_in_one_line(tmp_path, tiny_zoo):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "hashviz.cli", "index", "push", str(tiny_zoo / "lsh-16"),
                           "--uri", "http://127.0.0.1:1"], capture_output=True, text=True, timeout=300)
    lines = [line for line in proc.stderr.replace("\r", "\n").splitlines() if line.strip() and "push:" not in line]
    assert proc.returncode != 0 and len(lines) == 1 and lines[0].startswith("hashviz: error: cannot reach Milvus")


def test_collection_name_for_model_directories(tmp_path):
    import re

    names = [collection_name_for(p) for p in
             ("models/dsh-64", "models/dsh_64", "/x/123abc", tmp_path / "a b ü", "m/" + "x" * 300, "plain_name")]
    for name in names:
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and len(name) <= 255
    assert names[0] != names[1]
    assert names[5] == "hv_plain_name"
    assert collection_name_for("models/dsh-64/") == names[0]
    a, b = _random(10, 1), _random(10, 2)
    assert collection_name_for("models/dsh-64", a) == f"{names[0]}_{codes_fingerprint(a)[:12]}"
    assert collection_name_for("models/dsh-64", a) != collection_name_for("models/dsh-64", b)


def test_backend_parity_finds_milvus_identical_to_flat(milvus):
    """The Milvus backend repairs tie order on the client (module docstring of hashviz.search.milvus), so
    the parity lens finds no difference at all, even when the top 50 is one big tie group."""
    from hashviz.lenses.parity import backend_parity
    _, indexes, _ = milvus
    db, queries = DATA["clustered"]
    for query in (queries[:1], queries[-3:-2], db[:1]):       # db[0]: the top 50 is one tie group at 0
        result = backend_parity({"flat": _flat("clustered"), "milvus": indexes["clustered"]}, query, 50, db)
        run = result.runs[1]
        assert run.error is None and run.differences == []
        assert run.verdict(result.reference) == "identical to the reference"
