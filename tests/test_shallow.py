"""Shallow baselines: LSH, PCAH, ITQ, SH as scikit-learn style hashers."""

from __future__ import annotations

import numpy as np
import pytest

from hashviz.codes import unpack_bits01
from hashviz.hamming import hamming_distances
from hashviz.errors import HashvizError
from hashviz.methods import create_method, list_methods
from hashviz.methods.shallow import ITQ, LSH, PCAH, SH, ShallowHasher

SHALLOW = ("lsh", "pcah", "itq", "sh")


@pytest.fixture(scope="module")
def digits():
    from hashviz.data import load_dataset
    ds = load_dataset("digits")
    return ds.images.reshape(len(ds), -1).astype(np.float32), ds.labels


def _mean_average_precision(query_codes, database_codes, query_labels, database_labels) -> float:
    """Reference mAP: rank by Hamming distance, ties by database index."""
    distances = hamming_distances(query_codes, database_codes)
    aps = []
    for i in range(len(query_codes)):
        relevant = database_labels[np.argsort(distances[i], kind="stable")] == query_labels[i]
        hits = np.cumsum(relevant)
        aps.append((hits[relevant] / (np.flatnonzero(relevant) + 1)).mean())
    return float(np.mean(aps))


def test_shallow_methods_are_registered():
    names = {info.name for info in list_methods("shallow")}
    assert set(SHALLOW) <= names
    for info in list_methods("shallow"):
        assert not info.deep and issubclass(info.constructor, ShallowHasher)


@pytest.mark.parametrize("name", SHALLOW)
def test_encode_gives_packed_codes_and_outputs(name, digits):
    X, _ = digits
    hasher = create_method(name, 16, seed=0).fit(X[:500])
    codes = hasher.encode(X[500:600])
    assert codes.dtype == np.uint8 and codes.shape == (100, 2)
    outputs = hasher.outputs(X[500:600])
    assert outputs.dtype == np.float32 and outputs.shape == (100, 16)
    np.testing.assert_array_equal(unpack_bits01(codes), (outputs > 0).astype(np.uint8))


@pytest.mark.parametrize("name", SHALLOW)
def test_fit_is_seeded(name, digits):
    X, _ = digits
    first = create_method(name, 16, seed=3).fit(X[:400]).encode(X)
    again = create_method(name, 16, seed=3).fit(X[:400]).encode(X)
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("name", SHALLOW)
def test_state_dict_round_trip_gives_identical_codes(name, digits):
    from safetensors.numpy import load, save
    X, _ = digits
    hasher = create_method(name, 24, seed=1).fit(X[:400])
    state = load(save(hasher.state_dict()))
    assert {k: v.shape for k, v in state.items()} == hasher.state_shapes(X.shape[1])
    restored = create_method(name, 24, **hasher.hyper).load_state_dict(state)
    np.testing.assert_array_equal(restored.encode(X), hasher.encode(X))


def test_load_state_dict_refuses_wrong_names_and_shapes(digits):
    X, _ = digits
    state = ITQ(bits=16, n_iter=3).fit(X[:200]).state_dict()
    with pytest.raises(HashvizError, match="missing"):
        ITQ(bits=16, n_iter=3).load_state_dict({k: v for k, v in state.items() if k != "rotation_"})
    with pytest.raises(HashvizError, match="shape"):
        ITQ(bits=32, n_iter=3).load_state_dict(state)
    with pytest.raises(HashvizError, match="shape"):
        ITQ(bits=16, n_iter=4).load_state_dict(state)


def test_unknown_hyper_parameter_is_a_hashviz_error():
    with pytest.raises(HashvizError, match="bad hyper-parameters for itq"):
        create_method("itq", 16, n_iters=5)
    with pytest.raises(HashvizError, match="multiple of 8"):
        create_method("lsh", 12)


def test_encode_before_fit_and_wrong_width_are_refused(digits):
    X, _ = digits
    with pytest.raises(HashvizError, match="not fitted"):
        LSH(bits=8).encode(X)
    with pytest.raises(HashvizError, match="64 features"):
        LSH(bits=8).fit(X).encode(X[:, :10])
    with pytest.raises(HashvizError, match="at least 128"):
        PCAH(bits=128).fit(X)


def test_encode_does_not_learn(digits):
    X, _ = digits
    hasher = ITQ(bits=16, n_iter=5).fit(X[:300])
    before = {k: v.copy() for k, v in hasher.state_dict().items()}
    hasher.encode(X[300:])
    for name, value in hasher.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_itq_rotation_is_orthogonal(digits):
    X, _ = digits
    rotation = ITQ(bits=32, n_iter=10).fit(X).rotation_
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(32), atol=1e-5)


def test_itq_quantization_loss_decreases_over_iterations(digits):
    X, _ = digits
    loss = ITQ(bits=16, n_iter=20).fit(X).quantization_loss_
    assert loss.shape == (21,)
    assert np.all(np.diff(loss) <= 1e-3 * loss[0])
    assert loss[-1] < 0.95 * loss[0]


def test_itq_beats_lsh_on_digits(digits):
    X, y = digits
    order = np.random.default_rng(0).permutation(len(X))
    query, database = order[:200], order[200:]
    scores = {}
    for hasher in (LSH(bits=16), ITQ(bits=16, n_iter=30)):
        hasher.fit(X[database])
        scores[hasher.method_name] = _mean_average_precision(
            hasher.encode(X[query]), hasher.encode(X[database]), y[query], y[database])
    assert scores["itq"] > scores["lsh"] + 0.1, scores


@pytest.mark.parametrize("cls", [PCAH, ITQ])
def test_pca_codes_are_roughly_balanced(cls, digits):
    X, _ = digits
    ones = unpack_bits01(cls(bits=16).fit(X).encode(X)).mean(0)
    assert np.all((ones > 0.25) & (ones < 0.75)), ones
    assert np.abs(ones - 0.5).mean() < 0.06


def test_sh_bit_zero_is_the_lowest_mode_of_the_widest_direction(digits):
    X, _ = digits
    hasher = SH(bits=16).fit(X)
    assert hasher.mode_freqs_[0] == 1
    assert hasher.mode_dims_[0] == np.argmax(hasher.ranges_)
    omega = hasher.mode_freqs_ * np.pi / hasher.ranges_[hasher.mode_dims_]
    assert np.all(np.diff(omega) >= 0)  # modes by increasing eigenvalue
    # the first mode thresholds the widest direction at the middle of its box
    projected = ((X - hasher.mean_) / hasher.scale_) @ hasher.components_[:, hasher.mode_dims_[0]]
    middle = hasher.mins_[hasher.mode_dims_[0]] + hasher.ranges_[hasher.mode_dims_[0]] / 2
    bit0 = unpack_bits01(hasher.encode(X))[:, 0]
    np.testing.assert_array_equal(bit0[np.abs(projected - middle) > 1e-3],
                                  (projected < middle)[np.abs(projected - middle) > 1e-3])


def test_sh_allows_more_bits_than_features():
    X = np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32)
    hasher = SH(bits=16).fit(X)
    assert hasher.encode(X).shape == (300, 2)
    assert hasher.components_.shape == (4, 4)
    assert hasher.state_shapes(4)["mode_dims_"] == (16,)
