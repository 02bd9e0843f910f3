"""The lenses (hashviz.lenses) against hand-computed cases and brute force."""

import itertools
import math

import faiss
import numpy as np
import pytest

from hashviz.codes import pack_bits01, unpack_bits01
from hashviz.errors import HashvizError
from hashviz import plots as figures
from hashviz.lenses import bitflip, cube, lookup, parity, trust
from hashviz.search import HammingIndex, recall_at_k


def codes_of(*strips: str) -> np.ndarray:
    """Packed codes from bit strings, zero-padded to 8 bits: codes_of("0011") is one 8-bit code."""
    width = -(-max(len(s) for s in strips) // 8) * 8
    return pack_bits01(np.array([[int(c) for c in s.ljust(width, "0")] for s in strips], np.uint8))


def clustered(n, bits=16, seed=0, centres=8, p=0.05):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2, (centres, bits))
    labels = rng.integers(0, centres, n)
    flips = rng.random((n, bits)) < p
    return pack_bits01((base[labels] ^ flips).astype(np.uint8)), labels


# ------------------------------------------------------------------------------------ bit flips

def test_flip_bits_flips_exactly_the_given_positions():
    code = codes_of("1011000000000000")
    assert unpack_bits01(bitflip.flip_bits(code, [0, 9]))[0].tolist() == [int(c) for c in "0011000001000000"]
    assert np.array_equal(code, codes_of("1011000000000000"))          # the query is not changed
    with pytest.raises(HashvizError, match="bit must be 0..15"):
        bitflip.flip_bits(code, [16])


def test_flip_probe_moves_items_into_and_out_of_the_top_n_and_the_ball():
    db = codes_of("00000000", "10000000", "01000000", "11000000", "00000011")
    # before: distances 0,1,1,2,2 -> top 3 rows 0,1,2; after flipping bit 0: 1,0,2,1,3 -> rows 1,0,3
    probe = bitflip.flip_probe(HammingIndex(db), codes_of("00000000"), [0], n=3, radius=1)
    assert probe.top_before.tolist() == [0, 1, 2] and probe.top_after.tolist() == [1, 0, 3]
    assert probe.dist_after.tolist() == [0, 1, 1]
    assert probe.entered.tolist() == [3] and probe.left.tolist() == [2]
    assert (probe.ball_before, probe.ball_after) == (3, 3)
    assert probe.ball_entered.tolist() == [3] and probe.ball_left.tolist() == [2]
    assert "1 item(s) entered and 1 left the top 3" in probe.summary()


def test_bit_class_split_is_the_share_of_each_class_with_the_bit_set():
    db = codes_of("10000000", "11000000", "10000000", "00000000", "01000000")
    labels = np.array([0, 0, 1, 1, 2])
    split = bitflip.bit_class_split(db, labels, 4)
    assert split.shape == (8, 4)
    assert split[0, :3].tolist() == [1.0, 0.5, 0.0] and split[1, :3].tolist() == [0.5, 0.0, 1.0]
    assert np.isnan(split[0, 3])                                        # class 3 has no item
    multi = np.array([[1, 0], [1, 1], [0, 1], [0, 1], [1, 0]])          # multi-hot: item 1 counts twice
    assert bitflip.bit_class_split(db, multi, 2)[0].tolist() == [2 / 3, 2 / 3]


def test_bit_class_information_is_one_bit_for_a_perfect_split_and_zero_for_none():
    split = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    info = bitflip.bit_class_information(split, np.array([50, 50]))
    assert info == pytest.approx([1.0, 0.0, 1.0])
    # 3 classes of 10, bit set for class 0 only: I = H(bit) = h(1/3)
    h = -(1 / 3) * math.log2(1 / 3) - (2 / 3) * math.log2(2 / 3)
    assert bitflip.bit_class_information(np.array([[1.0, 0.0, 0.0]]), np.array([10, 10, 10]))[0] == pytest.approx(h)


def test_bit_side_examples_come_from_each_side_and_repeat_with_the_seed():
    db, _ = clustered(200)
    sides = bitflip.bit_side_examples(db, 5, per_side=6)
    bits = unpack_bits01(db)[:, 5]
    assert len(sides[1]) == len(sides[0]) == 6
    assert (bits[sides[1]] == 1).all() and (bits[sides[0]] == 0).all()
    assert all(np.array_equal(a, b) for a, b in zip(sides.values(), bitflip.bit_side_examples(db, 5).values()))


# ------------------------------------------------------------------------------------ hash lookup

def test_prefix_keys_and_flip_masks():
    assert lookup.prefix_keys(codes_of("1011000000000001"), 4).tolist() == [0b1011]
    assert lookup.prefix_keys(codes_of("1011000000000001"), 16).tolist() == [0b1011000000000001]
    masks, weight = lookup.flip_masks(4, 2)
    assert len(masks) == 1 + 4 + 6 and weight.tolist() == [0] + [1] * 4 + [2] * 6
    assert sorted(masks[weight == 1].tolist()) == [1, 2, 4, 8]
    assert all(bin(int(m)).count("1") == w for m, w in zip(masks, weight))


def test_lookup_grid_counted_by_hand_on_4_bit_codes():
    db = codes_of("0000", "0001", "0011", "1100", "1000", "0111", "1111")
    queries = codes_of("0000", "1111")
    # query 0000, k = 2: exact distances 0,1,2,2,1,3,4 -> k-th distance 1, rows 0,1,4 within it.
    #   b = 2 (key 00): nflip 0 probes key 00 -> rows 0,1,2 (3 scanned), finds rows 0,1 -> 2 of 2.
    #                   nflip 1 adds keys 01,10 -> rows 0,1,2,4,5 (5), finds 0,1,4 -> 2 of 2.
    # query 1111: distances 4,3,2,2,3,1,0 -> k-th distance 1, rows 6,5 within it.
    #   nflip 0 probes key 11 -> rows 3,6 (2), finds row 6 -> 1 of 2.
    #   nflip 1 adds 10,01 -> rows 3,6,4,5 (4), finds 6,5 -> 2 of 2.
    grid = lookup.lookup_grid(db, queries, k=2, prefix_bits=[2], nflips=[0, 1])
    assert grid.recall.tolist() == [[0.75, 1.0]]
    assert grid.candidates.tolist() == [[2.5, 4.5]]
    assert grid.buckets_probed.tolist() == [[1, 3]]
    assert grid.rows()[1] == {"b": 2, "nflip": 1, "recall@2": 1.0, "candidates scanned": 4.5,
                              "share of database": round(4.5 / 7, 4), "buckets probed": 3}


@pytest.mark.parametrize("b,nflip", [(8, 0), (8, 1), (8, 2), (16, 1)])
def test_lookup_grid_matches_faiss_index_binary_hash(b, nflip):
    """faiss' IndexBinaryHash scans the same candidates (its ndis) and finds the same neighbours
    (for whole-byte keys faiss' bit order selects the same bits)."""
    codes, _ = clustered(3040, bits=32, seed=1)
    db, queries = codes[:3000], codes[3000:]
    k = 20
    grid = lookup.lookup_grid(db, queries, k=k, prefix_bits=[b], nflips=[nflip])
    index = faiss.IndexBinaryHash(32, b)
    index.add(db)
    index.nflip = nflip
    stats = faiss.cvar.indexBinaryHash_stats
    stats.reset()
    dist, _ = index.search(queries, k)
    exact, _ = HammingIndex(db).knn(queries, k)
    dist = np.where(dist < 0, np.iinfo(np.int32).max, dist)
    assert grid.candidates[0, 0] == pytest.approx(stats.ndis / len(queries))
    assert grid.recall[0, 0] == pytest.approx(recall_at_k(exact, np.sort(dist, axis=1)))


def test_lookup_grid_samples_queries_with_a_seed():
    db = clustered(800)[0][:500]
    queries = clustered(800)[0][500:]
    a = lookup.lookup_grid(db, queries, k=10, max_queries=50)
    assert (a.n_queries, a.n_query_set) == (50, 300) and "50 of the 300 queries" in a.note()
    assert np.array_equal(a.recall, lookup.lookup_grid(db, queries, k=10, max_queries=50).recall)
    assert a.prefix_bits == [4, 8, 12, 16] and (np.diff(a.recall, axis=1) >= 0).all()
    with pytest.raises(HashvizError, match="k must be a positive integer"):
        lookup.lookup_grid(db, queries, k=0)


def test_collisions_worst_first_with_rows_per_class():
    db = codes_of("0001", "0001", "0001", "0010", "0010", "0100", "1000", "1000")
    labels = np.array([0, 0, 1, 1, 2, 0, 3, 3])
    found = lookup.collisions(db, labels)
    assert [c.code[:4] for c in found] == ["0001", "0010"]          # 1000 holds one class only
    assert [(c.size, c.cross_pairs) for c in found] == [(3, 2), (2, 1)]
    assert found[0].class_counts == {0: 2, 1: 1}
    assert {c: r.tolist() for c, r in found[0].class_rows.items()} == {0: [0, 1], 1: [2]}
    table = lookup.collision_table(found, ["a", "b", "c", "d"])
    assert table[0]["classes"] == "a ×2, b ×1" and table[1]["cross-class pairs"] == 1


# ------------------------------------------------------------------------------------ Hamming cube

def test_three_cube_has_eight_corners_twelve_edges_each_along_its_bit():
    corners = ["".join(bits) for bits in itertools.product("01", repeat=3)]
    strips = [c for i, c in enumerate(corners) for _ in range(i + 1)]      # corner i holds i + 1 items
    labels = np.array([i % 2 for i, c in enumerate(corners) for _ in range(i + 1)])
    labels[-1] = 0                                                         # corner 111: 7 of 8 are class 1
    view = cube.hamming_cube(codes_of(*strips), labels)
    assert view.n_distinct == 8 and len(view.codes) == 8 and view.n_items == 36
    assert [c[:3] for c in view.codes] == corners[::-1]                    # most occupied first
    assert len(view.edges) == 12 and np.bincount(view.edges.ravel()).tolist() == [3] * 8
    bits01 = np.array([[int(ch) for ch in c[:3]] for c in view.codes])
    for (i, j), bit in zip(view.edges, view.edge_bit):
        assert np.flatnonzero(bits01[i] != bits01[j]).tolist() == [bit]
    step = view.xy[view.edges[:, 1]] - view.xy[view.edges[:, 0]]
    for bit in range(3):                                                   # parallel edges per bit
        same = step[view.edge_bit == bit]
        assert np.allclose(np.abs(same), np.abs(same[0]))
    assert len({tuple(np.round(p, 6)) for p in view.xy}) == 8              # no two corners overlap
    assert view.majority[0] == 1 and view.majority_share[0] == pytest.approx(7 / 8)
    small = cube.hamming_cube(codes_of(*strips), labels, max_nodes=4)
    assert [c[:3] for c in small.codes] == ["111", "110", "101", "100"] and len(small.edges) == 4
    assert "the 4 most occupied of 8" in small.note()


# ------------------------------------------------------------------------------------ trust

def test_projection_trust_counts_kept_neighbours_by_hand():
    codes = codes_of("00000000", "00000001", "11111111", "11111110")
    good = np.array([[0, 0], [0.1, 0], [10, 0], [10.1, 0]])
    torn = np.array([[0, 0], [10, 0], [0.1, 0], [10.1, 0]])               # 0 beside 2, 1 beside 3
    assert trust.projection_trust(codes, good, k=1).kept.tolist() == [1, 1, 1, 1]
    t = trust.projection_trust(codes, torn, k=1)
    assert t.kept.tolist() == [0, 0, 0, 0] and t.torn.all() and t.mean == 0.0
    assert "4 points keep fewer than half" in t.note()


def test_projection_trust_is_tie_aware():
    # point 0's nearest Hamming neighbours are 1 and 4, both at distance 1: either counts for k = 1
    codes = codes_of("00000000", "00000001", "11111111", "11111110", "00000010")
    xy = np.array([[0, 0], [5, 0], [10, 0], [10.1, 0], [0.1, 0]])
    assert trust.projection_trust(codes, xy, k=1).kept[0] == 1
    with pytest.raises(HashvizError, match="k must be 1..4"):
        trust.projection_trust(codes, xy, k=5)


# ------------------------------------------------------------------------------------ parity

def test_compare_rankings_explains_ties_and_misses_by_hand():
    ref_rows, ref_d = [5, 7, 9], [1, 2, 2]
    assert parity.compare_rankings(ref_rows, ref_d, [5, 7, 9], [1, 2, 2]) == []
    swapped = parity.compare_rankings(ref_rows, ref_d, [5, 9, 7], [1, 2, 2])
    assert [(d.row, d.reference_rank, d.backend_rank, d.why) for d in swapped] == [
        (7, 2, 3, "tie order"), (9, 3, 2, "tie order")]
    cut = parity.compare_rankings(ref_rows, ref_d, [5, 7, 11], [1, 2, 2])
    assert [(d.row, d.why) for d in cut] == [(9, "tie order"), (11, "tie order")]
    missed = parity.compare_rankings(ref_rows, ref_d, [5, 7, 12], [1, 2, 3])
    assert [(d.row, d.why) for d in missed] == [(9, "true miss"), (12, "true miss")]
    short = parity.compare_rankings(ref_rows, ref_d, [5, 7, -1], [1, 2, -1])
    assert [(d.row, d.why) for d in short] == [(9, "true miss")] and "came back empty" in short[0].detail


def test_backend_parity_on_real_indexes_checked_against_brute_force():
    db, _ = clustered(4000, bits=32, seed=4, centres=40, p=0.1)
    query = db[17:18] ^ np.uint8(3)
    indexes = {"flat": HammingIndex(db), "hash": HammingIndex(db, kind="hash"),
               "ivf": HammingIndex(db, kind="ivf", nprobe=1)}
    result = parity.backend_parity(indexes, query, 50, db)
    true = np.bitwise_count(np.unpackbits(db, axis=1) != np.unpackbits(query, axis=1)).sum(axis=1)
    ref = result.reference
    assert ref.rows.tolist() == np.lexsort((np.arange(len(db)), true))[:50].tolist()
    assert ref.distances.tolist() == true[ref.rows].tolist()
    hash_run, ivf_run = result.runs[1:]
    assert hash_run.differences == [] and hash_run.verdict(ref) == "identical to the reference"
    kth = true[ref.rows].max()
    for d in ivf_run.differences:                     # every explanation holds on the true distances
        assert d.distance == true[d.row]
        if d.why == "tie order":
            assert d.distance == kth
        elif d.reference_rank is not None:
            assert ivf_run.distances.max() > d.distance or (ivf_run.rows < 0).any()
    table = parity.parity_table(result)
    assert len(table) == 50 and set(table[0]) == {"rank", "flat", "hash", "ivf"}
    assert all(not row["hash"].startswith("≠") for row in table)


# ------------------------------------------------------------------------------------ figures

def test_lens_figures_carry_their_data():
    db, labels = clustered(300, bits=8)
    split = bitflip.bit_class_split(db, labels, 8)
    fig = figures.bit_split_figure(split[[0, 3]], [0, 3], [str(c) for c in range(8)])
    assert [t.name for t in fig.data] == ["bit 0", "bit 3"] and list(fig.data[1].y) == list(split[3])
    grid = lookup.lookup_grid(db, db[:20], k=5)
    fig = figures.lookup_figure(grid)
    assert [t.name for t in fig.data] == ["b = 4", "b = 8", "exhaustive scan"]
    assert list(fig.data[1].y) == list(grid.recall[1]) and fig.layout.xaxis.type == "log"
    view = cube.hamming_cube(db, labels)
    fig = figures.cube_figure(view)
    assert fig.data[0].name == "one bit apart"
    assert sum(len(t.x) for t in fig.data[1:]) == len(view.codes)
    xy = np.random.default_rng(0).random((300, 2))
    t = trust.projection_trust(db, xy, k=5)
    fig = figures.trust_map_figure(xy, np.arange(300) + 1000, t.share, 5, "map")
    assert fig.data[0].name.startswith("kept") and fig.data[1].name.startswith("torn")
    assert len(fig.data[1].x) == int(t.torn.sum()) and min(fig.data[0].customdata) >= 1000
    with pytest.raises(HashvizError):
        figures.bit_split_figure(split, [0], ["a"])
