"""Ensemble hashing (hashviz.methods.ensemble, hashviz.ensemble_hasher.EnsembleHasher): K members of bits/K whose codes are
concatenated. Truth here: each member loaded and encoded on its own, as a single model of its method."""

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from hashviz.cli import main
from hashviz.data import load_dataset
from hashviz.encoders import load_encoder, read_weights
from hashviz.errors import HashvizError
from hashviz.hashers import create_hasher
from hashviz.methods import method_info
from hashviz.retrieval.query import Query, query_code
from hashviz.training import TrainSpec, check_spec
from hashviz.zoo import load_model_dir


def config(method, bits, **hyper):
    return {"method": method, "bits": bits, "image_shape": [8, 8], "num_classes": 10, "width": 8,
            "backbone": "small-cnn", "backbone_layout": 2, "hyper": hyper}


def members_alone(weights, member_config, count, images):
    """Each member built as a single model of member_config from its own weights, encoding by itself."""
    codes = []
    for k in range(count):
        prefix = f"member{k}."
        alone = create_hasher(member_config).load_weights(
            {name[len(prefix):]: v for name, v in weights.items() if name.startswith(prefix)})
        codes.append(alone.encode(images))
    return codes


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def fitted(digits):
    hasher = create_hasher(config("ensemble", 32, member="greedyhash", members=2))
    hasher.fit(digits.images[:200], np.asarray(digits.labels[:200]), epochs=1, lr=1e-3, batch_size=64,
               weight_decay=1e-5, seed=3)
    return hasher


def test_codes_are_the_members_codes_side_by_side_and_bits_add_up(fitted, digits):
    images = digits.images[300:340]
    codes = fitted.encode(images)
    first, second = members_alone(fitted.weights(), config("greedyhash", 16), 2, images)
    assert codes.shape == (40, 4) and first.shape == second.shape == (40, 2)     # 16 + 16 = 32 bits
    np.testing.assert_array_equal(codes[:, :2], first)
    np.testing.assert_array_equal(codes[:, 2:], second)
    assert not np.array_equal(first, second)          # two seeds, two different members
    assert [r["seed"] for r in fitted.member_records_] == [6, 7]                   # seed 3 * 2 members + k
    assert [r["bits"] for r in fitted.member_records_] == [16, 16]
    assert all(0 <= r["val_map"] <= 1 for r in fitted.member_records_ if r["val_map"] is not None)


def test_weights_round_trip_through_safetensors(fitted, digits, tmp_path):
    weights = fitted.weights()
    assert weights and all(name.split(".")[0] in ("member0", "member1") for name in weights)
    assert {name.split(".", 1)[1].split(".")[0] for name in weights} == {"net", "method"}
    save_file({k: np.ascontiguousarray(v) for k, v in weights.items()}, str(tmp_path / "w.safetensors"))
    again = create_hasher(config("ensemble", 32, member="greedyhash", members=2))
    again.load_weights(load_file(str(tmp_path / "w.safetensors")))
    assert set(again.weight_shapes()) == set(weights)
    images = digits.images[:25]
    np.testing.assert_array_equal(again.encode(images), fitted.encode(images))


def test_bootstrap_members_train_on_resampled_images(digits):
    hasher = create_hasher(config("ensemble", 16, member="greedyhash", members=2, sampling="bootstrap"))
    hasher.fit(digits.images[:120], np.asarray(digits.labels[:120]), epochs=1, lr=1e-3, batch_size=64,
               weight_decay=1e-5, seed=0)
    for record in hasher.member_records_:
        rows = np.random.default_rng(record["seed"]).integers(0, 120, 120)  # the draw written out
        assert record["sampling"] == "bootstrap" and record["distinct_training_images"] == len(np.unique(rows)) < 120


def test_hashviz_train_builds_a_loadable_ensemble_whose_upload_codes_concatenate(tmp_path, digits, capsys):
    out = tmp_path / "ens"
    assert main(["train", "--method", "ensemble", "--hyper", "member=greedyhash", "--hyper", "members=2",
                 "--bits", "16", "--dataset", "digits", "--epochs", "1", "--max-train", "150",
                 "--out", str(out)]) == 0
    assert "saved" in capsys.readouterr().out
    model = load_model_dir(out)
    assert (model.method, model.family, model.bits) == ("ensemble", "ensemble", 16)
    assert model.config["hyper"] == {"member": "greedyhash", "members": 2, "sampling": "seeds"}
    assert [m["seed"] for m in model.config["members"]] == [0, 1]
    assert all(isinstance(m["val_map"], float) for m in model.config["members"])
    assert model.config["spec"]["epochs"] == 1 and model.outputs_sample.shape[1] == 16
    assert not list(out.glob("*.pt")) and not list(out.glob("*.pkl"))
    weights = read_weights(out)
    member_config = {**model.config, "method": "greedyhash", "bits": 8, "hyper": {}}   # shaped as saved
    rows = model.database_ids[:30]
    alone = np.concatenate(members_alone(weights, member_config, 2, digits.images[rows]), axis=1)
    np.testing.assert_array_equal(model.database_codes[:30], alone)        # stored codes = members side by side
    upload = np.array(digits.images[int(model.database_ids[5])])          # not a stored query: encoded now
    code = query_code(model, Query("upload.png", upload, None), encoder=lambda: load_encoder(model))
    assert code.encoded and code.code.shape == (1, 2)
    np.testing.assert_array_equal(code.code, np.concatenate(members_alone(weights, member_config, 2, upload[None]), axis=1))


@pytest.mark.parametrize("bits, hyper, message", [
    (32, {"members": 3}, "members=3 does not split 32 bits into members of a multiple of 8"),
    (16, {"members": 4}, "members=4 does not split 16 bits"),
    (32, {"member": "nonsense"}, "--hyper member: unknown method 'nonsense'"),
    (32, {"member": "ensemble"}, "an ensemble's members cannot be ensembles"),
    (32, {"member": "itq"}, "itq is a shallow method"),
    (32, {"member": "dpq"}, "dpq is a pq method"),
    (32, {"members": 1}, "members must be a whole number from 2 to 16, got 1"),
    (32, {"sampling": "bagging"}, "sampling must be one of seeds, bootstrap, got 'bagging'"),
])
def test_bad_ensembles_are_refused_before_training_with_one_message(bits, hyper, message):
    with pytest.raises(HashvizError) as caught:
        check_spec(TrainSpec("ensemble", bits, hyper=hyper))
    assert message in str(caught.value)
    with pytest.raises(HashvizError, match="does not split|cannot be ensembles|unknown method|is a|must be"):
        create_hasher(config("ensemble", bits, **{"member": "greedyhash", **hyper}))


def test_cli_refusal_prints_one_line(tmp_path, capsys):
    assert main(["train", "--method", "ensemble", "--hyper", "members=3", "--bits", "32", "--dataset", "digits",
                 "--out", str(tmp_path / "x")]) != 0
    err = capsys.readouterr().err
    assert "does not split 32 bits" in err and "Traceback" not in err and not (tmp_path / "x").exists()


def test_the_ensemble_trains_with_its_members_recipe():
    spec = TrainSpec("ensemble", 32, hyper={"member": "csq"}).resolved()
    assert (spec.epochs, spec.lr) == (method_info("csq").recipe["epochs"], method_info("csq").recipe["lr"])
    assert spec.batch_size == method_info("csq").recipe["batch_size"]


def test_the_ensemble_ablation_compares_with_its_member_at_the_same_bits():
    from hashviz.ablations import ABLATIONS, ENSEMBLE
    from hashviz.zoo_build import STARTER_ZOO
    arm, = ENSEMBLE.arms
    spec = TrainSpec(arm.method, arm.bits, **arm.spec)
    check_spec(spec)
    member = spec.hyper["member"]
    assert ENSEMBLE in ABLATIONS and STARTER_ZOO[arm.name] == "ensemble"
    assert arm.baseline == f"{member}-{spec.bits}" and arm.baseline_method == member
    ensemble = create_hasher({**config("ensemble", spec.bits, **spec.hyper)})
    assert sum(m.method_.bits for m in ensemble.members_) == spec.bits == ensemble.encode(
        np.zeros((1, 8, 8), np.uint8)).shape[1] * 8
