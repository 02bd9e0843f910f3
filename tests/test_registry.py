"""The method registry is a table: facts read without torch, classes take their row's facts, the
estimators pick construction by the row's kind, and the trainer asks the row (never the class)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hashviz.errors import HashvizError
from hashviz.methods import create_method, list_methods, method_info
from hashviz.methods.registry import FAMILY_INFO, KINDS, bind_facts

REPO = Path(__file__).resolve().parent.parent

READ_FACTS = """
import json, sys
from hashviz.methods.registry import FAMILY_INFO, list_methods, method_info, quick_methods
from hashviz.methods.ensemble import check_ensemble
from hashviz.training import TrainSpec    # noqa: F401  (the trainer's spec, without training)
facts = {i.name: [i.family, i.paper, i.code_type, i.kind, i.defaults, i.recipe_for({}), i.views]
         for i in list_methods()}
check_ensemble(32, method_info("ensemble").defaults)
print(json.dumps({"methods": len(facts), "quick": quick_methods(),
                  "torch": sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision"))}))
"""


def test_method_and_family_facts_import_without_torch():
    """A fresh interpreter lists every method with its facts, checks an ensemble and has imported no torch."""
    proc = subprocess.run([sys.executable, "-c", READ_FACTS], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["torch"] == [] and found["methods"] == len(list_methods()) >= 20
    assert "greedyhash" in found["quick"]


def test_every_row_is_consistent_with_its_family_and_class():
    for info in list_methods():
        assert info.kind in KINDS and info.family in FAMILY_INFO
        assert (info.kind == "shallow") == (not info.deep), info.name
        assert info.supervised == FAMILY_INFO[info.family].supervised
        cls = info.constructor
        if cls is None:
            continue
        # the class took its row's facts: nothing is declared twice
        assert (cls.method_name, cls.defaults) == (info.name, info.defaults), info.name
        if info.deep:
            assert (cls.code_type, cls.views, cls.supervised) == (info.code_type, info.views, info.supervised)
        assert not info.deep or set(info.recipe) >= {"lr", "epochs"}, info.name


def test_a_class_naming_another_row_is_refused():
    class Impostor:
        pass
    with pytest.raises(ValueError, match="names hashviz.methods.pairwise:DPSH"):
        bind_facts(Impostor, "dpsh")


def test_hyper_parameter_defaults_come_from_the_row():
    method = create_method("dtsh", 16, num_classes=3, alpha=1.0)
    assert method.hyper == {"max_triplets": 100_000, "alpha": 1.0, "lam": 0.1}     # the row, one value given
    with pytest.raises(HashvizError, match="bad hyper-parameters for dtsh"):
        create_method("dtsh", 16, beta=1.0)
    with pytest.raises(HashvizError, match="built by its estimator"):
        create_method("ensemble", 32)


def test_the_ensemble_recipe_is_its_members():
    ensemble = method_info("ensemble")
    assert ensemble.recipe == method_info(ensemble.defaults["member"]).recipe == {"lr": 2e-3, "epochs": 40,
                                                                                   "batch_size": 256}
    assert ensemble.recipe_for({"member": "dpsh"}) == {"lr": 1e-3, "epochs": 40, "batch_size": 64}
    assert method_info("dpsh").recipe_for({"eta": 0.5}) is method_info("dpsh").recipe


def test_the_kind_picks_the_estimator():
    from hashviz.ensemble_hasher import EnsembleHasher
    from hashviz.estimators import DeepHasher, ShallowImageHasher
    from hashviz.hashers import create_hasher
    shape = {"image_shape": [8, 8], "width": 8, "backbone_layout": 2, "num_classes": 3}
    assert type(create_hasher({"method": "itq", "bits": 8, **shape})) is ShallowImageHasher
    assert type(create_hasher({"method": "dpq", "bits": 16, **shape})) is DeepHasher
    ensemble = create_hasher({"method": "ensemble", "bits": 16, "hyper": {"member": "dpsh"}, **shape})
    assert type(ensemble) is EnsembleHasher and [type(m) for m in ensemble.members_] == [DeepHasher] * 2
    assert [m.method_.method_name for m in ensemble.members_] == ["dpsh", "dpsh"]
    with pytest.raises(HashvizError, match="cannot train on frozen features"):
        create_hasher({"method": "ensemble", "bits": 16, "pretrained_mode": "frozen", **shape})


def test_the_views_pick_the_augmentation():
    from hashviz.augment import BatchShiftFlip, BatchViews, batch_augmentation
    assert method_info("cibhash").views == 2 and method_info("bihalf").views == 1
    views = batch_augmentation((28, 28), method_info("cibhash").views)
    assert type(views) is BatchViews and not views.flip                 # grey sets: one orientation
    single = batch_augmentation((32, 32, 3), method_info("dpsh").views)
    assert type(single) is BatchShiftFlip and (single.max_shift, single.flip) == (4, True)
