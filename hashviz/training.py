"""The trainer: seeded, with a progress callback, per-epoch history and model selection on the
validation split only (never the queries).

The validation queries are ranked against a small fixed validation database (training images),
a fifth of an epoch's time, so this runs every epoch of the second half (where the one-cycle
schedule's best epoch falls: at 72 % of the run or later in all 45 deep models of the results
table) and every fourth epoch before, for the curve. Only the chosen model encodes the database.
"""

from __future__ import annotations

import copy
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from hashviz.data import default_protocol, describe_protocol, load_dataset, make_split
from hashviz.errors import HashvizError
from hashviz.methods import method_info

# progress(stage, done, total, info): stage is "train", "encode" or "evaluate".
Progress = Callable[[str, int, int, dict], None]
OUTPUT_SAMPLE = 5000
VALIDATION_DATABASE = 2000


def is_validation_epoch(epoch: int, epochs: int) -> bool:
    """Whether the trainer measures validation mAP after this epoch (1-based); model selection
    picks among these epochs."""
    return epoch == 1 or epoch % 4 == 0 or epoch > epochs // 2


class TrainingCancelled(HashvizError):
    """The caller asked the trainer to stop; nothing was saved."""


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
    width: int = 32
    augment: bool = True
    weight_decay: float | None = None  # AdamW's decoupled decay; None: the recipe's (default 1e-5)
    max_train: int | None = None       # cap on training images (fast tests)
    threads: int | None = None         # torch threads; None: all cores (2 here)
    device: str = "cpu"                # "cuda" where a GPU exists (saved weights are CPU tensors)
    precision: str = "auto"            # "auto": bf16 autocast where the CPU/GPU runs it fast, else fp32

    def resolved(self) -> "TrainSpec":
        info = method_info(self.method)
        spec = copy.deepcopy(self)
        recipe = getattr(info.constructor, "recipe", {}) if info.deep else {}
        spec.protocol = spec.protocol or default_protocol(spec.dataset)
        spec.epochs = spec.epochs if spec.epochs is not None else recipe.get("epochs", 0)
        spec.lr = spec.lr if spec.lr is not None else recipe.get("lr", 0.0)
        spec.batch_size = spec.batch_size or recipe.get("batch_size", 128)
        if spec.precision == "auto" and info.deep:  # config.json records what actually ran
            spec.precision = "bf16" if bf16_is_fast(spec.device) else "fp32"
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


def _emit(progress: Progress | None, stage: str, done: int, total: int, **info) -> None:
    if progress is not None:
        progress(stage, done, total, info)


def _check_stop(should_stop) -> None:
    if should_stop is not None and should_stop():
        raise TrainingCancelled("training cancelled; nothing was saved")


def score_outputs(method, query_outputs, database_outputs, query_labels, database_labels) -> dict:
    """Metrics of a deep method's outputs: Hamming metrics for binary codes, asymmetric-distance
    ranking metrics for pq codes (their codes are codeword indices, not bits)."""
    import torch
    from hashviz.metrics import evaluate
    q = torch.as_tensor(query_outputs, dtype=torch.float32)
    db = torch.as_tensor(database_outputs, dtype=torch.float32)
    if getattr(method, "code_type", "binary") != "pq":
        return evaluate(method.encode_outputs(q), method.encode_outputs(db), query_labels, database_labels)
    from hashviz.metrics import evaluate_index
    from hashviz.search import build_index
    index = build_index(method.encode_outputs(db), code_type="pq", codebooks=method.codebooks(),
                        pq_metric=method.extra_config()["pq"]["metric"])
    return evaluate_index(index, method.embed_outputs(q), query_labels, database_labels)


# ---------------------------------------------------------------- shallow

def _train_shallow(spec, dataset, split, progress, should_stop) -> TrainResult:
    from hashviz.encoders import HASHER
    from hashviz.methods import create_method
    start = time.perf_counter()
    hasher = create_method(spec.method, bits=spec.bits, seed=spec.seed, **spec.hyper)
    train = split.train if spec.max_train is None else split.train[:spec.max_train]
    _emit(progress, "train", 0, 1, epoch=0)
    _check_stop(should_stop)
    hasher.fit(dataset.images[train].reshape(len(train), -1).astype(np.float32))
    weights = {HASHER + k: np.asarray(v) for k, v in hasher.state_dict().items()}
    _emit(progress, "train", 1, 1, epoch=1)
    return TrainResult(spec, weights, [], 0, time.perf_counter() - start,
                       {"hyper": dict(getattr(hasher, "hyper", spec.hyper))})


# ---------------------------------------------------------------- deep

def _train_deep(spec, dataset, split, progress, should_stop) -> TrainResult:
    import torch

    from hashviz.encoders import build_deep, deep_weights
    from hashviz.nets import augmentation, network_outputs, to_tensor
    from hashviz.methods.regularizers import regularization

    torch.manual_seed(spec.seed)
    rng = np.random.default_rng(spec.seed)
    config = _base_config(spec, dataset)
    net, method = build_deep(config)
    net, method = net.to(spec.device), method.to(spec.device)
    params = list(net.parameters()) + list(method.parameters())
    # fused: one kernel for all parameters, 0.6 against 1.5 ms a step on 2 cores
    optimizer = torch.optim.AdamW(params, lr=spec.lr, weight_decay=spec.weight_decay, fused=True)
    train = split.train if spec.max_train is None else split.train[:spec.max_train]
    images, labels = dataset.images[train], torch.as_tensor(np.asarray(dataset.labels[train]))
    steps_per_epoch = max(1, math.ceil(len(train) / spec.batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=spec.lr, total_steps=max(1, spec.epochs) * steps_per_epoch, pct_start=0.2)
    augment = augmentation(dataset.image_shape) if spec.augment else None
    val_images = dataset.images[split.validation]
    val_labels = np.asarray(dataset.labels[split.validation])
    # The validation database: a fixed seeded subset of the training images (encoding
    # all of them every epoch cost a third of the epoch on 2 cores).
    val_db = np.sort(rng.permutation(len(train))[:VALIDATION_DATABASE])
    val_db_images, val_db_labels = images[val_db], labels.numpy()[val_db]
    history, best = [], (-1.0, 0, None)
    autocast = training_autocast(spec.precision, spec.device)
    start = time.perf_counter()
    for epoch in range(1, spec.epochs + 1):
        method.start_epoch(epoch, spec.epochs)
        net.train()
        order = rng.permutation(len(train))
        losses = []
        for step in range(steps_per_epoch):
            _check_stop(should_stop)
            batch = order[step * spec.batch_size:(step + 1) * spec.batch_size]
            x = to_tensor(images[batch]).to(spec.device)
            if augment is not None:
                x = augment(x)
            with autocast:
                u = net(x).float()  # the loss in fp32: bf16 rounding would blur tanh/sign near 0
            loss = method(u, labels[batch].to(spec.device))
            if spec.regularizers:
                loss = loss + regularization(u, spec.regularizers)
            if not torch.isfinite(loss):
                raise HashvizError(f"training stopped: the loss became {loss.item()} at epoch {epoch}, "
                                   f"step {step + 1}; lower the learning rate (now {spec.lr:g}) or "
                                   "the regulariser weights")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            _emit(progress, "train", (epoch - 1) * steps_per_epoch + step + 1,
                  spec.epochs * steps_per_epoch, epoch=epoch, loss=losses[-1])
        entry = {"epoch": epoch, "loss": float(np.mean(losses))}
        if is_validation_epoch(epoch, spec.epochs):
            with autocast:  # selection only; the saved codes are encoded in fp32
                val_outputs = network_outputs(net, val_images), network_outputs(net, val_db_images)
            entry["val_map"] = float(score_outputs(method, *(o.float() for o in val_outputs),
                                                   val_labels, val_db_labels)["map_all"])
            if entry["val_map"] > best[0]:
                best = (entry["val_map"], epoch,
                        (copy.deepcopy(net.state_dict()), copy.deepcopy(method.state_dict())))
        history.append({**entry, "seconds": round(time.perf_counter() - start, 2)})
        _emit(progress, "epoch", epoch, spec.epochs, **history[-1])
    if best[2] is not None:
        net.load_state_dict(best[2][0])
        method.load_state_dict(best[2][1])
    net, method = net.cpu(), method.cpu()
    return TrainResult(spec, deep_weights(net, method), history, best[1],
                       time.perf_counter() - start,
                       {"hyper": method.hyper, "recipe": {"lr": spec.lr, "epochs": spec.epochs},
                        **method.extra_config()})


def bf16_is_fast(device: str) -> bool:
    """Whether bf16 matrix units exist: AMX or AVX512-BF16 on CPUs, bf16 support on CUDA GPUs."""
    import torch
    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " amx_bf16" in flags or " avx512_bf16" in flags


def training_autocast(precision: str, device: str):
    """The forward pass's autocast context. bf16 autocast made a width-32 training step 1.8x and
    a width-48 one 2.4x faster on the 2-core AMX CPU; weights, optimiser state, the loss and all
    encoding stay fp32, so saved models and their codes do not depend on the CPU."""
    import torch
    if precision not in ("auto", "fp32", "bf16"):
        raise HashvizError(f"precision must be auto, fp32 or bf16, not {precision!r}")
    use_bf16 = precision == "bf16" or (precision == "auto" and bf16_is_fast(device))
    return torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=use_bf16)


def _base_config(spec: TrainSpec, dataset) -> dict:
    info = method_info(spec.method)
    from hashviz.nets import BACKBONE_LAYOUT, default_backbone
    return {
        "method": info.name, "family": info.family, "paper": info.paper, "bits": spec.bits,
        "code_type": info.code_type, "dataset": dataset.name, "protocol": spec.protocol,
        "seed": spec.seed, "hyper": dict(spec.hyper), "regularizers": dict(spec.regularizers),
        "backbone": (spec.backbone or default_backbone(dataset.image_shape)) if info.deep else None,
        "width": spec.width, **({"backbone_layout": BACKBONE_LAYOUT} if info.deep else {}),
        "num_classes": len(dataset.class_names),
        "class_names": list(dataset.class_names), "image_shape": list(dataset.image_shape),
    }


def train(spec: TrainSpec, progress: Progress | None = None, should_stop=None) -> TrainResult:
    """Train one model (no encoding of the database, nothing written)."""
    spec = spec.resolved()
    if spec.threads:
        import torch
        torch.set_num_threads(spec.threads)
    dataset = load_dataset(spec.dataset)
    split = make_split(dataset, spec.protocol, spec.seed)
    runner = _train_deep if method_info(spec.method).deep else _train_shallow
    return runner(spec, dataset, split, progress, should_stop)


def build_model(spec: TrainSpec, out: Path, progress: Progress | None = None, should_stop=None,
                overwrite: bool = False) -> Path:
    """Train, encode database and queries, evaluate on the queries, save atomically."""
    import torch

    from hashviz.encoders import Encoder
    from hashviz.metrics import evaluate
    from hashviz.zoo import save_model_dir
    out = Path(out)
    if out.exists() and not overwrite:
        raise HashvizError(f"{out} already exists; choose another --out or remove it first")
    _check_writable(out.parent)
    result = train(spec, progress, should_stop)
    spec = result.spec
    dataset = load_dataset(spec.dataset)
    split = make_split(dataset, spec.protocol, spec.seed)
    config = _base_config(spec, dataset)
    config.update(result.method_config)
    encoder = Encoder(config, result.encoder_weights)
    _check_stop(should_stop)
    t0 = time.perf_counter()
    db_images = dataset.images[split.database]
    db_outputs = encoder.outputs(db_images, progress=lambda d, t: _emit(progress, "encode", d, t))
    q_outputs = encoder.outputs(dataset.images[split.query])
    db_codes, q_codes = encoder.codes_from_outputs(db_outputs), encoder.codes_from_outputs(q_outputs)
    encode_seconds = time.perf_counter() - t0
    _check_stop(should_stop)
    _emit(progress, "evaluate", 0, 1)
    db_labels = np.asarray(dataset.labels[split.database])
    q_labels = np.asarray(dataset.labels[split.query])
    extra = {}
    if encoder.hasher is None:
        metrics = score_outputs(encoder.method, q_outputs, db_outputs, q_labels, db_labels)
        if config["code_type"] == "pq":
            extra = {"query_vectors": encoder.method.embed_outputs(torch.from_numpy(q_outputs)),
                     "codebooks": encoder.method.codebooks()}
    else:
        metrics = evaluate(q_codes, db_codes, q_labels, db_labels)
    metrics["protocol"] = describe_protocol(spec.protocol)
    sample_rows = np.sort(np.random.default_rng(0).choice(
        len(db_codes), size=min(OUTPUT_SAMPLE, len(db_codes)), replace=False)).astype(np.int64)
    config.update({
        "train_seconds": round(result.train_seconds, 2), "encode_seconds": round(encode_seconds, 2),
        "history": result.history, "best_epoch": result.best_epoch,
        "selection": (f"best validation mAP@all over epochs (validation queries vs {VALIDATION_DATABASE} "
                      "training images); the queries are never used"),
        "metrics": metrics, "spec": asdict(spec), "versions": _versions(),
    })
    arrays = {"database": db_codes, "query": q_codes, "database_labels": db_labels,
              "query_labels": q_labels, "database_ids": split.database, "query_ids": split.query,
              "outputs_sample": db_outputs[sample_rows].astype(np.float16),
              "outputs_sample_rows": sample_rows, **extra}
    _check_stop(should_stop)
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
