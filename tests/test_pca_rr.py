"""PCA-RR (Hashing-Baseline, arXiv 2509.14427) against its definition written out in numpy."""

from __future__ import annotations

import numpy as np
import pytest

from hashviz.codes import unpack_bits01
from hashviz.data import load_dataset
from hashviz.hashers import create_hasher
from hashviz.methods import create_method, method_info


def pca_rr_by_definition(train: np.ndarray, test: np.ndarray, bits: int, seed: int) -> np.ndarray:
    """Centre; the top-`bits` eigenvectors of the covariance (each signed so its largest-magnitude
    loading is positive); rotate by Q of the QR of a default_rng(seed) Gaussian (bits, bits); sign."""
    train, test = train.astype(np.float64), test.astype(np.float64)
    mean = train.mean(axis=0)
    centred = train - mean
    values, vectors = np.linalg.eigh(centred.T @ centred / len(train))
    top = vectors[:, np.argsort(values)[::-1][:bits]]
    for j in range(bits):
        if top[np.argmax(np.abs(top[:, j])), j] < 0:
            top[:, j] = -top[:, j]
    rotation, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((bits, bits)))
    return ((test - mean) @ top @ rotation > 0).astype(np.uint8)


@pytest.fixture(scope="module")
def pixels():
    ds = load_dataset("digits")
    return ds.images.reshape(len(ds), -1).astype(np.float32)


@pytest.mark.parametrize("bits, seed", [(16, 0), (32, 7)])
def test_pca_rr_matches_its_definition_on_pixels(pixels, bits, seed):
    hasher = create_method("pca-rr", bits, seed=seed).fit(pixels[:1200])
    expected = pca_rr_by_definition(pixels[:1200], pixels[1200:], bits, seed)
    got = unpack_bits01(hasher.encode(pixels[1200:]))
    # float32 against float64: a bit whose projection is within rounding of 0 may differ
    assert (got != expected).mean() < 1e-3


def test_pca_rr_matches_its_definition_on_feature_vectors():
    """Frozen features are dense real vectors of another scale than pixels; centring only."""
    rng = np.random.default_rng(1)
    features = (rng.standard_normal((600, 64)) @ rng.standard_normal((64, 64)) * 3 + 5).astype(np.float32)
    hasher = create_method("pca-rr", 32, seed=2).fit(features[:500])
    expected = pca_rr_by_definition(features[:500], features[500:], 32, 2)
    assert (unpack_bits01(hasher.encode(features[500:])) != expected).mean() < 1e-3
    np.testing.assert_array_equal(hasher.scale_, np.ones(64, dtype=np.float32))


def test_pca_rr_rotation_is_orthogonal_and_seeded(pixels):
    a = create_method("pca-rr", 32, seed=3).fit(pixels[:500])
    b = create_method("pca-rr", 32, seed=4).fit(pixels[:500])
    np.testing.assert_allclose(a.rotation_ @ a.rotation_.T, np.eye(32), atol=1e-5)
    assert not np.allclose(a.rotation_, b.rotation_)


def test_pca_rr_is_a_registered_shallow_method_and_round_trips(pixels):
    info = method_info("pca-rr")
    assert info.family == "shallow" and not info.deep and "2509.14427" in info.paper
    config = {"method": "pca-rr", "bits": 16, "image_shape": [8, 8]}
    images = load_dataset("digits").images
    fitted = create_hasher(config, seed=0).fit(images[:800])
    restored = create_hasher(config).load_weights(fitted.weights())
    np.testing.assert_array_equal(restored.encode(images[800:]), fitted.encode(images[800:]))
    assert set(restored.weight_shapes()) == set(fitted.weights())
