"""Robustness of the Evaluate page's failure finder and metric lens and of the Code map: inputs that
used to crash a page or grow server memory (docs/reliability.md)."""

from pathlib import Path

import numpy as np
import pytest

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


# ------------------------------------------------------------------ the metric lens in bounded memory

def lens_rules():
    from hashviz import metric_rules as mr
    rules = [p.rule for p in mr.PRESETS.values()]
    for tie in ("index", "random", "worst", "best", "expected", "numpy-distance"):
        for measure in ("ap", "11-point"):
            if not (tie == "expected" and measure == "11-point"):
                rules += [mr.MetricRule(tie=tie, measure=measure, seed=4), mr.MetricRule(tie=tie, measure=measure,
                                                                                         cutoff=9, empty="drop")]
    return rules


def test_lens_scores_streamed_in_blocks_equal_the_whole_ranking_bit_for_bit(tmp_path, monkeypatch):
    """Scores from a cached whole ranking, from blocks of a few queries made one at a time, and from
    the plain per-rule loop (hashviz.metric_rules.score on rank_for_rule) are the same floats."""
    from hashviz import lens_scores as ls
    from hashviz import metric_rules as mr
    from hashviz.zoo import load_model_dir
    rng = np.random.default_rng(3)
    model = load_model_dir(imported_model(tmp_path, "tied", rng.integers(0, 3, 40), rng.integers(0, 3, 500)))
    rules = lens_rules()
    data = (model.query_codes, model.database_codes, model.query_labels, model.database_labels)
    expected = [mr.score(mr.rank_for_rule(*data, rule), rule) for rule in rules]
    whole = ls.lens_scores(model, rules, ls.ByteCache(64 << 20))
    monkeypatch.setattr(mr, "BLOCK_PAIRS", 37)                      # many blocks of one to a few queries
    streamed = ls.lens_scores(model, rules, ls.ByteCache(4096))     # too small to keep any ranking
    for rule, want, a, b in zip(rules, expected, whole, streamed):
        assert a.value == want.value == b.value, rule
        assert a.counted == want.counted == b.counted
        np.testing.assert_array_equal(a.per_query, want.per_query)
        np.testing.assert_array_equal(b.per_query, want.per_query)


def test_lens_keeps_a_ranking_only_when_it_fits_the_cache(tmp_path):
    from hashviz import lens_scores as ls
    from hashviz import metric_rules as mr
    from hashviz.zoo import load_model_dir
    rng = np.random.default_rng(5)
    model = load_model_dir(imported_model(tmp_path, "one-class", np.zeros(30, np.int64), np.zeros(400, np.int64),
                                          seed=int(rng.integers(99))))
    whole_bytes = 4 * 30 * 400 + 8 * 31 + 2 * 8 * 30 * 17        # every pair relevant: int32 ranks + counts
    assert ls.ranking_bytes(model) == whole_bytes
    small = ls.ByteCache(2 * whole_bytes - 1)                      # a ranking must fit half the cache
    ls.lens_scores(model, [mr.MetricRule(), mr.MetricRule(tie="random", seed=1)], small)
    assert small.get(("ranking", model.content_key, "index")) is None
    assert small.used_bytes <= small.budget and len(small) == 2     # the two scores only
    big = ls.ByteCache(2 * whole_bytes + 4096)
    ls.lens_scores(model, [mr.MetricRule()], big)
    assert big.get(("ranking", model.content_key, "index")) is not None


def test_byte_cache_evicts_least_recently_used_by_bytes():
    from hashviz.byte_cache import ENTRY_OVERHEAD, ByteCache
    cache = ByteCache(3 * (1000 + ENTRY_OVERHEAD))
    for key in "abc":
        assert cache.put(key, key, 1000)
    cache.get("a")                                                 # b is now the least recently used
    assert cache.put("d", "d", 1000)
    assert [cache.get(k) for k in "abcd"] == ["a", None, "c", "d"]
    assert not cache.put("huge", "x", 10_000) and cache.get("huge") is None
    assert cache.used_bytes == 3 * (1000 + ENTRY_OVERHEAD)


# ------------------------------------------------------------------ Code map: distinct codes, map jobs

def duplicated_codes_model(tmp_path):
    """A codes-only model whose 600 items fall on 40 codes (counts 1 .. 40ish), as a good model's do."""
    rng = np.random.default_rng(7)
    codebook = (rng.random((40, 16)) < 0.5).astype(np.uint8)
    which = np.minimum(rng.geometric(0.08, 600) - 1, 39)
    arrays = tmp_path / "dup-arrays"
    arrays.mkdir()
    np.save(arrays / "database_codes.npy", codebook[which])
    np.save(arrays / "database_labels.npy", which % 3)
    np.save(arrays / "query_codes.npy", codebook[:5])
    np.save(arrays / "query_labels.npy", np.arange(5) % 3)
    from hashviz.zoo import load_model_dir
    return load_model_dir(import_codes(*(arrays / f"{n}.npy" for n in ("database_codes", "database_labels",
                                                                        "query_codes", "query_labels")),
                                       out=tmp_path / "models" / "duplicates"))


def test_code_map_draws_each_distinct_code_once_sized_and_hovered_by_its_count(tmp_path):
    from hashviz import codemap, plots
    model = duplicated_codes_model(tmp_path)
    codes = model.database_codes
    rows = codemap.drawn_rows(model, 5000)                          # a small database: distinct codes too
    keys = [codes[r].tobytes() for r in rows]
    assert len(set(keys)) == len(keys) == len({c.tobytes() for c in codes})      # every code exactly once
    counts = [int((codes == codes[r]).all(1).sum()) for r in rows]
    assert all(int(np.flatnonzero((codes == codes[r]).all(1))[0]) == r for r in rows)   # at its first row
    assert counts == sorted(counts, reverse=True)                   # most frequent first
    note, sizes_of, counts_of = codemap.drawn_note(model, 5000)
    assert counts_of(rows).tolist() == counts and f"600 items as {len(rows)} distinct codes" in note
    assert np.all(np.diff(sizes_of(rows)) <= 0) and sizes_of(rows)[0] > sizes_of(rows)[-1]
    fig = plots.code_map_figure(np.zeros((len(rows), 2)), rows, counts=counts_of(rows))
    assert np.concatenate([t.customdata for t in fig.data]).tolist() == rows.tolist()     # the bare row ids
    assert np.concatenate([t.text for t in fig.data]).tolist() == [f"{c:,}" for c in counts]
    assert "items share this code" in fig.data[0].hovertemplate


def test_selecting_a_code_expands_to_exactly_the_rows_holding_it(tmp_path):
    from hashviz import codemap
    model = duplicated_codes_model(tmp_path)
    codes = model.database_codes
    for r in codemap.drawn_rows(model, 5000):
        brute = [i for i in range(len(codes)) if codes[i].tobytes() == codes[r].tobytes()]
        assert codemap.code_members(model, [r]).tolist() == brute
        assert codemap.code_members(model, [brute[-1]]).tolist() == brute        # any item of the code
    a, b = codemap.drawn_rows(model, 2)
    both = codemap.code_members(model, [b, a, b]).tolist()           # code by code, in selection order
    assert both == [i for i in range(len(codes)) if (codes[i] == codes[b]).all()] + \
        [i for i in range(len(codes)) if (codes[i] == codes[a]).all()]


def gate_job(jobs, key, gate):
    return jobs.submit(key, lambda: gate.wait(30), "a job that holds the worker")


def test_map_jobs_one_pending_per_session_and_a_global_cap(tmp_path):
    """Real PCA maps queued behind a job that holds the only worker, so every map stays pending."""
    import threading

    from hashviz import codemap
    from hashviz.map_jobs import MapJobs, MapsBusy
    model = duplicated_codes_model(tmp_path)
    gate = threading.Event()
    jobs = MapJobs(workers=1, max_pending=4)
    try:
        gate_job(jobs, "holder", gate)

        def ask(size, owner):
            return codemap.map_or_start(jobs, model, "pca", size, 0, cache_dir=tmp_path / "maps", owner=owner)[1]
        first = ask(10, "visitor-a")
        assert ask(20, "visitor-a") is first and ask(30, "visitor-a") is first     # a's later sizes wait
        assert len(jobs.pending()) == 2                                          # holder + a's first
        assert ask(10, "visitor-b") is first                                     # the same map is shared
        b = ask(20, "visitor-b")
        assert b is not first and ask(30, "visitor-c") is not None and len(jobs.pending()) == 4
        with pytest.raises(MapsBusy, match="computing 4 maps already"):
            ask(40, "visitor-d")
        gate.set()
        assert first.wait(30) and b.wait(30)
        assert ask(20, "visitor-a") is None                                      # b's map: ready for everyone
        fresh = ask(50, "visitor-a")                                             # a has nothing pending now
        assert fresh is not None and fresh is not first and fresh is not b and fresh.wait(30)
    finally:
        gate.set()


def test_demo_maps_take_a_few_fixed_point_counts(tmp_path):
    from hashviz import codemap
    from hashviz.errors import HashvizError
    from hashviz.map_jobs import DEMO_POINTS, MapJobs
    model = duplicated_codes_model(tmp_path)                               # 600 items
    demo = MapJobs(sizes=DEMO_POINTS)
    assert demo.size_choices(600) == [600] and demo.size_choices(69_000) == list(DEMO_POINTS)
    assert demo.size_choices(3_000) == [1_000, 2_000, 3_000]
    assert MapJobs().size_choices(600) is None
    for typed in (1, 100, 599):                 # every other count would be another job and map file
        with pytest.raises(HashvizError, match="maps of 600 points only"):
            codemap.map_or_start(demo, model, "pca", typed, 0, cache_dir=tmp_path / "maps")
    first = codemap.map_or_start(demo, model, "pca", 600, 0, cache_dir=tmp_path / "maps")[1]
    assert first.wait(30)
    for same in (601, None):                    # all items, whatever number says so: the same map
        assert codemap.map_or_start(demo, model, "pca", same, 0, cache_dir=tmp_path / "maps")[1] is None


def test_demo_code_map_offers_fixed_point_counts(tmp_path, monkeypatch):
    model = duplicated_codes_model(tmp_path)
    monkeypatch.setenv("HASHVIZ_DEMO", "1")
    monkeypatch.setenv("HASHVIZ_PROJECTION_CACHE", str(tmp_path / "maps"))
    at = app_on(model.path.parent, "pages/code_map.py", monkeypatch, model_name=model.name)
    points = at.selectbox(key=f"cm_points_{model.name}")
    assert points.options == ["600"] and not at.number_input
