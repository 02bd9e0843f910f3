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
