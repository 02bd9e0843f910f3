"""Lecture mode: a model trained while a class watches (`hashviz train --quick`, the Train page's
switch), from each classification method's quick recipe (hashviz.methods.registry MethodInfo.quick).

The quick recipe keeps the protocol (fmnist-1k's queries against its whole database) and trades a
leaner network, a training subset and fewer epochs for seconds; `quick_note` says what it gives up
against the method's full recipe, in words the Train page shows.
"""

from __future__ import annotations

from hashviz.methods import MethodInfo

FULL_TRAINING_IMAGES = 5000     # fmnist-1k: 500 per class


def _network(layout: int | None, width: int | None) -> str:
    from hashviz.nets import BACKBONE_LAYOUT, DEFAULT_WIDTH
    return f"layout {layout or BACKBONE_LAYOUT}, width {width or DEFAULT_WIDTH}"


def quick_note(info: MethodInfo) -> str:
    """Markdown: the quick recipe against the full one, and what that costs."""
    quick, full = info.quick, info.recipe
    images = (f"on {quick['max_train']:,} of fmnist-1k's {FULL_TRAINING_IMAGES:,} training images"
              if quick.get("max_train") else f"on all {FULL_TRAINING_IMAGES:,} training images")
    return (f"**Lecture mode** trains {info.name} for {quick['epochs']} epochs instead of {full.get('epochs')}, "
            f"{images}, with a leaner network "
            f"({_network(quick.get('backbone_layout'), quick.get('width'))} against "
            f"{_network(None, None)}). The protocol stays: the 1,000 queries are ranked against the whole "
            "69,000-image database. It gives up quality for time: a lower mAP@all than the full recipe "
            "(docs/recipes.md, \"Lecture mode\", records both) and a model that should not be compared with "
            "full-recipe models as if it were one of them.")
