"""hashviz.code_space against loop references: one query's top n, tie totals and AP in one pass, and
evaluate / per-query AP for binary and pq codes alike."""

from __future__ import annotations

import numpy as np
import pytest

from hashviz.code_space import HammingSpace, PQSpace
from hashviz.errors import HashvizError

from reference import ref_ap, ref_distances, ref_ranked_relevance, ref_relevant, ref_tie_aware_ap


def _binary(seed=0, n_db=12, n_q=4, width=1):   # small: the tie-aware reference enumerates orders
    rng = np.random.default_rng(seed)
    db = rng.integers(0, 4, (n_db, width), dtype=np.uint8)      # few distinct codes: many ties
    q = rng.integers(0, 4, (n_q, width), dtype=np.uint8)
    return HammingSpace(db, rng.integers(0, 3, n_db), q, rng.integers(0, 3, n_q))


def _pq(seed=0, n_db=50, n_q=3, m=2, k=3, d_sub=2):
    rng = np.random.default_rng(seed)
    books = rng.integers(-2, 3, (m, k, d_sub)).astype(np.float32)     # integer codewords: exact ties
    db = rng.integers(0, k, (n_db, m), dtype=np.uint8)
    q = rng.integers(-2, 3, (n_q, m * d_sub)).astype(np.float32)
    return PQSpace(db, rng.integers(0, 3, n_db), q, rng.integers(0, 3, n_q), codebooks=books)


def _pq_distances(space, query):
    """Squared L2 of the query to each code's concatenated codewords, written out."""
    out = []
    for code in space.database.tolist():
        x = np.concatenate([space.codebooks[j][c] for j, c in enumerate(code)])
        out.append(float(sum((a - b) ** 2 for a, b in zip(query.tolist(), x.tolist()))))
    return out


@pytest.mark.parametrize("n", [1, 5, 12, 30])
def test_binary_rank_one_matches_the_loop_ranking(n):
    space = _binary()
    for qi in range(4):
        dist = ref_distances(space.queries()[qi:qi + 1], space.database)[0]
        rel = ref_relevant(space.query_labels[qi:qi + 1], space.database_labels)[0]
        order = sorted(range(len(dist)), key=lambda t: (dist[t], t))[:n]
        one = space.rank_one(space.queries()[qi:qi + 1], space.query_labels[qi], n)
        assert one.rows.tolist() == order
        assert one.distances.tolist() == [dist[t] for t in order]
        assert one.tie_totals == {d: dist.count(d) for d in {dist[t] for t in order}}
        assert one.relevant.tolist() == rel
        assert one.ap == pytest.approx(ref_ap(ref_ranked_relevance(dist, rel)), abs=1e-12)
        assert one.ap_tie_aware == pytest.approx(ref_tie_aware_ap(dist, rel), abs=1e-12)
        low, high = one.ap_tie_range
        assert low <= one.ap_tie_aware <= high


@pytest.mark.parametrize("n", [1, 7, 50])
def test_pq_rank_one_matches_the_loop_ranking(n):
    space = _pq()
    for qi in range(3):
        dist = _pq_distances(space, space.queries()[qi])
        rel = ref_relevant(space.query_labels[qi:qi + 1], space.database_labels)[0]
        order = sorted(range(len(dist)), key=lambda t: (dist[t], t))[:n]
        one = space.rank_one(space.queries()[qi:qi + 1], space.query_labels[qi], n)
        assert one.rows.tolist() == order
        assert one.distances.tolist() == pytest.approx([dist[t] for t in order])
        assert one.tie_totals == {d: dist.count(d) for d in {dist[t] for t in order}}
        assert one.ap == pytest.approx(ref_ap(ref_ranked_relevance(dist, rel)), abs=1e-12)
        assert one.ap_tie_aware is None


def test_rank_one_without_a_label_gives_the_ranking_only():
    space = _binary()
    one = space.rank_one(space.queries()[:1], None, 3)
    assert one.ap is None and one.relevant is None and len(one.rows) == 3
    with pytest.raises(HashvizError, match="positive integer"):
        space.rank_one(space.queries()[:1], None, 0)


@pytest.mark.parametrize("make", [_binary, _pq])
def test_evaluate_is_one_metric_dict_whose_map_is_the_mean_per_query_ap(make):
    space = make()
    metrics = space.evaluate()
    assert isinstance(metrics, dict) and set(metrics) >= {"map_all", "map_1000", "precision_at_k"}
    per_query = space.per_query_ap()
    assert metrics["map_all"] == pytest.approx(per_query.mean(), abs=1e-12)
    for qi in range(len(per_query)):    # each query's AP is its one-query ranking's AP
        assert per_query[qi] == pytest.approx(space.rank_one(space.queries()[qi:qi + 1],
                                                             space.query_labels[qi], 1).ap, abs=1e-12)


@pytest.mark.parametrize("make", [_binary, _pq])
def test_knn_and_subset_rank_like_rank_one(make):
    space = make()
    dist, rows = space.knn([0, 2], 5)
    for i, qi in enumerate([0, 2]):
        assert rows[i].tolist() == space.rank_one(space.queries()[qi:qi + 1], None, 5).rows.tolist()
    part = space.subset([1], np.arange(10))
    one = part.rank_one(part.queries(), None, 10)
    assert sorted(one.rows.tolist()) == list(range(10))


def test_outputs_space_of_a_pq_method_ranks_its_query_embeddings_against_its_codewords():
    torch = pytest.importorskip("torch")
    from hashviz.code_space import outputs_space
    from hashviz.methods import create_method
    torch.manual_seed(0)
    method = create_method("dpq", bits=32, num_classes=3)
    q, db = torch.randn(4, method.output_dim), torch.randn(40, method.output_dim)
    rng = np.random.default_rng(0)
    q_labels, db_labels = rng.integers(0, 3, 4), rng.integers(0, 3, 40)
    space = outputs_space(method, q, db, q_labels, db_labels)
    assert isinstance(space, PQSpace) and space.pq_metric == "l2"
    assert np.array_equal(space.database, method.encode_outputs(db))
    aps = space.per_query_ap()
    for qi in range(4):
        dist = _pq_distances(space, space.queries()[qi])
        rel = ref_relevant(q_labels[qi:qi + 1], db_labels)[0]
        assert aps[qi] == pytest.approx(ref_ap(ref_ranked_relevance(dist, rel)), abs=1e-9)
    assert space.evaluate()["map_all"] == pytest.approx(aps.mean(), abs=1e-12)


def test_a_code_given_by_hand_is_packed_for_binary_and_refused_for_pq():
    space = _binary(width=1)
    signs = np.array([1, -1, -1, 1, 1, 1, -1, 1])
    assert space.code_query(signs).tolist() == [[0b10011101]]
    assert space.code_query(np.array([7], dtype=np.uint8)).tolist() == [[7]]
    with pytest.raises(HashvizError, match="8 values"):
        space.code_query(np.zeros(5))
    with pytest.raises(HashvizError, match="a code query is not defined"):
        _pq().code_query(np.zeros(2, dtype=np.uint8))
