"""Lecture mode: the classification family's quick recipes resolve into the run, other methods are
refused with one message, and the note states the two recipes."""

import pytest

from hashviz.errors import HashvizError
from hashviz.lecture import quick_note
from hashviz.methods import list_methods, method_info
from hashviz.methods.registry import quick_methods
from hashviz.training import TrainSpec


def test_every_classification_method_has_a_quick_recipe_and_nothing_else_does():
    assert sorted(quick_methods()) == sorted(m.name for m in list_methods("classification"))
    assert {"csq", "greedyhash", "orthohash", "ssdh", "classifier-code"} <= set(quick_methods())


@pytest.mark.parametrize("method", ["greedyhash", "csq"])
def test_quick_spec_takes_the_quick_recipe(method):
    quick = method_info(method).quick
    spec = TrainSpec(method, 32, quick=True).resolved()
    assert (spec.epochs, spec.lr, spec.batch_size) == (quick["epochs"], quick["lr"], quick["batch_size"])
    assert (spec.width, spec.backbone_layout, spec.max_train) == (quick["width"], quick["backbone_layout"],
                                                                 quick.get("max_train"))
    assert spec.protocol == "fmnist-1k"                 # the protocol is kept
    assert spec.epochs < method_info(method).recipe["epochs"]
    given = TrainSpec(method, 32, quick=True, epochs=3).resolved()
    assert given.epochs == 3                            # what the caller sets wins


def test_quick_refuses_methods_without_a_quick_recipe():
    with pytest.raises(HashvizError, match="--quick is for .*greedyhash.*; dpsh has no quick recipe"):
        TrainSpec("dpsh", 32, quick=True).resolved()


def test_the_note_states_both_recipes():
    info = method_info("greedyhash")
    note = quick_note(info)
    assert f"for {info.quick['epochs']} epochs instead of {info.recipe['epochs']}" in note
    assert f"width {info.quick['width']}" in note and "69,000-image database" in note
