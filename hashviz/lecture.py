"""Lecture mode: a model trained while a class watches (`hashviz train --quick`, the Train page's
switch), from each classification method's quick recipe (hashviz.methods.registry MethodInfo.quick).

The quick recipe keeps the protocol (fmnist-1k's queries against its whole database) and the
training images, and trades the network (hashviz.tiny_cnn) and over half the epochs for seconds;
`quick_note` says what it gives up against the method's full recipe, with the measured figures.
"""

from __future__ import annotations

from hashviz.methods import MethodInfo

FULL_TRAINING_IMAGES = 5000     # fmnist-1k: 500 per class

#: mAP@all at 32 bits on fmnist-1k: the quick recipe at seed 0 and the full recipe's mean over its
#: seeds (docs/results.md). docs/recipes.md ("Lecture mode") holds the runs, their commands and CPU.
MEASURED_MAP = {"classifier-code": (0.758, 0.777), "csq": (0.809, 0.808), "greedyhash": (0.821, 0.849),
                "orthohash": (0.811, 0.836), "ssdh": (0.812, 0.817)}
#: Wall seconds of a whole quick run (start-up, training, encoding the database, scoring, saving) on
#: two idle cores with the CPU's bf16 units switched off: the lowest and highest of the five methods'
#: medians over two measurements (docs/recipes.md); and of the full GreedyHash recipe on such a CPU
QUICK_WALL_SECONDS, FULL_WALL_SECONDS = (7.5, 9.1), 87
SEED_NOISE = 0.01               # two models' mAP@all closer than this is a tie between seeds


def _network(backbone: str | None, width: int | None) -> str:
    from hashviz.nets import DEFAULT_WIDTH
    if backbone == "tiny-cnn":
        return f"a tiny CNN (one strided 4x4 convolution of {width} channels and a fully connected layer)"
    return f"the small CNN (three 3x3 convolution blocks, width {width or DEFAULT_WIDTH})"


def _cost_in_quality(info: MethodInfo) -> str:
    if info.name not in MEASURED_MAP:
        return "It gives up quality for time: the tiny network sees shapes less well."
    quick, full = MEASURED_MAP[info.name]
    measured = f"mAP@all {quick:.3f} at seed 0 against the full recipe's {full:.3f} (mean over seeds)"
    if quick < full - SEED_NOISE:
        return f"It gives up quality for time: the tiny network sees shapes less well, {measured}."
    return (f"It trades the network and over half the epochs for time; for {info.name} the measured cost in "
            f"quality is within seed noise, {measured}.")


def quick_note(info: MethodInfo) -> str:
    """Markdown: the quick recipe against the full one, and what that costs."""
    quick, full = info.quick, info.recipe
    images = (f"on {quick['max_train']:,} of fmnist-1k's {FULL_TRAINING_IMAGES:,} training images"
              if quick.get("max_train") else f"on the same {FULL_TRAINING_IMAGES:,} training images")
    low, high = QUICK_WALL_SECONDS
    return (f"**Lecture mode** trains {info.name} for {quick['epochs']} epochs instead of {full.get('epochs')}, "
            f"{images}, with {_network(quick.get('backbone'), quick.get('width'))} in place of "
            f"{_network(None, None)}. The protocol stays: the 1,000 queries are ranked against the whole "
            f"69,000-image database. The whole run takes about {low:g}-{high:g} s on 2 idle cores of a CPU "
            f"without bf16 units; the full recipe takes over a minute "
            f"(GreedyHash: {FULL_WALL_SECONDS} s on 2 cores). {_cost_in_quality(info)} Compare a quick model "
            "with full-recipe models only as what it is (docs/recipes.md, \"Lecture mode\").")
