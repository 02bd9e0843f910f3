import time

import numpy as np
import pytest

from hashviz.codes import pack_bits01
from hashviz.hamming import hamming_distances
from hashviz.errors import HashvizError
from hashviz.projection import (cached_projection, neighbours_correct, project_array, project_codes,
                                projection_cache_path, sample_rows)


def codes_of(n, b=32, seed=0):
    return pack_bits01(np.random.default_rng(seed).integers(0, 2, (n, b)).astype(np.uint8))


def test_sample_rows_sorted_seeded():
    r = sample_rows(1000, 100, seed=3)
    assert r.dtype == np.int64 and r.shape == (100,)
    assert (np.diff(r) > 0).all() and r.min() >= 0 and r.max() < 1000
    assert (r == sample_rows(1000, 100, seed=3)).all()
    assert not (r == sample_rows(1000, 100, seed=4)).all()
    assert (sample_rows(5, 10, 0) == np.arange(5)).all()
    assert (sample_rows(5, None, 0) == np.arange(5)).all()


def test_pca_projection_shapes_and_separation():
    x = np.zeros((40, 16), np.uint8)
    x[20:] = 1
    xy = project_codes(pack_bits01(x), "pca")
    assert xy.dtype == np.float32 and xy.shape == (40, 2)
    assert abs(xy[:20, 0].mean() - xy[20:, 0].mean()) > 1
    # identical codes: zeros, no crash
    assert (project_codes(np.zeros((5, 2), np.uint8), "pca") == 0).all()
    a = project_array(np.random.default_rng(0).normal(size=(30, 4, 4)), "pca")
    assert a.shape == (30, 2) and a.dtype == np.float32
    with pytest.raises(HashvizError):
        project_codes(codes_of(10), "tsne")


def test_cache_hit_returns_identical_without_recompute(tmp_path):
    codes = codes_of(200)
    calls = []

    def compute(sample):
        calls.append(sample.shape)
        return np.random.default_rng(len(calls)).normal(size=(sample.shape[0], 2))

    path = projection_cache_path(codes, "umap", 50, 1, tmp_path)
    assert not path.exists()
    msgs = []
    xy, rows = cached_projection(codes, "umap", 50, 1, tmp_path, compute=compute,
                                 progress=lambda f, m: msgs.append(f))
    assert path.exists() and calls == [(50, 4)] and msgs == [0.0, 1.0]
    assert (rows == sample_rows(200, 50, 1)).all() and xy.dtype == np.float32
    xy2, rows2 = cached_projection(codes, "umap", 50, 1, tmp_path, compute=compute)
    assert len(calls) == 1
    assert np.array_equal(xy, xy2) and np.array_equal(rows, rows2)
    assert not list(tmp_path.glob("*.tmp"))
    # different content, seed or method -> different key
    other = codes.copy()
    other[0, 0] ^= 1
    assert projection_cache_path(other, "umap", 50, 1, tmp_path) != path
    assert projection_cache_path(codes, "umap", 50, 2, tmp_path) != path
    assert projection_cache_path(codes, "pca", 50, 1, tmp_path) != path
    assert projection_cache_path(codes, "umap", 50, 1, tmp_path, {"n_neighbors": 5}) != path


@pytest.mark.parametrize("garbage", [b"", b"not a numpy file at all", None])
def test_corrupt_cache_file_is_recomputed(tmp_path, garbage):
    codes = codes_of(60)
    path = projection_cache_path(codes, "pca", None, 0, tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if garbage is None:
        np.save(path, np.zeros((3, 2)))           # readable but wrong shape
    else:
        path.write_bytes(garbage)
    calls = []

    def compute(sample):
        calls.append(1)
        return np.ones((sample.shape[0], 2))

    xy, rows = cached_projection(codes, "pca", None, 0, tmp_path, compute=compute)
    assert calls == [1] and xy.shape == (60, 2) and (xy == 1).all()
    assert np.load(path, allow_pickle=False).shape == (60, 2)


def test_default_compute_pca_through_cache(tmp_path):
    codes = codes_of(100)
    xy, rows = cached_projection(codes, "pca", 80, 0, tmp_path)
    assert xy.shape == (80, 2)
    assert np.allclose(xy, project_codes(codes[rows], "pca"), atol=1e-5)


def brute_neighbours_correct(codes, labels, k):
    d = hamming_distances(codes, codes).astype(np.int64)
    n = len(codes)
    out = []
    for i in range(n):
        order = sorted((d[i, j], j) for j in range(n) if j != i)[:k]
        out.append(np.mean([labels[j] == labels[i] for _, j in order]))
    return np.array(out)


def test_neighbours_correct_matches_brute_force_with_ties():
    rng = np.random.default_rng(2)
    codes = pack_bits01(rng.integers(0, 2, (60, 8)).astype(np.uint8))   # 8 bits: many ties
    labels = rng.integers(0, 3, 60)
    got = neighbours_correct(codes, labels, k=10, chunk=7)
    assert np.allclose(got, brute_neighbours_correct(codes, labels, 10))
    rows = np.array([5, 0, 33])
    assert np.allclose(neighbours_correct(codes, labels, 10, rows=rows), got[rows])
    wide = pack_bits01(rng.integers(0, 2, (40, 96)).astype(np.uint8))     # two 64-bit words, padded
    assert np.allclose(neighbours_correct(wide, labels[:40], k=5), brute_neighbours_correct(wide, labels[:40], 5))


def test_neighbours_correct_hand_example():
    # rows 0,1 identical (label 0), row 2 identical too but label 1, row 3 far away (label 0)
    codes = np.array([[0], [0], [0], [255]], np.uint8)
    labels = np.array([0, 0, 1, 0])
    assert neighbours_correct(codes, labels, k=1).tolist() == [1.0, 1.0, 0.0, 1.0]
    # row 0 neighbours (k=2): rows 1, 2 -> 1/2
    assert neighbours_correct(codes, labels, k=2)[0] == 0.5


@pytest.mark.slow
def test_real_umap_hamming_on_300_points(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.integers(0, 2, (3, 32))
    labels = np.repeat(np.arange(3), 100)
    x = centres[labels] ^ (rng.random((300, 32)) < 0.05)
    codes = pack_bits01(x.astype(np.uint8))
    t = time.perf_counter()
    xy, rows = cached_projection(codes, "umap", None, 0, tmp_path, params={"n_neighbors": 15})
    print(f"UMAP (hamming) on 300 points: {time.perf_counter() - t:.1f} s")
    assert xy.shape == (300, 2) and np.isfinite(xy).all()
    # the three clusters stay apart: each point's nearest map neighbour has its label
    d = ((xy[:, None] - xy[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (labels[d.argmin(1)] == labels).mean() > 0.95
    again = project_codes(codes, "umap", n_neighbors=15, seed=0)
    assert np.allclose(again, xy, atol=1e-4)             # seeded: reproducible
