"""A training run: spec -> data -> hasher.fit -> encode the database and queries -> evaluate -> save.

The hasher comes from its config (hashviz.hashers.create_hasher, by the registry's facts) and learns in its own
`fit` (hashviz.estimators: seeded, progress callback, per-epoch history and model selection on the
validation split only, never the queries).

The validation queries are ranked against a small fixed validation database (training images),
on the schedule of `is_validation_epoch`: every second epoch of the last 30 % (where the
one-cycle schedule's best epoch falls; docs/recipes.md has the runs) and every fourth epoch before,
for the curve. Only the chosen model encodes the database.
"""

from __future__ import annotations

import copy
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from hashviz.codes import MAX_BITS
from hashviz.data import default_protocol, describe_protocol, load_dataset, make_split, seen_labels
from hashviz.errors import HashvizError
from hashviz.estimators import (VALIDATION_DATABASE, Progress, TrainingCancelled, bf16_is_fast, check_stop,
                                default_precision, emit, is_validation_epoch, score_outputs, training_autocast)
from hashviz.hashers import create_hasher
from hashviz.methods import method_info

__all__ = ["TrainSpec", "TrainResult", "TrainingCancelled", "train", "build_model", "is_validation_epoch",
           "training_autocast", "bf16_is_fast", "score_outputs", "Progress", "OUTPUT_SAMPLE"]

OUTPUT_SAMPLE = 5000


@dataclass
class TrainSpec:
    """Everything that defines a training run (recorded in config.json)."""

    method: str
    bits: int
    dataset: str = "fashion-mnist"
    protocol: str | None = None
    seed: int = 0
    epochs: int | None = None          # None: the method's recipe
    lr: float | None = None            # None: the method's recipe
    batch_size: int | None = None      # None: the method's recipe (default 128)
    hyper: dict = field(default_factory=dict)
    regularizers: dict = field(default_factory=dict)
    backbone: str | None = None        # None: small-cnn for grey, cifar-cnn for colour
    pretrained_mode: str | None = None  # efficientnet-lite0: "frozen" (default) or "finetune" (hashviz.pretrained)
    resolution: int | None = None      # efficientnet-lite0: side in pixels the images are resized to (64)
    pretrained_weights: str | None = None  # resnet18: "torchvision" (default), a safetensors file, or "none"
    width: int | None = None           # None: the backbone's default (nets.DEFAULT_WIDTH)
    backbone_layout: int | None = None  # None: nets.BACKBONE_LAYOUT; 3 is the lean one (docs/recipes.md)
    augment: bool = True
    weight_decay: float | None = None  # AdamW's decoupled decay; None: the recipe's (default 1e-5)
    max_train: int | None = None       # cap on training images (fast tests)
    threads: int | None = None         # torch threads; None: all cores (2 here)
    device: str = "cpu"                # "cuda" where a GPU exists (saved weights are CPU tensors)
    precision: str = "auto"            # "auto": bf16 autocast where the CPU/GPU runs it fast, else fp32
    quick: bool = False                # lecture mode: the method's quick recipe (registry MethodInfo.quick)

    def resolved(self) -> "TrainSpec":
        info = method_info(self.method)
        spec = copy.deepcopy(self)
        recipe = info.recipe_for(spec.hyper)
        if spec.quick:
            recipe = _quick_recipe(spec, info)
        spec.protocol = spec.protocol or default_protocol(spec.dataset)
        spec.epochs = spec.epochs if spec.epochs is not None else recipe.get("epochs", 0)
        spec.lr = spec.lr if spec.lr is not None else recipe.get("lr", 0.0)
        spec.batch_size = spec.batch_size or recipe.get("batch_size", 128)
        if spec.backbone == "resnet18":
            spec.pretrained_weights = spec.pretrained_weights or "torchvision"
        elif spec.pretrained_weights not in (None, "none"):
            raise HashvizError("pretrained weights are for --backbone resnet18 only")
        _resolve_pretrained(spec, info)
        if info.deep:  # config.json records what actually ran
            from hashviz.nets import BACKBONE_LAYOUT, DEFAULT_WIDTH
            spec.width = spec.width or DEFAULT_WIDTH
            spec.backbone_layout = spec.backbone_layout or BACKBONE_LAYOUT
            if spec.precision == "auto":
                spec.precision = default_precision(spec.device)
        spec.weight_decay = (spec.weight_decay if spec.weight_decay is not None
                             else recipe.get("weight_decay", 1e-5))
        return spec


@dataclass
class TrainResult:
    spec: TrainSpec
    encoder_weights: dict
    history: list
    best_epoch: int
    train_seconds: float
    method_config: dict
    phase_seconds: dict = field(default_factory=dict)  # data, forward, backward, optimizer, validation


# ---------------------------------------------------------------- the two kinds of hasher

def _quick_recipe(spec: TrainSpec, info) -> dict:
    """Lecture mode: the method's quick recipe, which also sets the network and the training subset
    (what the caller left unset)."""
    if not info.quick:
        from hashviz.methods.registry import quick_methods
        raise HashvizError(f"--quick is for {', '.join(quick_methods())}; {spec.method} has no quick recipe")
    recipe = info.quick
    spec.backbone = spec.backbone or recipe.get("backbone")
    spec.width = spec.width or recipe.get("width")
    spec.max_train = spec.max_train if spec.max_train is not None else recipe.get("max_train")
    return recipe


def _resolve_pretrained(spec: TrainSpec, info) -> None:
    """The pretrained backbone's mode and resolution (hashviz.pretrained), checked."""
    from hashviz.pretrained import DEFAULT_RESOLUTION, NAME, check_choice
    if spec.backbone != NAME:
        if spec.pretrained_mode is not None or spec.resolution is not None:
            raise HashvizError(f"--pretrained-mode and --resolution are for --backbone {NAME} only")
        return
    spec.pretrained_mode = spec.pretrained_mode or "frozen"
    spec.resolution = spec.resolution or DEFAULT_RESOLUTION
    check_choice(spec.pretrained_mode, spec.resolution)
    if not info.deep and spec.pretrained_mode != "frozen":
        raise HashvizError(f"{spec.method} is a shallow method: it hashes frozen features "
                           "(--pretrained-mode frozen); there is no network of its own to fine-tune")


def _inputs(spec: TrainSpec, hasher, dataset, progress):
    """What the hasher learns from, indexed by dataset row: the images, or for a frozen pretrained
    backbone their cached features (computed once per dataset and resolution)."""
    if spec.pretrained_mode == "frozen":
        return hasher.dataset_features(dataset.images, lambda d, t: emit(progress, "features", d, t))
    return dataset.images


def _train_shallow(spec, dataset, split, progress, should_stop) -> TrainResult:
    start = time.perf_counter()
    hasher = create_hasher(_base_config(spec, dataset, split), seed=spec.seed)
    inputs = _inputs(spec, hasher, dataset, progress)
    train = split.train if spec.max_train is None else split.train[:spec.max_train]
    emit(progress, "train", 0, 1, epoch=0)
    check_stop(should_stop)
    hasher.fit(inputs[train])
    emit(progress, "train", 1, 1, epoch=1)
    return TrainResult(spec, hasher.weights(), [], 0, time.perf_counter() - start, hasher.config())


def _train_deep(spec, dataset, split, progress, should_stop) -> TrainResult:
    from hashviz.randomness import seeded_build
    config = _base_config(spec, dataset, split)
    hasher, generator = seeded_build(spec.seed, lambda: create_hasher(config))   # the run's own draws
    pretrained = {}
    if config["backbone"] == "resnet18":      # ImageNet weights, as the spec says
        from hashviz.nets import load_resnet18_weights
        source = spec.pretrained_weights
        pretrained = {"pretrained": "none" if source == "none" else load_resnet18_weights(hasher.net_.backbone, source)}
    elif spec.pretrained_mode == "finetune":
        pretrained = {"pretrained": hasher.net_.backbone.load_imagenet()}
    inputs = _inputs(spec, hasher, dataset, progress)
    train = split.train if spec.max_train is None else split.train[:spec.max_train]
    start = time.perf_counter()
    held_out = split.unseen_classes        # labels over the seen classes: the heads' label space
    hasher.fit(inputs[train], seen_labels(dataset.labels[train], held_out), epochs=spec.epochs, lr=spec.lr,
               batch_size=spec.batch_size, weight_decay=spec.weight_decay, seed=spec.seed, augment=spec.augment,
               regularizers=spec.regularizers,
               validation=(inputs[split.validation], seen_labels(dataset.labels[split.validation], held_out)),
               device=spec.device, precision=spec.precision, progress=progress, should_stop=should_stop,
               generator=generator)
    return TrainResult(spec, hasher.weights(), hasher.history_, hasher.best_epoch_, time.perf_counter() - start,
                       {**hasher.config(), **pretrained, "recipe": {"lr": spec.lr, "epochs": spec.epochs}},
                       hasher.phase_seconds_)


def _base_config(spec: TrainSpec, dataset, split) -> dict:
    info = method_info(spec.method)
    from hashviz.nets import BACKBONE_LAYOUT, default_backbone
    return {
        "method": info.name, "family": info.family, "paper": info.paper, "bits": spec.bits,
        "code_type": info.code_type, "dataset": dataset.name, "protocol": spec.protocol,
        "seed": spec.seed, "hyper": dict(spec.hyper), "regularizers": dict(spec.regularizers),
        "backbone": (spec.backbone or default_backbone(dataset.image_shape)) if info.deep else None,
        **(_pretrained_config(spec) if spec.pretrained_mode else {}),
        **({"width": spec.width, "backbone_layout": spec.backbone_layout or BACKBONE_LAYOUT}
           if info.deep else {}),
        "num_classes": len(dataset.class_names) - len(split.unseen_classes),   # classes trained on
        "class_names": list(dataset.class_names), "image_shape": list(dataset.image_shape),
        **({"unseen_classes": list(split.unseen_classes)} if split.unseen_classes else {}),
    }


def _pretrained_config(spec: TrainSpec) -> dict:
    """config.json's pretrained backbone: its name, mode, resolution and the weights' digest."""
    from hashviz.pretrained import describe_weights
    return {"backbone": spec.backbone, "pretrained_mode": spec.pretrained_mode, "resolution": spec.resolution,
            "pretrained": describe_weights()}


MAX_SEED = 2 ** 32 - 1   # numpy's legacy and torch's seeding both take it


def check_spec(spec: TrainSpec, saving: bool = True) -> None:
    """Every argument in range before anything runs (the CLI and the Train page alike): one clear
    message instead of a traceback mid-training or a model that was never trained. saving=False
    (train() alone, e.g. a test's untrained network) allows 0 epochs."""
    info = method_info(spec.method)

    def bad(flag, why):
        raise HashvizError(f"--{flag} {why}")
    if not isinstance(spec.bits, int) or spec.bits <= 0 or spec.bits % 8 or spec.bits > MAX_BITS:
        bad("bits", f"must be a multiple of 8 from 8 to {MAX_BITS}, got {spec.bits}")
    if not 0 <= spec.seed <= MAX_SEED:
        bad("seed", f"must be 0..{MAX_SEED}, got {spec.seed}")
    if spec.lr is not None and not (math.isfinite(spec.lr) and spec.lr > 0):
        bad("lr", f"must be a positive number, got {spec.lr}")
    if info.deep and spec.epochs is not None and spec.epochs < (1 if saving else 0):
        bad("epochs", f"must be >= 1 (a model trained for {spec.epochs} epochs is untrained), got {spec.epochs}")
    if spec.batch_size is not None and spec.batch_size < 2:
        bad("batch-size", f"must be >= 2, got {spec.batch_size}")
    least = max(2, spec.batch_size or 2, 0 if info.deep else spec.bits)
    if spec.max_train is not None and spec.max_train < least:
        bad("max-train", f"must be >= {least} (training images{'' if info.deep else f' for {spec.bits} bits'}"
            f"{', one batch' if spec.batch_size else ''}), got {spec.max_train}")
    if spec.regularizers and not info.deep:
        bad("reg", f"applies to deep methods only; {spec.method} is {info.family} (closed form): it would be "
            "recorded but never applied")
    defaults = info.defaults
    for name, value in spec.hyper.items():
        if name not in defaults:
            bad("hyper", f"{name} is not a {spec.method} hyper-parameter; known: {', '.join(sorted(defaults)) or 'none'}")
        if not _same_kind(defaults[name], value):
            bad("hyper", f"{name}={value!r} must be {type(defaults[name]).__name__} like its default {defaults[name]!r}")
    info.check_spec(spec)     # hyper-parameters that depend on each other (the ensemble's)


def _same_kind(default, value) -> bool:
    """A hyper-parameter value of the default's kind: bool, finite number (whole for an int) or str."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float)) and math.isfinite(value) and (isinstance(default, float) or value == int(value))
    return isinstance(value, type(default))


def train(spec: TrainSpec, progress: Progress | None = None, should_stop=None) -> TrainResult:
    """Train one model (no encoding of the database, nothing written)."""
    check_spec(spec, saving=False)
    spec = spec.resolved()
    from hashviz.randomness import run_threads
    dataset = load_dataset(spec.dataset)
    split = make_split(dataset, spec.protocol, spec.seed)
    runner = _train_deep if method_info(spec.method).deep else _train_shallow
    with run_threads(spec.threads):
        return runner(spec, dataset, split, progress, should_stop)


def build_model(spec: TrainSpec, out: Path, progress: Progress | None = None, should_stop=None,
                overwrite: bool = False) -> Path:
    """Train, encode database and queries, evaluate on the queries, save atomically; training and
    encoding on the run's thread count (hashviz.randomness.run_threads)."""
    from hashviz.randomness import run_threads
    with run_threads(spec.threads):
        return _build_model(spec, out, progress, should_stop, overwrite)


def _build_model(spec: TrainSpec, out: Path, progress: Progress | None, should_stop, overwrite: bool) -> Path:
    from hashviz.zoo import check_can_write, save_model_dir
    out = Path(out)
    check_spec(spec)
    check_can_write(out, overwrite)   # before training: never delete what is not a model
    _check_writable(out.parent)
    result = train(spec, progress, should_stop)
    spec = result.spec
    dataset = load_dataset(spec.dataset)
    split = make_split(dataset, spec.protocol, spec.seed)
    config = _base_config(spec, dataset, split)
    config.update(result.method_config)
    from hashviz.randomness import global_generator
    with global_generator():
        encoder = create_hasher(config)
    encoder.load_weights(result.encoder_weights)
    check_stop(should_stop)
    t0 = time.perf_counter()
    db_outputs = encoder.dataset_outputs(dataset.images, split.database,
                                         progress=lambda d, t: emit(progress, "encode", d, t))
    q_outputs = encoder.dataset_outputs(dataset.images, split.query)
    db_codes, q_codes = encoder.codes_from_outputs(db_outputs), encoder.codes_from_outputs(q_outputs)
    encode_seconds = time.perf_counter() - t0
    check_stop(should_stop)
    emit(progress, "evaluate", 0, 1)
    db_labels = np.asarray(dataset.labels[split.database])
    q_labels = np.asarray(dataset.labels[split.query])

    def score(q=slice(None), db=slice(None)):   # query rows against database rows
        return encoder.score_outputs(q_outputs[q], db_outputs[db], q_labels[q], db_labels[db])
    metrics = score()
    if split.unseen_classes:
        from hashviz.unseen import settings_metrics
        metrics["settings"] = settings_metrics(score, q_labels, db_labels, split.unseen_classes)
    metrics["protocol"] = describe_protocol(spec.protocol)
    sample_rows = np.sort(np.random.default_rng(0).choice(
        len(db_codes), size=min(OUTPUT_SAMPLE, len(db_codes)), replace=False)).astype(np.int64)
    config.update({
        "train_seconds": round(result.train_seconds, 2), "encode_seconds": round(encode_seconds, 2),
        "train_phase_seconds": {k: round(v, 2) for k, v in result.phase_seconds.items()},
        "history": result.history, "best_epoch": result.best_epoch,
        "selection": (f"best validation mAP@all over epochs (validation queries vs {VALIDATION_DATABASE} "
                      "training images); the queries are never used"),
        "metrics": metrics, "spec": asdict(spec), "versions": _versions(),
    })
    arrays = {"database": db_codes, "query": q_codes, "database_labels": db_labels,
              "query_labels": q_labels, "database_ids": split.database, "query_ids": split.query,
              "outputs_sample": db_outputs[sample_rows].astype(np.float16),
              "outputs_sample_rows": sample_rows, **encoder.search_arrays(q_outputs)}
    check_stop(should_stop)
    return save_model_dir(out, config, arrays, result.encoder_weights, overwrite=overwrite)


def _check_writable(folder: Path) -> None:
    """Fail before training, not after it, when the model could not be saved."""
    import shutil
    import tempfile
    try:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tempfile.mkdtemp(prefix=".probe-", dir=folder))
    except OSError as exc:
        raise HashvizError(f"cannot write to {folder}: {exc.strerror or exc}; nothing was trained") from None


def _versions() -> dict:
    import hashviz
    versions = {"hashviz": hashviz.__version__, "python": platform.python_version(),
                "numpy": np.__version__}
    try:
        import torch
        versions["torch"] = torch.__version__
    except ImportError:
        pass
    return versions
