import numpy as np
import pytest

from hashviz.codes import pack_bits01
from hashviz.diagnostics import (binary_entropy, bit_balance, bit_independence, bucket_occupancy,
                                 codeword_usage, diagnose, distance_distributions, effective_bits,
                                 output_error)
from hashviz.errors import HashvizError


def random_bits(n, b, seed=0):
    return np.random.default_rng(seed).integers(0, 2, (n, b)).astype(np.uint8)


def test_binary_entropy_edges():
    assert binary_entropy(0.5) == pytest.approx(1.0)
    assert binary_entropy(0.0) == 0.0 and binary_entropy(1.0) == 0.0
    assert not np.isnan(binary_entropy(np.array([0.0, 1.0]))).any()


def test_constant_bit_is_flagged_dead():
    x = random_bits(1000, 16)
    x[:, 3] = 1
    x[:, 9] = 0
    x[:5, 12] = 1
    x[5:, 12] = 0            # share 0.005 < 0.02: dead
    bal = bit_balance(pack_bits01(x), 16)
    assert bal.dead_bits.tolist() == [3, 9, 12]
    assert bal.share_plus[3] == 1.0 and bal.entropy[3] == 0.0 and bal.balance[3] == 0.0
    assert bal.balance[0] == pytest.approx(1 - abs(2 * x[:, 0].mean() - 1))
    # a stricter threshold keeps the nearly-constant bit alive
    assert bit_balance(pack_bits01(x), 16, dead_threshold=0.001).dead_bits.tolist() == [3, 9]


def test_duplicated_bits_correlation_one_and_mi_equals_entropy():
    x = random_bits(4000, 16, seed=1)
    x[:, 5] = x[:, 2]
    x[:, 6] = 1 - x[:, 2]            # negated copy
    x[:, 15] = 0                     # constant
    ind = bit_independence(pack_bits01(x), 16)
    h = binary_entropy(x.mean(0))
    assert ind.correlation[2, 5] == pytest.approx(1.0)
    assert ind.correlation[2, 6] == pytest.approx(-1.0)
    assert ind.mutual_info[2, 5] == pytest.approx(h[2])
    assert ind.mutual_info[2, 6] == pytest.approx(h[2])
    assert np.allclose(np.diag(ind.mutual_info), h)
    # constant bit: 0 off the diagonal, no NaN
    assert not np.isnan(ind.correlation).any() and not np.isnan(ind.mutual_info).any()
    assert np.all(ind.correlation[15, :15] == 0) and ind.correlation[15, 15] == 1
    assert np.all(ind.mutual_info[15] == 0)
    # symmetric, independent pairs near 0
    assert np.allclose(ind.correlation, ind.correlation.T)
    assert abs(ind.correlation[0, 1]) < 0.1 and ind.mutual_info[0, 1] < 0.01
    # 16 nominal - 2 copies - 1 constant = 13
    assert ind.effective_bits == pytest.approx(13, abs=0.3)
    assert ind.nominal_bits == 16
    assert ind.most_correlated_pairs(1)[0][:2] in [(2, 5), (2, 6), (5, 6)]


def test_effective_bits_random_codes_close_to_nominal():
    for n in (500, 20000):
        ind = bit_independence(pack_bits01(random_bits(n, 64, seed=n)), 64)
        assert 62.5 < ind.effective_bits <= 64
    assert ind.effective_bits > 63.7


def test_effective_bits_formula_by_hand():
    corr = np.eye(3)
    corr[0, 1] = corr[1, 0] = 1.0
    assert effective_bits(corr, np.ones(3), n_samples=10 ** 9) == pytest.approx(2.0)
    # unbalanced bit contributes its entropy
    assert effective_bits(np.eye(2), np.array([1.0, 0.5]), 10 ** 9) == pytest.approx(1.5)


def test_bucket_counts_hand_checked():
    # 8-bit codes: A A A B B C D D   labels 0 0 1 1 1 2 0 3
    a, b, c, d = 0b10000000, 0b00000001, 0b11111111, 0b01010101
    codes = np.array([[a], [a], [a], [b], [b], [c], [d], [d]], dtype=np.uint8)
    labels = np.array([0, 0, 1, 1, 1, 2, 0, 3])
    st = bucket_occupancy(codes, labels, 8, top=2)
    assert st.n_codes == 8 and st.n_distinct == 4
    assert st.size_values.tolist() == [1, 2, 3] and st.size_counts.tolist() == [1, 2, 1]
    assert st.largest[0].code == "10000000" and st.largest[0].size == 3
    assert st.largest[0].class_counts == {0: 2, 1: 1}
    assert list(st.largest[0].class_counts) == [0, 1]          # largest class first
    assert st.largest[0].first_row == 0
    # tie of size 2: B (row 3) before D (row 6)
    assert st.largest[1].code == "00000001" and st.largest[1].class_counts == {1: 2}
    # bucket A mixed (0,1), D mixed (0,3); B single class
    assert st.mixed_buckets == 2
    # cross-class pairs: A: 2*1 = 2, D: 1 -> 3 ; same-class pairs: A: 1, B: 1 -> 2
    assert st.cross_class_pairs == 3 and st.same_class_pairs == 2
    assert st.items_in_shared == 7
    assert (st.bucket_sizes[st.bucket_of_row] == [3, 3, 3, 2, 2, 1, 2, 2]).all()


def test_bucket_wide_codes_and_pq():
    x = random_bits(50, 128, seed=3)
    x[10] = x[0]
    st = bucket_occupancy(pack_bits01(x), np.arange(50) % 2, 128)
    assert st.n_distinct == 49 and st.cross_class_pairs == 0 and st.same_class_pairs == 1
    pq = np.array([[1, 2], [1, 2], [3, 0]], dtype=np.uint8)
    st = bucket_occupancy(pq, np.array([0, 1, 1]), code_type="pq")
    assert st.largest[0].code == "1-2" and st.cross_class_pairs == 1


def test_distance_distributions_separated_classes():
    # class 0 all zeros, class 1 all ones (8 bits): same distance 0, different 8
    codes = np.array([[0]] * 5 + [[255]] * 5, dtype=np.uint8)
    labels = np.array([0] * 5 + [1] * 5)
    ds = distance_distributions(codes, labels, 8, n_pairs=300, seed=1)
    assert ds.n_same == 300 and ds.n_diff == 300
    assert ds.same_hist[0] == 300 and ds.diff_hist[8] == 300
    assert ds.overlap == 0.0 and ds.mean_same == 0 and ds.mean_diff == 8
    assert ds.same_density.sum() == pytest.approx(1) and ds.edges.shape == (10,)
    again = distance_distributions(codes, labels, 8, n_pairs=300, seed=1)
    assert (again.same_hist == ds.same_hist).all()


def test_distance_pairs_are_really_same_and_different():
    x = random_bits(300, 16, seed=4)
    labels = np.random.default_rng(4).integers(0, 7, 300)
    ds = distance_distributions(pack_bits01(x), labels, 16, n_pairs=2000, seed=0)
    assert ds.n_same == 2000 and ds.n_diff == 2000
    assert 0.8 < ds.overlap <= 1.0                     # random codes: distributions overlap
    assert ds.same_hist[0] < 2000                      # i != j (random 16-bit codes rarely collide)
    one_class = distance_distributions(pack_bits01(x), np.zeros(300, int), 16, n_pairs=10)
    assert one_class.n_diff == 0 and np.isnan(one_class.overlap)


def test_output_error_and_sign_agreement():
    u = np.array([[0.5, -2.0], [0.0, 1.0]], dtype=np.float32)     # sign(0) = -1
    u8 = np.zeros((2, 8), np.float32) - 1
    u8[:, :2] = u
    oe = output_error(u8, n_bins=4)
    assert oe.mean_abs[:2] == pytest.approx([0.25, 1.5])
    assert oe.mean_err[:2] == pytest.approx([0.75, 0.5])           # |0.5-1|,|0+1| ; |-2+1|,|1-1|
    assert oe.abs_hist.sum() == 16 and oe.abs_hist_per_bit.shape == (8, 4)
    codes = pack_bits01((u8 > 0).astype(np.uint8))
    full = output_error(u8, codes, np.array([0, 1]))
    assert full.sign_agreement == 1.0
    with pytest.raises(HashvizError):
        output_error(np.full((2, 8), np.nan, np.float32))


def test_codeword_usage():
    codes = np.array([[0, 1], [0, 2], [0, 3], [0, 0]], dtype=np.uint8)
    cu = codeword_usage(codes, 4)
    assert cu.counts.tolist() == [[4, 0, 0, 0], [1, 1, 1, 1]]
    assert cu.perplexity == pytest.approx([1.0, 4.0])
    assert cu.unused.tolist() == [3, 0]
    with pytest.raises(HashvizError):
        codeword_usage(codes, 2)


def test_diagnose_binary_and_pq():
    x = random_bits(500, 32, seed=5)
    x[:, 0] = 1
    labels = np.arange(500) % 5
    u = np.random.default_rng(0).normal(size=(40, 32)).astype(np.float32)
    d = diagnose(pack_bits01(x), labels, 32, outputs=u, n_pairs=500)
    s = d.summary()
    assert s["dead_bits"] == 1 and 29 < s["effective_bits"] < 31.5 and s["distinct_codes"] == 500
    assert "mean_quantization_error" in s and d.usage is None
    pq = np.random.default_rng(0).integers(0, 16, (100, 4)).astype(np.uint8)
    d = diagnose(pq, labels[:100], 16, code_type="pq", n_codewords=16)
    assert d.balance is None and d.distances is None and d.usage.counts.shape == (4, 16)
    assert d.summary()["distinct_codes"] == d.buckets.n_distinct
    with pytest.raises(HashvizError):
        diagnose(pack_bits01(x), labels[:10], 32)
    with pytest.raises(HashvizError):
        diagnose(pack_bits01(x), labels, 32, outputs=u[:, :8])


def test_diagnose_on_cifar_sized_codes():          # its time: bench/responsiveness.py
    n = 69_000
    x = random_bits(n, 64, seed=6)
    labels = np.random.default_rng(6).integers(0, 10, n)
    d = diagnose(pack_bits01(x), labels, 64)
    assert d.independence.effective_bits > 63.5
