"""The metric lens and the tie range against hand-computed cases, brute force over every tie order,
and independent re-statements of the published rules (DeepHash-pytorch's CalcTopMap, HashNet's
mean_average_precision, PASCAL VOC's 11-point interpolated precision)."""

import itertools
import json

import numpy as np
import pytest

from hashviz import metric_rules as M
from hashviz.cli import main
from hashviz.codes import pack_bits01
from hashviz.errors import HashvizError
from hashviz.metrics import evaluate, tie_range_per_query


def unpack_signs(packed):
    """+-1 float32 codes, as DeepHash-pytorch's compute_result returns them (sign of the outputs)."""
    return np.unpackbits(packed, axis=1).astype(np.float32) * 2 - 1


def docs_example():
    """docs/metrics.md's worked example: one query at 00000000, items at distances 1, 0, 1, 2, 1,
    items 2, 3, 4 relevant. Ranks: item 1 (d 0), items 0, 2, 4 (d 1), item 3 (d 2)."""
    q = pack_bits01(np.zeros((1, 8), dtype=np.uint8))
    d = pack_bits01(np.array([[1] * k + [0] * (8 - k) for k in (1, 0, 1, 2, 1)], dtype=np.uint8))
    return q, d, np.array([1]), np.array([0, 0, 1, 1, 1])


def lens(case, **rule):
    rule = M.MetricRule(**rule)
    return M.score(M.rank_for_rule(*case, rule), rule)


# ------------------------------------------------------------------ hand-computed cases

HAND = {   # (tie, cut-off): value, worked out by hand in the comments
    ("index", None): (1 / 3 + 2 / 4 + 3 / 5) / 3,        # N N R R R
    ("worst", None): (1 / 3 + 2 / 4 + 3 / 5) / 3,        # distance-1 group: relevant on ranks 3, 4
    ("best", None): (1 / 2 + 2 / 3 + 3 / 5) / 3,         # ... on ranks 2, 3
    ("expected", None): (1 + 3 / 5) / 3,                 # docs/metrics.md
    ("index", 3): 1 / 3,                                 # top 3 = N N R
    ("worst", 3): 1 / 3,                                 # one relevant item inside, on rank 3
    ("best", 3): (1 / 2 + 2 / 3) / 2,                    # both inside, ranks 2, 3
    # ranks 2..4 hold R R N in 3 equally likely patterns: RRN (1/2 + 2/3)/2, RNR 1/2, NRR 1/3
    ("expected", 3): ((1 / 2 + 2 / 3) / 2 + 1 / 2 + 1 / 3) / 3,
}


@pytest.mark.parametrize("tie, cutoff", list(HAND))
def test_hand_computed_ap_under_each_tie_rule(tie, cutoff):
    assert lens(docs_example(), tie=tie, cutoff=cutoff).value == pytest.approx(HAND[tie, cutoff], abs=1e-12)


def test_tie_range_in_evaluate_and_per_query_matches_the_hand_case():
    res = evaluate(*docs_example())
    assert res["map_tie_min"] == pytest.approx(HAND["worst", None])
    assert res["map_tie_max"] == pytest.approx(HAND["best", None])
    lo, hi = tie_range_per_query(*docs_example())
    assert lo[0] == pytest.approx(0.4777777777777778) and hi[0] == pytest.approx(0.5888888888888889)


def test_calctopmap_slice_drops_the_last_item():
    # [0:-1] leaves out item 3 (rank 5, relevant): the top 4 holds the 2 relevant items of the
    # distance-1 group; whatever order numpy leaves them in, the value lies in the hand range
    value = lens(docs_example(), tie="numpy-distance", slice_drops_last=True).value
    assert (1 / 3 + 2 / 4) / 2 - 1e-12 <= value <= (1 / 2 + 2 / 3) / 2 + 1e-12
    assert lens(docs_example(), tie="index", slice_drops_last=True).value == pytest.approx((1 / 3 + 2 / 4) / 2)


def test_eleven_point_by_hand():
    # distinct distances 0, 1, 2, 3; items 0 and 3 relevant: R N N R, precisions 1 and 2/4.
    # recall levels 0 .. 0.5 reach the first relevant item (precision 1), 0.6 .. 1 need both (max 0.5)
    q = pack_bits01(np.zeros((1, 8), dtype=np.uint8))
    d = pack_bits01(np.array([[1] * k + [0] * (8 - k) for k in (0, 1, 2, 3)], dtype=np.uint8))
    case = (q, d, np.array([1]), np.array([1, 0, 0, 1]))
    assert lens(case, measure="11-point").value == pytest.approx((6 * 1 + 5 * 0.5) / 11)
    assert lens(case, measure="11-point", cutoff=3).value == pytest.approx(6 / 11)   # level 0.6+ not reached


def test_empty_queries_score_zero_or_are_dropped():
    q = pack_bits01(np.zeros((2, 8), dtype=np.uint8))
    d = pack_bits01(np.array([[1] * k + [0] * (8 - k) for k in (0, 1, 2)], dtype=np.uint8))
    case = (q, d, np.array([1, 7]), np.array([0, 1, 0]))         # query 1 has no relevant item
    zero, drop = lens(case), lens(case, empty="drop")
    assert zero.value == pytest.approx(0.5 / 2) and zero.counted == 2
    assert drop.value == pytest.approx(0.5) and drop.counted == 1 and np.isnan(drop.per_query[1])
    # with the top 1 only, query 0 finds nothing either: dropping leaves no query
    assert lens(case, cutoff=1, empty="drop").counted == 0


def test_bad_rules_get_one_clear_message():
    with pytest.raises(HashvizError, match="unknown tie rule"):
        M.MetricRule(tie="shuffle").checked()
    with pytest.raises(HashvizError, match="cut-off"):
        M.MetricRule(cutoff=0).checked()
    with pytest.raises(HashvizError, match="AP only"):
        M.MetricRule(tie="expected", measure="11-point").checked()
    with pytest.raises(HashvizError, match="unknown rule"):
        M.preset("trec")


# ------------------------------------------------------------------ brute force over every tie order

def small_case(seed, n_q=3, n_db=7, multilabel=False):
    rng = np.random.default_rng(seed)
    codes = pack_bits01((rng.random((n_q + n_db, 8)) < np.array([0.5, 0.5] + [0.02] * 6)).astype(np.uint8))
    if multilabel:
        labels = (rng.random((n_q + n_db, 3)) < 0.4).astype(np.uint8)
    else:
        labels = rng.integers(0, 2, n_q + n_db)
    return codes[:n_q], codes[n_q:], labels[:n_q], labels[n_q:]


def every_order_ap(case, k):
    """AP@k of each query under every tie order: all permutations of the database, stable-sorted."""
    qc, dc, ql, dl = case
    dist = np.unpackbits(qc[:, None] ^ dc[None], axis=2).sum(2)
    rel = (ql[:, None] == dl[None]) if ql.ndim == 1 else ((ql @ dl.T) > 0)
    out = []
    for perm in itertools.permutations(range(len(dc))):
        perm = np.array(perm)
        aps = []
        for q in range(len(qc)):
            r = rel[q][perm[np.argsort(dist[q][perm], kind="stable")]][:k]
            hits = np.cumsum(r)
            aps.append((hits[r] / (np.flatnonzero(r) + 1)).sum() / hits[-1] if hits[-1] else 0.0)
        out.append(aps)
    return np.array(out)                                          # (orders, n_q)


@pytest.mark.parametrize("seed, multilabel", [(0, False), (1, True), (2, False)])
@pytest.mark.parametrize("cutoff", [None, 2, 4])
def test_worst_best_expected_match_every_order(seed, multilabel, cutoff):
    case = small_case(seed, multilabel=multilabel)
    aps = every_order_ap(case, cutoff or 7)
    for tie, truth in (("worst", aps.min(0)), ("best", aps.max(0)), ("expected", aps.mean(0))):
        np.testing.assert_allclose(lens(case, tie=tie, cutoff=cutoff).per_query, truth, atol=1e-12)
    if cutoff is None:
        lo, hi = tie_range_per_query(*case)
        np.testing.assert_allclose(lo, aps.min(0), atol=1e-12)
        np.testing.assert_allclose(hi, aps.max(0), atol=1e-12)


def test_random_order_is_seeded_and_inside_the_range():
    case = small_case(3, n_q=6, n_db=300)
    a, b = lens(case, tie="random", seed=5), lens(case, tie="random", seed=5)
    assert a.value == b.value
    lo, hi = lens(case, tie="worst").per_query, lens(case, tie="best").per_query
    for seed in range(4):
        got = lens(case, tie="random", seed=seed).per_query
        assert np.all(lo - 1e-12 <= got) and np.all(got <= hi + 1e-12)


# ------------------------------------------------------------------ published rules, written out plainly

def calc_top_map_reference(rB, qB, retrievalL, queryL, topk):
    """DeepHash-pytorch's CalcTopMap (utils/tools.py), restated from its definition: for each query,
    Hamming distance 0.5 * (bits - q.b) of +-1 float codes, relevance = a shared label, order =
    np.argsort of the distances (numpy's default kind), keep [0:topk]; AP = mean over the relevant
    items kept of (their count so far) / (their 1-based rank); a query with none adds 0; the sum is
    divided by the number of queries."""
    bits = qB.shape[1]
    total = 0
    for i in range(queryL.shape[0]):
        relevant = (np.dot(queryL[i, :], retrievalL.T) > 0).astype(np.float32)
        distance = 0.5 * (bits - np.dot(qB[i, :], rB.T))
        kept = relevant[np.argsort(distance)][0:topk]
        found = int(np.sum(kept))
        if found == 0:
            continue
        ranks = np.asarray(np.where(kept == 1)) + 1.0
        total = total + np.mean(np.linspace(1, found, found) / ranks)
    return total / queryL.shape[0]


def hashnet_reference(database_code, test_code, database_labels, test_labels, R):
    """HashNet's mean_average_precision (pytorch/src/test.py), restated: order = np.argsort(-sim,
    axis=0), AP over the top R, queries with no relevant item there are not counted."""
    ids = np.argsort(-np.dot(database_code, test_code.T), axis=0)
    aps = []
    for i in range(test_code.shape[0]):
        hit = (database_labels[ids[:R, i]] @ test_labels[i]) > 0
        if hit.sum():
            aps.append(np.sum(np.cumsum(hit) / np.arange(1, R + 1) * hit) / hit.sum())
    return np.mean(aps)


def voc_11_point_reference(relevant_in_order, n_relevant):
    """PASCAL VOC 2007's 11-point AP for one ranked list (recall over every relevant item), with
    the float levels the VOC code loops over."""
    hits = np.cumsum(relevant_in_order)
    recall, precision = hits / n_relevant, hits / np.arange(1, len(hits) + 1)
    ap = 0.0
    for t in np.arange(0.0, 1.1, 0.1):
        ap = ap + (precision[recall >= t].max() if (recall >= t).any() else 0.0) / 11
    return ap


def tied_codes(seed, n_q, n_db, bits, classes, multilabel):
    """Class-clustered codes with few distinct distances, so most items sit in big tie groups."""
    rng = np.random.default_rng(seed)
    centres = rng.random((classes, bits)) < 0.5
    if multilabel:
        labels = (rng.random((n_q + n_db, classes)) < 0.25).astype(np.int64)
        main_class = np.where(labels.any(1), labels.argmax(1), 0)
    else:
        main_class = rng.integers(0, classes, n_q + n_db)
        labels = main_class
    flips = rng.random((n_q + n_db, bits)) < 0.08
    codes = pack_bits01((centres[main_class] ^ flips).astype(np.uint8))
    return codes[:n_q], codes[n_q:], labels[:n_q], labels[n_q:]


def onehot(labels, classes):
    return labels if labels.ndim == 2 else np.eye(classes, dtype=np.int64)[labels]


@pytest.mark.parametrize("multilabel", [False, True])
@pytest.mark.parametrize("topk", [-1, 1000])
def test_deephash_preset_equals_calctopmap_exactly(multilabel, topk):
    qc, dc, ql, dl = tied_codes(11 + multilabel, n_q=60, n_db=3000, bits=16, classes=6, multilabel=multilabel)
    expected = calc_top_map_reference(unpack_signs(dc), unpack_signs(qc), onehot(dl, 6), onehot(ql, 6), topk)
    rule = M.PRESETS["deephash-pytorch"].rule
    if topk > 0:
        rule = M.MetricRule(tie="numpy-distance", cutoff=topk)
    got = M.score(M.rank_for_rule(qc, dc, ql, dl, rule), rule).value
    assert got == expected                                        # bit for bit, not approximately
    # the ties matter here: the tie range is wide and CalcTopMap is not simply the index order
    lo, hi = (lens((qc, dc, ql, dl), tie=t, cutoff=rule.cutoff).value for t in ("worst", "best"))
    assert hi - lo > 0.01


def test_hashnet_preset_matches_its_rule():
    qc, dc, ql, dl = tied_codes(5, n_q=40, n_db=2000, bits=16, classes=5, multilabel=True)
    ql[0] = 0                                                     # a query with no relevant item: dropped
    expected = hashnet_reference(unpack_signs(dc), unpack_signs(qc), dl, ql, R=500)
    rule = M.MetricRule(tie="numpy-similarity", empty="drop", cutoff=500)
    got = M.score(M.rank_for_rule(qc, dc, ql, dl, rule), rule)
    assert got.value == pytest.approx(expected, abs=1e-12) and got.counted < 40


def test_eleven_point_matches_voc_on_the_index_order():
    qc, dc, ql, dl = tied_codes(7, n_q=20, n_db=500, bits=16, classes=4, multilabel=False)
    dist = np.unpackbits(qc[:, None] ^ dc[None], axis=2).sum(2)
    expected = [voc_11_point_reference((dl == ql[i])[np.argsort(dist[i], kind="stable")], (dl == ql[i]).sum())
                for i in range(len(qc))]
    np.testing.assert_allclose(lens((qc, dc, ql, dl), measure="11-point").per_query, expected, atol=1e-12)


def test_index_rule_agrees_with_evaluate():
    case = tied_codes(3, n_q=30, n_db=1500, bits=16, classes=5, multilabel=True)
    res = evaluate(*case)
    assert lens(case).value == pytest.approx(res["map_all"], abs=1e-12)
    assert lens(case, cutoff=1000).value == pytest.approx(res["map_1000"], abs=1e-12)
    assert lens(case, tie="expected").value == pytest.approx(res["map_tie_aware"], abs=1e-12)
    assert lens(case, tie="worst").value == pytest.approx(res["map_tie_min"], abs=1e-12)
    assert lens(case, tie="best").value == pytest.approx(res["map_tie_max"], abs=1e-12)


# ------------------------------------------------------------------ the leaderboard and the CLI

def test_leaderboard_shows_the_tie_range(tiny_zoo):
    import math
    from hashviz import leaderboard as lb
    from hashviz.zoo import discover, load_model_dir
    table = lb.leaderboard_table(discover(tiny_zoo)[0]).set_index("model")
    model = load_model_dir(tiny_zoo / "dpsh-16")
    dist = np.unpackbits(model.query_codes[:, None] ^ model.database_codes[None], axis=2).sum(2)
    by_sorting = []
    for relevant_last in (True, False):     # sort each query's relevant items last / first among equals
        aps = []
        for q in range(len(dist)):
            rel = model.database_labels == model.query_labels[q]
            ordered = rel[np.lexsort((rel if relevant_last else ~rel, dist[q]))]
            aps.append((np.cumsum(ordered)[ordered] / (np.flatnonzero(ordered) + 1)).mean() if rel.any() else 0.0)
        by_sorting.append(np.mean(aps))
    row = table.loc["dpsh-16"]
    assert (row["mAP tie min"], row["mAP tie max"]) == pytest.approx(tuple(by_sorting), abs=1e-12)
    assert row["mAP tie min"] <= min(row["mAP@all"], row["tie-aware mAP"])
    assert max(row["mAP@all"], row["tie-aware mAP"]) <= row["mAP tie max"]
    assert math.isnan(table.loc["dpq-16", "mAP tie min"]) and math.isnan(table.loc["dpq-16", "mAP tie max"])




def test_eval_json_rule_prints_the_preset_numbers(tiny_zoo, capsys):
    from hashviz.zoo import load_model_dir
    model = load_model_dir(tiny_zoo / "dpsh-16")
    for name in M.PRESETS:
        assert main(["eval", str(tiny_zoo / "dpsh-16"), "--json", "--rule", name]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["rule"]["name"] == name and out["rule"]["citation"] == M.PRESETS[name].citation
        assert out["map"] == M.score_model(model, M.PRESETS[name].rule).value
    expected = calc_top_map_reference(unpack_signs(model.database_codes), unpack_signs(model.query_codes),
                                      onehot(model.database_labels, 10), onehot(model.query_labels, 10), -1)
    assert main(["eval", str(tiny_zoo / "dpsh-16"), "--json", "--rule", "deephash-pytorch"]) == 0
    assert json.loads(capsys.readouterr().out)["map"] == expected
    assert main(["eval", str(tiny_zoo / "dpsh-16"), "--json", "--rule", "deephash-pytorch", "--top-k", "100"]) == 0
    assert json.loads(capsys.readouterr().out)["rule"]["cutoff"] == 100
    assert main(["eval", str(tiny_zoo / "dpq-16"), "--rule", "hashnet"]) == 2
    assert "needs binary codes" in capsys.readouterr().err
