"""hashviz.search against a brute-force numpy Hamming ranking (np.lexsort by (id, distance))."""

from __future__ import annotations

import numpy as np
import pytest

import hashviz.search.base as search_base
from hashviz.errors import HashvizError
from hashviz.search import HammingIndex, PQIndex, get_search_threads, recall_at_k, set_search_threads

BITS = 64


def _clustered(n, seed, centres=12, p=0.02, bits=BITS, duplicates=True):
    """Codes near a few centres: many equal distances, plus exact duplicates (huge tie groups)."""
    centre_bits = np.random.default_rng(99).integers(0, 2, (centres, bits), dtype=np.uint8)
    rng = np.random.default_rng(seed)
    bits01 = centre_bits[rng.integers(0, centres, n)] ^ (rng.random((n, bits)) < p)
    codes = np.packbits(bits01, axis=1)
    if duplicates:
        codes[: n // 4 : 2] = codes[0]
    return codes


def _random(n, seed, bits=BITS):
    return np.random.default_rng(seed).integers(0, 256, (n, bits // 8), dtype=np.uint8)


DATA = {
    "random": (_random(2500, 0), _random(60, 1)),
    "clustered": (_clustered(2500, 0), np.concatenate([_clustered(57, 1), _clustered(2500, 0)[:3]])),
}


def _distances(queries, database):
    return np.unpackbits(queries[:, None, :] ^ database[None, :, :], axis=2).sum(axis=2).astype(np.int64)


def brute_knn(queries, database, k):
    dist = _distances(queries, database)
    ids = np.arange(database.shape[0])
    order = np.stack([np.lexsort((ids, row))[:k] for row in dist])
    return np.take_along_axis(dist, order, 1), order


def brute_radius(queries, database, r):
    dist = _distances(queries, database)
    out = []
    for row in dist:
        ids = np.flatnonzero(row <= r)
        order = np.lexsort((ids, row[ids]))
        out.append((ids[order], row[ids][order]))
    return out


@pytest.fixture(scope="module")
def indexes():
    return {(name, kind): HammingIndex(db, kind) for name, (db, _) in DATA.items() for kind in ("flat", "hash", "ivf")}


# ------------------------------------------------------------------------------------- exact kinds

@pytest.mark.parametrize("data", list(DATA))
@pytest.mark.parametrize("kind", ["flat", "hash"])
@pytest.mark.parametrize("k", [1, 10, 100, 700])
def test_exact_knn_equals_brute_force(indexes, data, kind, k):
    db, queries = DATA[data]
    d, i = indexes[data, kind].knn(queries, k)
    bd, bi = brute_knn(queries, db, k)
    assert d.dtype == np.int32 and i.dtype == np.int64 and d.shape == (len(queries), k)
    np.testing.assert_array_equal(d, bd)
    np.testing.assert_array_equal(i, bi)


def test_clustered_data_really_has_ties_at_the_boundary():
    db, queries = DATA["clustered"]
    bd, _ = brute_knn(queries, db, 10)
    dist = _distances(queries, db)
    group = (dist == bd[:, -1:]).sum(axis=1)
    assert (group > 10).mean() > 0.5  # most queries cut a tie group at k = 10


@pytest.mark.parametrize("data", list(DATA))
def test_flat_repaired_path_equals_brute_force(monkeypatch, data):
    """The path used if faiss ever stopped keeping the lowest ids at the k-th distance."""
    db, queries = DATA[data]
    monkeypatch.setattr(search_base, "_FAISS_TIES_EXACT", False)
    index = HammingIndex(db, "flat")
    for k in (1, 10, 300):
        d, i = index.knn(queries, k)
        bd, bi = brute_knn(queries, db, k)
        np.testing.assert_array_equal(d, bd)
        np.testing.assert_array_equal(i, bi)


def test_faiss_keeps_lowest_ids_in_ties():
    assert search_base._faiss_ties_exact() is True


@pytest.mark.parametrize("data", list(DATA))
@pytest.mark.parametrize("kind", ["flat", "hash"])
def test_radius_equals_brute_force(indexes, data, kind):
    db, queries = DATA[data]
    for r in range(4):
        got = indexes[data, kind].radius(queries, r)
        want = brute_radius(queries, db, r)
        assert len(got) == len(queries)
        for (ids, dist), (bids, bdist) in zip(got, want):
            assert ids.dtype == np.int64 and dist.dtype == np.int32
            np.testing.assert_array_equal(ids, bids)
            np.testing.assert_array_equal(dist, bdist)


def test_hash_fallbacks_stay_exact():
    db, queries = DATA["clustered"]
    index = HammingIndex(db, "hash", hash_bits=12, max_flips=0)  # knn settles almost nothing by probing
    d, i = index.knn(queries, 50)
    bd, bi = brute_knn(queries, db, 50)
    np.testing.assert_array_equal(d, bd)
    np.testing.assert_array_equal(i, bi)
    r = 9  # enumerating 9 flips of a 12-bit key costs more than the buckets: exact scan instead
    assert r > index._max_probe_radius()
    for (ids, dist), (bids, bdist) in zip(index.radius(queries, r), brute_radius(queries, db, r)):
        np.testing.assert_array_equal(ids, bids)
        np.testing.assert_array_equal(dist, bdist)


# ------------------------------------------------------------------------------------- ivf

def test_ivf_recall_on_clustered_codes(indexes):
    db, queries = DATA["clustered"]
    index = indexes["clustered", "ivf"]
    d, i = index.knn(queries, 10)
    bd, bi = brute_knn(queries, db, 10)
    assert recall_at_k(bd, d) >= 0.95
    valid = i >= 0
    np.testing.assert_array_equal(d[valid], _distances(queries, db)[np.nonzero(valid)[0], i[valid]])
    assert index.exact is False and index.nprobe >= 1


def test_ivf_nprobe_all_lists_is_exact():
    db, queries = DATA["random"]
    index = HammingIndex(db, "ivf", nlist=8)
    index.nprobe = 8
    d, i = index.knn(queries, 10)
    bd, _ = brute_knn(queries, db, 10)
    np.testing.assert_array_equal(d, bd)
    with pytest.raises(HashvizError, match="nprobe must be an integer >= 1"):
        index.nprobe = 0


def test_recall_at_k_counts_ties_and_misses():
    exact = np.array([[0, 1, 1]])
    assert recall_at_k(exact, np.array([[0, 1, 1]])) == 1.0
    assert recall_at_k(exact, np.array([[0, 1, np.iinfo(np.int32).max]])) == pytest.approx(2 / 3)


# ------------------------------------------------------------------------------------- PQ

def _pq_data(seed, n=1500, m=4, kk=16, d_sub=3):
    rng = np.random.default_rng(seed)
    # integer-valued floats: every sum is exact in float32, so the ranking must match exactly
    codebooks = rng.integers(-4, 5, (m, kk, d_sub)).astype(np.float32)
    codes = rng.integers(0, kk, (n, m), dtype=np.uint8)
    codes[: n // 3 : 3] = codes[1]  # duplicate codes: equal distances, ties by id
    queries = rng.integers(-3, 4, (40, m * d_sub)).astype(np.float32)
    return codes, codebooks, queries


def _pq_brute(codes, codebooks, queries, metric, k):
    m = codebooks.shape[0]
    x = np.concatenate([codebooks[j][codes[:, j]] for j in range(m)], axis=1).astype(np.float64)
    q = queries.astype(np.float64)
    dist = -(q @ x.T) if metric == "ip" else ((q[:, None, :] - x[None]) ** 2).sum(-1)
    ids = np.arange(len(codes))
    order = np.stack([np.lexsort((ids, row))[:k] for row in dist])
    return np.take_along_axis(dist, order, 1), order


@pytest.mark.parametrize("metric", ["ip", "l2"])
@pytest.mark.parametrize("k", [1, 10, 200])
def test_pq_asymmetric_knn_equals_brute_force(metric, k):
    codes, codebooks, queries = _pq_data(3)
    index = PQIndex(codes, codebooks, metric=metric)
    d, i = index.knn(queries, k)
    bd, bi = _pq_brute(codes, codebooks, queries, metric, k)
    assert d.dtype == np.float32 and i.dtype == np.int64
    np.testing.assert_array_equal(d, bd.astype(np.float32))
    np.testing.assert_array_equal(i, bi)


def test_pq_default_metric_is_l2_as_models_are_trained_and_float_codebooks_agree():
    rng = np.random.default_rng(5)
    codebooks = rng.normal(size=(8, 256, 4)).astype(np.float32)
    codes = rng.integers(0, 256, (2000, 8), dtype=np.uint8)
    queries = rng.normal(size=(20, 32)).astype(np.float32)
    index = PQIndex(codes, codebooks)
    assert index.metric == "l2" and index.dim == 32 and index.bytes_per_code > 8
    d, i = index.knn(queries, 20)
    bd, bi = _pq_brute(codes, codebooks, queries, "l2", 20)
    np.testing.assert_allclose(d, bd, rtol=1e-4, atol=1e-4)
    assert (i == bi).mean() > 0.99  # only float rounding can swap near-equal neighbours
    from hashviz.methods.quantization import DPQ
    assert DPQ(16).extra_config()["pq"]["metric"] == index.metric      # what trained models store


def test_pq_errors():
    codes, codebooks, queries = _pq_data(0)
    with pytest.raises(HashvizError, match="sub-codes but the codebooks have M=4"):
        PQIndex(codes[:, :3], codebooks)
    with pytest.raises(HashvizError, match="only K=16 codewords"):
        PQIndex(codes + 16, codebooks)
    with pytest.raises(HashvizError, match="unknown PQ metric"):
        PQIndex(codes, codebooks, metric="cosine")
    with pytest.raises(HashvizError, match="database is empty"):
        PQIndex(codes[:0], codebooks)
    with pytest.raises(HashvizError, match=r"query vectors must be \(nq, 12\)"):
        PQIndex(codes, codebooks).knn(queries[:, :5], 3)
    with pytest.raises(HashvizError, match="k must be >= 1"):
        PQIndex(codes, codebooks).knn(queries, 0)


# ------------------------------------------------------------------------------------- interface

def test_properties_and_memory(indexes):
    for (name, kind), index in indexes.items():
        assert index.bits == 64 and index.ntotal == 2500 and index.kind == kind
        assert index.memory_bytes() >= 2500 * 8
    assert indexes["random", "flat"].bytes_per_code == 8
    assert indexes["random", "flat"].exact and indexes["random", "hash"].exact


def test_k_larger_than_database_is_clipped(indexes):
    db, queries = DATA["clustered"]
    d, i = indexes["clustered", "flat"].knn(queries[:3], 10 ** 6)
    assert d.shape == (3, len(db))
    np.testing.assert_array_equal(np.sort(i, axis=1), np.broadcast_to(np.arange(len(db)), (3, len(db))))
    bd, bi = brute_knn(queries[:3], db, len(db))
    np.testing.assert_array_equal(i, bi)


def test_single_query_vector_and_no_queries(indexes):
    db, _ = DATA["random"]
    d, i = indexes["random", "flat"].knn(db[5], 1)
    assert d.tolist() == [[0]] and i.tolist() == [[5]]
    d, i = indexes["random", "flat"].knn(db[:0], 4)
    assert d.shape == (0, 4) and indexes["random", "flat"].radius(db[:0], 1) == []


def test_errors_are_clear(indexes):
    db, queries = DATA["random"]
    flat = indexes["random", "flat"]
    with pytest.raises(HashvizError, match="query codes have 32 bits but the index holds 64-bit codes"):
        flat.knn(queries[:, :4], 3)
    with pytest.raises(HashvizError, match="query codes have 32 bits but the index holds 64-bit codes"):
        flat.radius(queries[:, :4], 1)
    with pytest.raises(HashvizError, match="database is empty"):
        HammingIndex(db[:0], "flat")
    with pytest.raises(HashvizError, match="must be packed uint8"):
        HammingIndex(db.astype(np.int64), "hash")
    with pytest.raises(HashvizError, match="query codes must be packed uint8"):
        flat.knn(queries.astype(np.float32), 3)
    with pytest.raises(HashvizError, match="k must be >= 1, got 0"):
        flat.knn(queries, 0)
    with pytest.raises(HashvizError, match="k must be an integer"):
        flat.knn(queries, 2.5)
    with pytest.raises(HashvizError, match="radius must be >= 0 bits, got -1"):
        flat.radius(queries, -1)
    with pytest.raises(HashvizError, match="unknown index kind 'annoy'"):
        HammingIndex(db, "annoy")
    with pytest.raises(HashvizError, match="no database codes given"):
        HammingIndex(None, "flat")
    with pytest.raises(HashvizError, match="nprobe only applies to kind 'ivf'"):
        flat.nprobe = 4


def test_search_threads_configurable():
    assert get_search_threads() == 1  # the default: one faiss thread
    try:
        set_search_threads(2)
        assert get_search_threads() == 2
    finally:
        set_search_threads(1)
    with pytest.raises(HashvizError, match="positive integer"):
        set_search_threads(0)


def test_hashviz_search_does_not_import_streamlit():
    import subprocess
    import sys

    code = "import sys, hashviz.search; assert 'streamlit' not in sys.modules and 'pymilvus' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ivf_radius_is_a_subset_and_exact_with_all_lists():
    db, queries = DATA["clustered"]
    index = HammingIndex(db, "ivf", nlist=8, nprobe=2)
    want = brute_radius(queries, db, 2)
    for (ids, dist), (bids, _) in zip(index.radius(queries, 2), want):
        assert np.isin(ids, bids).all() and (dist <= 2).all()
    index.nprobe = 8
    for (ids, dist), (bids, bdist) in zip(index.radius(queries, 2), want):
        np.testing.assert_array_equal(ids, bids)
        np.testing.assert_array_equal(dist, bdist)


@pytest.mark.parametrize("kind", ["flat", "hash", "ivf"])
@pytest.mark.parametrize("n", [1, 5])
def test_tiny_databases(kind, n):
    db = _random(n, 7, bits=16)
    queries = _random(4, 8, bits=16)
    index = HammingIndex(db, kind)
    d, i = index.knn(queries, 3)
    bd, bi = brute_knn(queries, db, min(3, n))
    if kind == "ivf":
        assert d.shape == bd.shape
    else:
        np.testing.assert_array_equal(d, bd)
        np.testing.assert_array_equal(i, bi)
    assert len(index.radius(queries, 16)) == 4
