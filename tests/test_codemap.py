"""hashviz.codemap (the Code map's glue: sources, disk cache, background jobs, colours, galleries)
and the model-level helpers the Diagnostics page uses (diagnose_model, tables, new figures)."""

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from hashviz import codemap, plots, projection
from hashviz.background import JobRunner
from hashviz.codes import pack_bits01, unpack_bits01
from hashviz.diagnostics import bit_table, bucket_table, diagnose, diagnose_model, primary_labels, summary_table
from hashviz.errors import HashvizError
from hashviz.search.pq import pq_reconstruct
from hashviz.zoo import load_model_dir


@pytest.fixture(scope="module")
def models(tiny_zoo):
    return {name: load_model_dir(tiny_zoo / name) for name in ("dpsh-16", "dpq-16", "lsh-16")}


@pytest.fixture
def no_umap(monkeypatch):
    """UMAP replaced by a counted, instant PCA (the real one is tested in test_projection)."""
    calls = []

    def fake(x, metric, n_neighbors, seed, min_dist, n_epochs):
        calls.append((x.shape, metric, n_epochs))
        return projection._pca(np.asarray(x, dtype=np.float64), seed) + 1.0
    monkeypatch.setattr(projection, "_umap", fake)
    return calls


def fake_model(codes01=None, labels=None, pq=None, outputs=None, out_rows=None, ids=None, tmp=None):
    """A stand-in with ModelDir's attributes for hand-made codes."""
    if pq is not None:
        codes, books = pq
        return SimpleNamespace(name="pq", path=tmp / "pq", code_type="pq", bits=16, database_codes=codes,
                               codebooks=books, database_labels=labels, database_ids=ids, outputs_sample=None,
                               outputs_sample_rows=None, dataset="digits", config={"pq": {"K": books.shape[1]}},
                               family="quantization")
    return SimpleNamespace(name="m", path=tmp / "m", code_type="binary", bits=codes01.shape[1],
                           database_codes=pack_bits01(codes01), codebooks=None, database_labels=labels,
                           database_ids=ids, outputs_sample=outputs, outputs_sample_rows=out_rows,
                           dataset="digits", config={}, family="pairwise", content_key=None)


# ----------------------------------------------------------------------------- cache location and keys

def test_cache_dir_is_the_models_root_dot_cache_unless_overridden(models, tiny_zoo, monkeypatch, tmp_path):
    monkeypatch.delenv(codemap.CACHE_ENV, raising=False)
    assert codemap.projection_cache_dir(models["dpsh-16"]) == tiny_zoo / ".cache" / "projections"
    monkeypatch.setenv(codemap.CACHE_ENV, str(tmp_path))
    assert codemap.projection_cache_dir(models["dpsh-16"]) == tmp_path


def test_projection_is_computed_once_then_read_from_disk(models, tmp_path, no_umap):
    m = models["dpsh-16"]
    assert codemap.load_code_map(m, "umap", 500, 0, cache_dir=tmp_path) is None
    messages = []
    xy, rows = codemap.code_map_projection(m, "umap", 500, 0, progress=lambda f, msg: messages.append(f),
                                           cache_dir=tmp_path)
    k = len(np.unique(m.database_codes, axis=0))                   # one point per distinct code
    assert len(no_umap) == 1 and no_umap[0] == ((min(500, k), 16), "hamming", codemap.UMAP_PARAMS["n_epochs"])
    assert xy.shape == (min(500, k), 2) and (rows == codemap.drawn_rows(m, 500)).all()
    assert codemap.code_map_cache_path(m, "umap", 500, 0, cache_dir=tmp_path).exists() and messages == [0.0, 1.0]
    xy2, rows2 = codemap.code_map_projection(m, "umap", 500, 0, cache_dir=tmp_path)
    assert len(no_umap) == 1 and np.array_equal(xy, xy2) and np.array_equal(rows, rows2)
    cached = codemap.load_code_map(m, "umap", 500, 0, cache_dir=tmp_path)
    assert np.array_equal(cached[0], xy) and np.array_equal(cached[1], rows)
    # another seed or sample size is another map
    assert codemap.load_code_map(m, "umap", 500, 1, cache_dir=tmp_path) is None
    assert codemap.load_code_map(m, "umap", k // 2, 0, cache_dir=tmp_path) is None


def test_zoo_builder_call_fills_the_cache_the_page_reads(models, tiny_zoo, monkeypatch, tmp_path, no_umap):
    monkeypatch.setenv(codemap.CACHE_ENV, str(tmp_path))
    m = models["lsh-16"]
    codemap.code_map_projection(m, method="umap")                  # exactly what zoo_build calls
    n = len(m.database_codes)                                      # digits: fewer rows than 5,000
    for size in (codemap.DEFAULT_SAMPLE, n, n + 10, None):         # "all rows" is one cache entry
        assert codemap.load_code_map(m, "umap", size, 0) is not None
    assert len(no_umap) == 1


@pytest.mark.slow
def test_real_umap_through_the_code_map_glue(models, tmp_path):
    """umap-learn itself (Hamming, seeded, UMAP_PARAMS): deterministic and finite; compiles on first use."""
    m = models["lsh-16"]
    start = time.perf_counter()
    xy, rows = codemap.code_map_projection(m, "umap", 300, 0, cache_dir=tmp_path)
    print(f"real UMAP of 300 tiny-zoo codes via code_map_projection: {time.perf_counter() - start:.1f} s")
    assert xy.shape == (300, 2) and np.isfinite(xy).all() and xy.std(axis=0).min() > 0
    again = projection.project_codes(m.database_codes[rows], "umap", seed=0, **codemap.UMAP_PARAMS)
    assert np.allclose(xy, again)


def test_sample_size_must_be_positive(models, tmp_path):
    with pytest.raises(HashvizError, match="at least 1"):
        codemap.code_map_projection(models["dpsh-16"], "pca", 0, cache_dir=tmp_path)
    with pytest.raises(HashvizError, match="source"):
        codemap.code_map_projection(models["dpsh-16"], "pca", 100, source="audio", cache_dir=tmp_path)


# ----------------------------------------------------------------------------- sources

def test_pixels_map_projects_the_code_maps_images(models, tmp_path, no_umap):
    from hashviz.data import load_dataset
    m, other = models["dpsh-16"], models["lsh-16"]
    ds = load_dataset("digits")
    xy, rows = codemap.code_map_projection(m, "pca", 300, 0, source="pixels", cache_dir=tmp_path)
    pixels = ds.images[m.database_ids[rows]].reshape(len(rows), -1).astype(np.float32) / 255
    assert np.allclose(xy, projection.project_array(pixels, "pca"), atol=1e-4)
    assert (rows == codemap.code_map_projection(m, "pca", 300, 0, cache_dir=tmp_path)[1]).all()  # the same images
    # keyed by the images drawn: another model's codes draw other rows, hence another file
    assert codemap.code_map_cache_path(other, "pca", 300, 0, "pixels", tmp_path) != \
        codemap.code_map_cache_path(m, "pca", 300, 0, "pixels", tmp_path)


def test_outputs_map_uses_the_code_maps_points_when_their_outputs_were_saved(tmp_path, no_umap):
    rng = np.random.default_rng(0)
    codes01 = rng.integers(0, 2, (100, 16)).astype(np.uint8)
    out_rows = np.arange(0, 100, 2, dtype=np.int64)                # outputs saved for even rows only
    outputs = rng.normal(size=(50, 16)).astype(np.float16)
    m = fake_model(codes01, np.arange(100) % 3, outputs=outputs, out_rows=out_rows, tmp=tmp_path)
    xy, rows = codemap.code_map_projection(m, "pca", None, 0, source="outputs", cache_dir=tmp_path)
    assert (rows == out_rows).all() and xy.shape == (50, 2)       # code sample (all rows) not covered
    # a sample inside the saved rows: exactly those points
    m.outputs_sample_rows = np.arange(100, dtype=np.int64)
    m.outputs_sample = rng.normal(size=(100, 16)).astype(np.float16)
    xy, rows = codemap.code_map_projection(m, "pca", 30, 0, source="outputs", cache_dir=tmp_path)
    assert (rows == codemap.drawn_rows(m, 30)).all()
    assert np.allclose(xy, projection.project_array(m.outputs_sample[rows].astype(np.float32), "pca"), atol=1e-3)
    m.outputs_sample = m.outputs_sample_rows = None
    with pytest.raises(HashvizError, match="no saved continuous outputs"):
        codemap.code_map_projection(m, "pca", 30, 0, source="outputs", cache_dir=tmp_path)
    with pytest.raises(HashvizError, match="without image ids"):
        codemap.code_map_projection(m, "pca", 30, 0, source="pixels", cache_dir=tmp_path)
    assert codemap.available_sources(m) == {"nothing": None}


def test_pq_reconstruct_hand_example():
    books = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)   # M=2, K=3, d_sub=2
    codes = np.array([[0, 2], [1, 0]], np.uint8)
    assert pq_reconstruct(codes, books).tolist() == [[0, 1, 10, 11], [2, 3, 6, 7]]
    with pytest.raises(HashvizError):
        pq_reconstruct(np.array([[3, 0]], np.uint8), books)


def test_pq_model_maps_its_reconstructions_never_hamming_indices(models, tmp_path, no_umap):
    m = models["dpq-16"]
    xy, rows = codemap.code_map_projection(m, "umap", 200, 0, cache_dir=tmp_path)
    assert no_umap[0][1] == "euclidean" and no_umap[0][0] == (200, m.codebooks.shape[0] * m.codebooks.shape[2])
    pca, _ = codemap.code_map_projection(m, "pca", 200, 0, cache_dir=tmp_path)
    expected = projection.project_array(pq_reconstruct(m.database_codes[rows], m.codebooks), "pca")
    assert np.allclose(pca, expected, atol=1e-4)
    assert "bit" not in codemap.colour_kinds(m) and "pq reconstructions" in codemap.map_title(m, "codes", "umap", 5)
    with pytest.raises(HashvizError, match="no bits"):
        codemap.color_values(m, rows, "bit")


# ----------------------------------------------------------------------------- background jobs

def test_map_or_start_shows_nothing_until_the_job_finished_then_the_map(models, tmp_path, monkeypatch):
    gate = threading.Event()

    def slow(x, metric, n_neighbors, seed, min_dist, n_epochs):
        gate.wait(10)
        return projection._pca(np.asarray(x, dtype=np.float64), seed)
    monkeypatch.setattr(projection, "_umap", slow)
    jobs, m = JobRunner(), models["dpsh-16"]
    found, job = codemap.map_or_start(jobs, m, "umap", 300, 0, cache_dir=tmp_path)
    assert found is None and job.state in ("queued", "running")
    assert codemap.map_or_start(jobs, m, "umap", 300, 0, cache_dir=tmp_path)[1] is job
    gate.set()
    for _ in range(500):
        if job.state == "done":
            break
        time.sleep(0.01)
    (xy, rows), pending = codemap.map_or_start(jobs, m, "umap", 300, 0, cache_dir=tmp_path)
    k = min(300, len(np.unique(m.database_codes, axis=0)))
    assert pending is None and xy.shape == (k, 2) and len(rows) == k


def test_a_failed_job_is_reported_once_then_retried(models, tmp_path, monkeypatch):
    def broken(*a):
        raise HashvizError("the UMAP projection produced NaN values; try PCA or another sample")
    monkeypatch.setattr(projection, "_umap", broken)
    jobs, m = JobRunner(), models["dpsh-16"]
    _, job = codemap.map_or_start(jobs, m, "umap", 300, 0, cache_dir=tmp_path)
    for _ in range(500):
        if job.state == "failed":
            break
        time.sleep(0.01)
    with pytest.raises(HashvizError, match="NaN"):
        codemap.map_or_start(jobs, m, "umap", 300, 0, cache_dir=tmp_path)
    _, again = codemap.map_or_start(jobs, m, "umap", 300, 0, cache_dir=tmp_path)
    assert again is not job


# ----------------------------------------------------------------------------- colours and selection

def test_colour_values_label_bit_and_neighbours_within_the_sample(models):
    m = models["dpsh-16"]
    rows = projection.sample_rows(len(m.database_codes), 400, 0)
    assert (codemap.color_values(m, rows, "label") == m.database_labels[rows]).all()
    bits = codemap.color_values(m, rows, "bit", bit=5)
    assert (bits == unpack_bits01(m.database_codes[rows], 16)[:, 5]).all()
    scores = codemap.color_values(m, rows, "correct")
    assert np.allclose(scores, projection.neighbours_correct(m.database_codes[rows], m.database_labels[rows], 10))
    with pytest.raises(HashvizError):
        codemap.color_values(m, rows, "bit", bit=16)
    with pytest.raises(HashvizError):
        codemap.color_values(m, rows, "hue")


def test_pq_neighbour_scores_match_brute_force(tmp_path):
    rng = np.random.default_rng(1)
    books = rng.normal(size=(2, 4, 3)).astype(np.float32)
    codes = rng.integers(0, 4, (60, 2)).astype(np.uint8)
    labels = rng.integers(0, 3, 60)
    m = fake_model(labels=labels, pq=(codes, books), tmp=tmp_path)
    rows = np.arange(0, 60, 2)
    got = codemap.neighbour_scores(m, rows, k=5)
    v = pq_reconstruct(codes[rows], books).astype(np.float64)
    d = np.round(((v[:, None] - v[None]) ** 2).sum(-1), 6)
    np.fill_diagonal(d, np.inf)
    for i in range(len(rows)):
        nn = np.lexsort((np.arange(len(rows)), d[i]))[:5]
        assert got[i] == pytest.approx((labels[rows][nn] == labels[rows][i]).mean())


def test_box_selection_event_maps_back_to_database_rows(models, tmp_path):
    """map rows -> figure customdata -> a Streamlit selection event -> the same database rows."""
    m = models["dpsh-16"]
    xy, rows = codemap.code_map_projection(m, "pca", 300, 0, cache_dir=tmp_path)
    fig = plots.code_map_figure(xy, rows, codemap.color_values(m, rows, "label"), "label", dragmode="select")
    assert fig.layout.dragmode == "select"
    inside = (xy[:, 0] > np.median(xy[:, 0])) & (xy[:, 1] > np.median(xy[:, 1]))
    points = []
    for curve, trace in enumerate(fig.data):                      # what plotly reports per trace
        for index, (x, y, cd) in enumerate(zip(trace.x, trace.y, trace.customdata)):
            if x > np.median(xy[:, 0]) and y > np.median(xy[:, 1]):
                points.append({"curve_number": curve, "point_index": index, "customdata": cd})
    event = {"selection": {"points": points, "box": [{}], "lasso": [], "point_indices": []}}
    assert sorted(plots.selected_rows(event).tolist()) == sorted(rows[inside].tolist())
    assert plots.selected_rows({"selection": {"points": []}}).size == 0


def test_gallery_thumbnails_captions_and_row_checks(models):
    from hashviz.data import load_dataset
    m, ds = models["dpsh-16"], load_dataset("digits")
    items = codemap.gallery(m, [5, 3, 7], ds, limit=2)
    assert [r for r, _, _ in items] == [5, 3]
    r, image, caption = items[0]
    assert image.shape == (80, 80) and image.dtype == np.uint8    # 8x8 digits scaled x10, nearest
    assert (image[::10, ::10] == ds.images[m.database_ids[5]]).all()
    assert caption == f"row 5 · {ds.class_names[m.database_labels[5]]}"
    assert codemap.gallery(m, [5], None)[0][1] is None            # no dataset: captions only
    assert codemap.row_choices(m, [7, 5], ds) == {7: codemap.gallery(m, [7], ds)[0][2], 5: caption}
    with pytest.raises(HashvizError, match="not a database row"):
        codemap.gallery(m, [10 ** 6], ds)
    assert codemap.thumbnail(np.zeros((30, 30, 3), np.uint8), 84).shape == (60, 60, 3)
    assert codemap.thumbnail(np.zeros((200, 200), np.uint8), 84).shape == (200, 200)


def test_primary_labels_of_multi_hot():
    multi = np.array([[0, 1, 1], [0, 0, 0], [1, 0, 0]])
    assert primary_labels(multi).tolist() == [1, -1, 0]
    assert primary_labels(np.array([2, 0])).tolist() == [2, 0]


# ----------------------------------------------------------------------------- diagnostics page helpers

def test_diagnose_model_deep_pq_and_shallow(models):
    deep = diagnose_model(models["dpsh-16"])
    assert deep.output_error is not None and deep.output_error.sign_agreement == pytest.approx(1.0)
    assert deep.balance is not None and deep.distances is not None and deep.usage is None
    pq = diagnose_model(models["dpq-16"])
    assert pq.usage.counts.shape == (2, 256) and pq.balance is None and pq.output_error is None
    assert any("codeword usage" in note for note in pq.notes)
    assert any("shallow" in note for note in diagnose_model(models["lsh-16"]).notes)


def test_tables_for_the_page_on_known_codes():
    x = np.zeros((6, 8), np.uint8)
    x[:, 0] = 1                                                    # bit 0 constant: dead
    x[3:, 1] = 1
    labels = np.array([0, 0, 1, 1, 1, 2])
    d = diagnose(pack_bits01(x), labels, 8, n_pairs=50)
    rows = bit_table(d.balance)
    assert len(rows) == 8 and rows[0]["dead"] and rows[1]["share of +1"] == 0.5 and not rows[1]["dead"]
    buckets = bucket_table(d.buckets, ["cat", "dog", "eel"])
    assert buckets[0]["items"] == 3 and buckets[0]["class counts"] == "cat ×2, dog ×1"   # ties: lowest row
    assert buckets[1]["class counts"] == "dog ×2, eel ×1" and buckets[1]["first row"] == 3
    table = summary_table({"a": d, "b": d})
    by_measure = {r["measure"]: r for r in table}
    assert by_measure["dead bits"]["a"] == "7" and by_measure["distinct codes (buckets)"]["b"] == "2"
    assert set(table[0]) == {"measure", "a", "b"}


def test_effective_bits_figure_writes_the_three_numbers():
    fig = plots.effective_bits_figure(32, 30.5, 21.25)
    assert fig.layout.title.text and len(fig.data) == 1
    assert list(fig.data[0].x) == [32.0, 30.5, 21.25] and list(fig.data[0].text) == ["32.0", "30.5", "21.2"]
    with pytest.raises(HashvizError):
        plots.effective_bits_figure(32, float("nan"), 3)


def test_output_error_per_bit_rows_sum_to_one():
    edges = np.linspace(0, 1, 5)
    hist = np.array([[4, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]])
    fig = plots.output_error_per_bit_figure(edges, hist)
    z = np.asarray(fig.data[0].z)
    assert z.shape == (3, 4) and z[0].tolist() == [1, 0, 0, 0] and z[1].tolist() == [0.25] * 4
    assert z[2].sum() == 0 and fig.layout.xaxis.title.text
    with pytest.raises(HashvizError):
        plots.output_error_per_bit_figure(edges, np.ones((2, 3)))


def test_bit_entropy_figure_marks_dead_bits():
    fig = plots.bit_entropy_figure([1.0, 0.0, 0.5], [False, True, False])
    assert list(fig.data[0].x) == [0, 2] and list(fig.data[1].x) == [1] and list(fig.data[1].text) == ["dead"]


def test_distinct_codes_count_each_code_once_most_frequent_first():
    from hashviz.distinct import count_of, distinct_codes
    codes = np.array([[1, 0], [2, 0], [1, 0], [3, 3], [2, 0], [1, 0]], dtype=np.uint8)
    d = distinct_codes(codes)
    assert d.rows.tolist() == [0, 1, 3] and d.counts.tolist() == [3, 2, 1]     # by hand
    np.testing.assert_array_equal(count_of(d, [3, 0]), [1, 3])
    assert d.describe(2) == ("6 items as 3 distinct codes; the 2 most frequent shown (5 items), each once at "
                             "its first row, sized by how many items share it; the other 1 codes (1 items) "
                             "are not drawn")
