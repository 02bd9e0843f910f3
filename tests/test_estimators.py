"""hashviz.estimators: deep and shallow hashers share fit / encode, and come only from the registry."""

import numpy as np
import pytest

from hashviz.data import load_dataset
from hashviz.errors import HashvizError
from hashviz.hashers import create_hasher


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def config(method, **extra):
    return {"method": method, "bits": 16, "image_shape": [8, 8], "num_classes": 10, "width": 8,
            "backbone": "small-cnn", "backbone_layout": 2, "hyper": {}, **extra}


def signs_packed(outputs):
    """Packed codes written out: bit 1 where the output is positive (sign(0) = -1), bit 0 first."""
    bits = (np.asarray(outputs) > 0).astype(np.uint8)
    return np.array([[int("".join(map(str, row[i:i + 8])), 2) for i in range(0, bits.shape[1], 8)]
                     for row in bits], dtype=np.uint8)


@pytest.mark.parametrize("method", ["dpsh", "itq"])
def test_fit_learns_state_ending_in_underscore_and_encode_gives_packed_sign_codes(method, digits):
    images, labels = digits.images[:300], np.asarray(digits.labels[:300])
    hasher = create_hasher(config(method), **({"seed": 0} if method == "itq" else {}))
    assert not hasattr(hasher, "history_")                     # nothing learned before fit
    assert hasher.fit(images, labels, epochs=1, lr=1e-3, batch_size=32, weight_decay=1e-5) is hasher
    assert isinstance(hasher.history_, list) and hasher.best_epoch_ in (0, 1)
    codes = hasher.encode(images[:20])
    assert codes.dtype == np.uint8 and codes.shape == (20, 2)
    np.testing.assert_array_equal(codes, signs_packed(hasher.outputs(images[:20])))


@pytest.mark.parametrize("method", ["dpsh", "itq"])
def test_weights_round_trip_through_a_fresh_hasher_from_the_same_config(method, digits):
    images, labels = digits.images[:200], np.asarray(digits.labels[:200])
    fitted = create_hasher(config(method)).fit(images, labels, epochs=1, lr=1e-3, batch_size=32,
                                                 weight_decay=1e-5)
    again = create_hasher(config(method)).load_weights(fitted.weights())
    assert set(fitted.weights()) == set(again.weight_shapes())
    np.testing.assert_array_equal(again.encode(images[:30]), fitted.encode(images[:30]))


def test_the_registry_refuses_unknown_methods_and_images_of_another_shape(digits):
    with pytest.raises(HashvizError, match="unknown method 'nope'"):
        create_hasher(config("nope"))
    hasher = create_hasher(config("lsh"), seed=0).fit(digits.images[:50])
    with pytest.raises(HashvizError, match=r"uint8 images of shape \(8, 8\)"):
        hasher.encode(np.zeros((2, 28, 28), np.uint8))


def test_a_five_step_run_trains(digits):
    """5 optimizer steps (160 images, batch 32, one epoch) once made OneCycleLR divide by a zero-step
    warm-up (ZeroDivisionError inside torch); the run trains and encodes."""
    images, labels = digits.images[:160], np.asarray(digits.labels[:160])
    hasher = create_hasher(config("dpsh"))
    hasher.fit(images, labels, epochs=1, lr=1e-3, batch_size=32, weight_decay=1e-5)
    assert hasher.encode(images[:4]).shape == (4, 2)
