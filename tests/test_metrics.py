"""hashviz.metrics against slow, obviously-correct references and hand-computed cases."""

from __future__ import annotations

import importlib.util
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from hashviz.codes import pack_bits01
from hashviz.errors import HashvizError
from hashviz.metrics import (
    average_precision_per_query,
    evaluate,
    rank_database,
    relevance,
    tie_aware_ap_from_counts,
)

from reference import ref_all, ref_ap, ref_distances, ref_ranked_relevance, ref_relevant, ref_tie_aware_ap

TOL = 1e-10


# ------------------------------------------------------------------------------------------------
# Random inputs with many ties and queries without any relevant item
# ------------------------------------------------------------------------------------------------

def random_case(seed, n_q=12, n_db=40, bits=8, multilabel=False, one_prob=0.15):
    rng = np.random.default_rng(seed)
    # sparse bits: distances pile up on a few values, so ties are everywhere
    qc = pack_bits01((rng.random((n_q, bits)) < one_prob).astype(np.uint8))
    dc = pack_bits01((rng.random((n_db, bits)) < one_prob).astype(np.uint8))
    if multilabel:
        ql = (rng.random((n_q, 5)) < 0.25).astype(np.uint8)
        dl = (rng.random((n_db, 5)) < 0.25).astype(np.uint8)
        ql[0] = 0                               # no label at all: nothing is relevant
    else:
        ql = rng.integers(0, 4, n_q)
        dl = rng.integers(0, 4, n_db)
        ql[0] = 7                               # a class the database lacks
    return qc, dc, ql, dl


CASES = [
    pytest.param(dict(seed=s, multilabel=m, bits=b), id=f"{'multi' if m else 'single'}-{b}bit-{s}")
    for s, m, b in [(0, False, 8), (1, True, 8), (2, False, 16), (3, True, 24), (4, False, 72)]
]


def _close(a, b):
    return abs(float(a) - float(b)) <= TOL


# ------------------------------------------------------------------------------------------------
# Hand-computed cases
# ------------------------------------------------------------------------------------------------

def tiny_case():
    """One query (code 0) and five items at distances 1, 0, 1, 2, 1; items 2, 3, 4 relevant.

    Ranking: item 1 (d0), items 0, 2, 4 (d1, by index), item 3 (d2) -> relevance N N R R R.
    """
    q = pack_bits01(np.zeros((1, 8), dtype=np.uint8))
    bits = np.zeros((5, 8), dtype=np.uint8)
    bits[0, 0] = 1
    bits[2, 3] = 1
    bits[3, 1:3] = 1
    bits[4, 7] = 1
    return q, pack_bits01(bits), np.array([1]), np.array([0, 0, 1, 1, 1])


def test_hand_computed_tiny_case():
    res = evaluate(*tiny_case())
    # relevant at positions 3, 4, 5: AP = (1/3 + 2/4 + 3/5) / 3
    assert res["map_all"] == pytest.approx((1 / 3 + 2 / 4 + 3 / 5) / 3, abs=1e-15)
    assert res["map_1000"] == pytest.approx(res["map_all"], abs=1e-15)
    # tie group d1 (3 items, 2 relevant, 1 item before): orders give relevant positions
    # {2,3}: 1/2 + 2/3, {2,4}: 1/2 + 2/4, {3,4}: 1/3 + 2/4 -> mean 1; item at d2 adds 3/5
    assert res["map_tie_aware"] == pytest.approx((1 + 3 / 5) / 3, abs=1e-15)
    assert res["precision_at_k"] == pytest.approx({1: 0.0, 10: 0.6, 100: 0.6, 1000: 0.6})
    assert list(res["precision_at_k"]) == [1, 10, 100, 1000]
    assert res["p_h2"] == pytest.approx(0.6) and res["p_h2_empty"] == 0.0
    assert res["pr_curve"]["radius"] == list(range(9))
    assert res["pr_curve"]["precision"] == pytest.approx([0.0, 0.5] + [0.6] * 7)
    assert res["pr_curve"]["recall"] == pytest.approx([0.0, 2 / 3] + [1.0] * 7)


def test_top_k_ap_divides_by_relevant_items_in_the_top_k():
    q, d, ql, dl = tiny_case()
    assert average_precision_per_query(q, d, ql, dl, top_k=3)[0] == pytest.approx(1 / 3)
    assert average_precision_per_query(q, d, ql, dl, top_k=4)[0] == pytest.approx((1 / 3 + 2 / 4) / 2)
    assert average_precision_per_query(q, d, ql, dl, top_k=2)[0] == 0.0
    assert average_precision_per_query(q, d, ql, dl, top_k=99)[0] == pytest.approx(
        average_precision_per_query(q, d, ql, dl)[0])


def test_the_last_database_item_counts():
    # DeepHash-pytorch's bug dropped the last ranked item; here a relevant item ranked last counts
    q = pack_bits01(np.zeros((1, 8), dtype=np.uint8))
    d = pack_bits01(np.array([[0] * 8, [1] * 8], dtype=np.uint8))
    res = evaluate(q, d, np.array([3]), np.array([0, 3]))
    assert res["map_all"] == pytest.approx(0.5)


def test_query_without_relevant_items_contributes_zero():
    q, d, ql, dl = tiny_case()
    q2 = np.concatenate([q, q])
    ap = average_precision_per_query(q2, d, np.array([1, 5]), dl)
    assert ap[1] == 0.0
    res = evaluate(q2, d, np.array([1, 5]), dl)
    assert res["map_all"] == pytest.approx(ap[0] / 2)
    assert res["map_tie_aware"] == pytest.approx((1 + 3 / 5) / 3 / 2)
    assert res["pr_curve"]["recall"][-1] == pytest.approx(1.0)


def test_empty_hamming_balls_count_as_precision_zero():
    q = pack_bits01(np.ones((2, 8), dtype=np.uint8))
    d = pack_bits01(np.array([[0] * 8, [1] * 8], dtype=np.uint8))   # distances 8 and 0
    res = evaluate(q, d, np.array([0, 1]), np.array([0, 0]))
    # query 0: ball {item 1}, relevant; query 1: ball {item 1}, not relevant
    assert res["p_h2"] == pytest.approx(0.5) and res["p_h2_empty"] == 0.0
    q3 = pack_bits01(np.array([[1, 1, 1, 1, 0, 0, 0, 0]], dtype=np.uint8))   # distance 4 to both
    res = evaluate(q3, d, np.array([0]), np.array([0, 0]))
    assert res["p_h2"] == 0.0 and res["p_h2_empty"] == 1.0
    assert res["pr_curve"]["precision"][:4] == [0.0] * 4    # every ball empty -> 0 by definition
    assert res["pr_curve"]["precision"][4] == 1.0


def test_tie_aware_equals_plain_ap_when_there_are_no_ties():
    q = pack_bits01(np.zeros((1, 8), dtype=np.uint8))
    d = pack_bits01(np.tril(np.ones((9, 8), dtype=np.uint8), -1)[::-1].copy())  # distances 8..0
    labels = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1])
    ap = average_precision_per_query(q, d, np.array([1]), labels)
    ta = average_precision_per_query(q, d, np.array([1]), labels, tie_aware=True)
    assert ta[0] == pytest.approx(ap[0], abs=1e-14)


# ------------------------------------------------------------------------------------------------
# Against the references on random inputs
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
def test_map_matches_bruteforce_reference(case):
    qc, dc, ql, dl = random_case(**case)
    ref = ref_all(qc, dc, ql, dl)
    res = evaluate(qc, dc, ql, dl)
    assert _close(res["map_all"], ref["map_all"])
    assert _close(res["map_1000"], ref["map_1000"])
    ap = average_precision_per_query(qc, dc, ql, dl)
    assert np.allclose(ap, ref["ap_all"], rtol=0, atol=TOL)
    assert ap[0] == 0.0
    for k in (1, 3, 7, 25):
        want = [ref_ap(ref_ranked_relevance(dq, rq), k) for dq, rq in zip(ref["dist"], ref["rel"])]
        got = average_precision_per_query(qc, dc, ql, dl, top_k=k)
        assert np.allclose(got, want, rtol=0, atol=TOL), k


def test_evaluating_while_the_kernel_loads_in_the_background_matches_the_reference():
    """A trainer starts loading the compiled pass on a thread and may validate before it is done:
    each thread's results must still be the brute-force reference's."""
    import threading
    from hashviz.metrics import load_kernel_in_background
    cases = [random_case(**case.values[0]) for case in CASES]
    results = [None] * len(cases)

    def run(i):
        results[i] = evaluate(*cases[i])["map_all"]

    load_kernel_in_background()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(_close(got, ref_all(*case)["map_all"]) for got, case in zip(results, cases))


@pytest.mark.parametrize("case", CASES)
def test_tie_aware_map_matches_exact_enumeration(case):
    qc, dc, ql, dl = random_case(**case, n_q=6, n_db=14)
    dist, rel = ref_distances(qc, dc), ref_relevant(ql, dl)
    want = [ref_tie_aware_ap(dq, rq) for dq, rq in zip(dist, rel)]
    got = average_precision_per_query(qc, dc, ql, dl, tie_aware=True)
    assert np.allclose(got, want, rtol=0, atol=TOL)
    assert _close(evaluate(qc, dc, ql, dl)["map_tie_aware"], np.mean(want))


def test_tie_aware_map_matches_enumeration_of_all_permutations():
    # literal definition: average AP over every permutation inside every tie group
    qc, dc, ql, dl = random_case(seed=11, n_q=5, n_db=7, bits=8, one_prob=0.2)
    dist, rel = ref_distances(qc, dc), ref_relevant(ql, dl)
    got = average_precision_per_query(qc, dc, ql, dl, tie_aware=True)
    for q in range(len(dist)):
        groups = [[t for t in range(7) if dist[q][t] == d] for d in sorted(set(dist[q]))]
        aps = [ref_ap([rel[q][t] for g in perm for t in g])
               for perm in itertools.product(*(itertools.permutations(g) for g in groups))]
        assert got[q] == pytest.approx(np.mean(aps), abs=TOL)


def test_tie_aware_counts_formula_on_a_large_group():
    # 500 tied items of which 120 relevant behind 300 items with 40 relevant: per-position sum
    n, r, before, rel_before = 500, 120, 300, 40
    counts = np.array([[before, n]])
    rel_counts = np.array([[rel_before, r]])
    direct = sum((r / n) * (rel_before + 1 + (p - 1) * (r - 1) / (n - 1)) / (before + p)
                 for p in range(1, n + 1))
    # the first group (300 items, 40 relevant, nothing before)
    first = sum((40 / 300) * (1 + (p - 1) * 39 / 299) / p for p in range(1, 301))
    want = (first + direct) / (r + rel_before)
    assert tie_aware_ap_from_counts(counts, rel_counts)[0] == pytest.approx(want, abs=1e-13)


@pytest.mark.parametrize("case", CASES)
def test_hamming_ball_precision_recall_and_p_h2_match_reference(case):
    qc, dc, ql, dl = random_case(**case)
    ref = ref_all(qc, dc, ql, dl)
    res = evaluate(qc, dc, ql, dl)
    bits = qc.shape[1] * 8
    assert res["pr_curve"]["radius"] == list(range(bits + 1))
    assert np.allclose(res["pr_curve"]["precision"], ref["precision"], rtol=0, atol=TOL)
    assert np.allclose(res["pr_curve"]["recall"], ref["recall"], rtol=0, atol=TOL)
    assert _close(res["p_h2"], ref["p_h2"])
    assert _close(res["p_h2_empty"], ref["p_h2_empty"])


@pytest.mark.parametrize("case", CASES)
def test_precision_at_k_matches_reference_with_k_capped_to_database_size(case):
    qc, dc, ql, dl = random_case(**case)
    ref = ref_all(qc, dc, ql, dl)
    res = evaluate(qc, dc, ql, dl)
    assert set(res["precision_at_k"]) == {1, 10, 100, 1000}
    for k, v in ref["precision_at_k"].items():
        assert _close(res["precision_at_k"][k], v), k


def test_map_1000_and_precision_at_k_on_a_database_larger_than_1000():
    qc, dc, ql, dl = random_case(seed=5, n_q=4, n_db=1300, bits=16, one_prob=0.3)
    ref = ref_all(qc, dc, ql, dl)
    res = evaluate(qc, dc, ql, dl)
    assert not _close(res["map_1000"], res["map_all"])
    for key in ("map_all", "map_1000", "p_h2", "p_h2_empty"):
        assert _close(res[key], ref[key]), key
    for k, v in ref["precision_at_k"].items():
        assert _close(res["precision_at_k"][k], v), k


@pytest.mark.parametrize("multilabel", [False, True])
def test_exclude_equals_deleting_the_row(multilabel):
    qc, dc, ql, dl = random_case(seed=7, n_q=10, n_db=30, bits=16, multilabel=multilabel)
    exclude = np.array([3, -1, 0, 29, 3, 12, -1, 5, 5, 17])
    res = evaluate(qc, dc, ql, dl, exclude=exclude)
    ref = ref_all(qc, dc, ql, dl, exclude=exclude)
    for key in ("map_all", "map_1000", "p_h2", "p_h2_empty"):
        assert _close(res[key], ref[key]), key
    assert np.allclose(res["pr_curve"]["precision"], ref["precision"], rtol=0, atol=TOL)
    assert np.allclose(res["pr_curve"]["recall"], ref["recall"], rtol=0, atol=TOL)
    for k, v in ref["precision_at_k"].items():
        assert _close(res["precision_at_k"][k], v), k
    # per query, the same as evaluating against the database with that row deleted
    for q in range(len(exclude)):
        keep = np.arange(len(dc)) != exclude[q]
        one = evaluate(qc[q:q + 1], dc[keep], ql[q:q + 1], dl[keep])
        ap = average_precision_per_query(qc[q:q + 1], dc, ql[q:q + 1], dl, exclude=exclude[q:q + 1])
        ta = average_precision_per_query(qc[q:q + 1], dc, ql[q:q + 1], dl,
                                         exclude=exclude[q:q + 1], tie_aware=True)
        assert _close(ap[0], one["map_all"]) and _close(ta[0], one["map_tie_aware"])


def test_exclude_with_a_one_item_database_gives_zeros():
    q, d, ql, dl = tiny_case()
    res = evaluate(q, d[:1], ql, np.array([1]), exclude=np.array([0]))
    assert res["map_all"] == 0.0 and res["precision_at_k"][1] == 0.0 and res["p_h2_empty"] == 1.0


# ------------------------------------------------------------------------------------------------
# Helpers, output format, input checks
# ------------------------------------------------------------------------------------------------

def test_rank_database_orders_by_distance_then_index():
    order = rank_database(np.array([3, 1, 3, 0, 1, 3], dtype=np.uint8))
    assert order.dtype == np.int64
    assert order.tolist() == [3, 1, 4, 0, 2, 5]


def test_relevance_is_same_label_or_a_shared_label():
    assert relevance(np.array([1, 2]), np.array([2, 1, 1])).tolist() == [[False, True, True],
                                                                         [True, False, False]]
    q = np.array([[1, 0, 1], [0, 0, 0]])
    d = np.array([[0, 0, 1], [0, 1, 0], [1, 1, 1]])
    r = relevance(q, d)
    assert r.dtype == bool and r.tolist() == [[True, False, True], [False, False, False]]


def test_results_are_plain_json_floats():
    qc, dc, ql, dl = random_case(seed=9, multilabel=True)
    res = evaluate(qc, dc, ql, dl)
    assert set(res) == {"map_all", "map_1000", "map_tie_aware", "map_tie_min", "map_tie_max", "p_h2",
                        "p_h2_empty", "precision_at_k", "pr_curve"}
    for key in ("map_all", "map_1000", "map_tie_aware", "map_tie_min", "map_tie_max", "p_h2", "p_h2_empty"):
        assert type(res[key]) is float
    assert all(type(k) is int and type(v) is float for k, v in res["precision_at_k"].items())
    assert all(type(v) is float for v in res["pr_curve"]["precision"] + res["pr_curve"]["recall"])
    assert len(res["pr_curve"]["precision"]) == len(res["pr_curve"]["recall"]) == 9
    json.dumps(res)


def test_256_bit_codes_are_handled():
    qc, dc, ql, dl = random_case(seed=8, n_q=3, n_db=20, bits=256, one_prob=0.5)
    ref = ref_all(qc, dc, ql, dl)
    res = evaluate(qc, dc, ql, dl)
    assert _close(res["map_all"], ref["map_all"]) and len(res["pr_curve"]["radius"]) == 257


def _bad(**change):
    qc, dc, ql, dl = random_case(seed=0, n_q=3, n_db=6)
    args = dict(query_codes=qc, database_codes=dc, query_labels=ql, database_labels=dl)
    args.update(change)
    return args


@pytest.mark.parametrize("args, message", [
    (_bad(query_codes=np.zeros((3, 1), dtype=np.int64)), "uint8"),
    (_bad(database_codes=np.zeros((6, 2), dtype=np.uint8)), "bits"),
    (_bad(query_labels=np.zeros(2, dtype=np.int64)), "rows"),
    (_bad(database_labels=np.zeros(7, dtype=np.int64)), "rows"),
    (_bad(query_codes=np.zeros((0, 1), dtype=np.uint8), query_labels=np.zeros(0, np.int64)), "empty"),
    (_bad(database_codes=np.zeros((0, 1), dtype=np.uint8),
          database_labels=np.zeros(0, np.int64)), "empty"),
    (_bad(query_labels=np.zeros((3, 4), dtype=np.uint8)), "same kind"),
    (_bad(query_labels=np.zeros((3, 4)), database_labels=np.zeros((6, 5))), "classes"),
    (_bad(query_labels=np.full((3, 4), 2), database_labels=np.zeros((6, 4))), "0 and 1"),
    (_bad(query_labels=np.zeros(3)), "integers"),
    (_bad(exclude=np.array([0, 6, -1])), "exclude"),
    (_bad(exclude=np.array([0, 1])), "exclude"),
])
def test_bad_inputs_raise_hashviz_error(args, message):
    with pytest.raises(HashvizError, match=message):
        evaluate(**args)


def test_bad_top_k_raises_hashviz_error():
    qc, dc, ql, dl = tiny_case()
    with pytest.raises(HashvizError, match="top_k"):
        average_precision_per_query(qc, dc, ql, dl, top_k=0)
    with pytest.raises(HashvizError, match="top_k=None"):
        average_precision_per_query(qc, dc, ql, dl, top_k=5, tie_aware=True)


def test_benchmark_baseline_agrees_on_a_small_run(capsys):
    path = Path(__file__).resolve().parents[1] / "bench" / "metrics.py"
    spec = importlib.util.spec_from_file_location("bench_metrics", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--queries", "30", "--database", "700", "--bits", "32", "--repeat", "1"]) == 0
    assert bench.main(["--queries", "20", "--database", "400", "--bits", "16", "--multilabel",
                       "--exclude", "--repeat", "1"]) == 0
    assert "ratio" in capsys.readouterr().out
