"""Hashers as estimators, deep and shallow alike (scikit-learn style):

    hasher = create_hasher(config)        # hashviz.hashers: the only door from a config
    hasher.fit(images, labels, ...)       # learns; what it learned ends in `_`
    codes = hasher.encode(images)         # uint8 (n, H, W[, C]) -> packed codes uint8 (n, bits // 8)
                                          # (pq methods: codeword indices uint8 (n, M))

`outputs(images)` gives the continuous outputs u before the sign (or before the codebook lookup),
`codes_from_outputs(u)` the codes from them, so a caller that keeps u encodes once, and
`score_outputs` / `search_arrays` what the model directory records of them. `weights()` and
`load_weights(...)` move the learned state to and from weights.safetensors ("net.*" and "method.*"
for deep hashers, "hasher.*" for shallow ones; ensembles: hashviz.ensemble_hasher).

The deep trainer's loop lives in `DeepHasher.fit`: seeded, a progress callback, model selection on
the validation split only (never the queries), a cancel check before every step.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np

from hashviz.codes import pack_signs
from hashviz.errors import HashvizError
from hashviz.methods.protocols import DeepMethod

NET, METHOD, HASHER = "net.", "method.", "hasher."
VALIDATION_DATABASE = 2000

# progress(stage, done, total, info): stage is "train", "epoch", "encode" or "evaluate".
Progress = Callable[[str, int, int, dict], None]


class TrainingCancelled(HashvizError):
    """The caller asked the trainer to stop; nothing was saved."""


def emit(progress: Progress | None, stage: str, done: int, total: int, **info) -> None:
    if progress is not None:
        progress(stage, done, total, info)


def check_stop(should_stop) -> None:
    if should_stop is not None and should_stop():
        raise TrainingCancelled("training cancelled; nothing was saved")


def is_validation_epoch(epoch: int, epochs: int) -> bool:
    """Whether the trainer measures validation mAP after this epoch (1-based); model selection
    picks among these epochs: the first, every fourth (for the curve) and every second epoch of
    the last 30 %, the last included. The best epoch falls late in a run, so this schedule keeps
    the selection while validating about a third of the epochs (measurements: docs/recipes.md)."""
    return epoch == 1 or epoch % 4 == 0 or (10 * epoch > 7 * epochs and (epochs - epoch) % 2 == 0)


def bf16_is_fast(device: str) -> bool:
    """Whether bf16 matrix units exist: AMX or AVX512-BF16 on CPUs, bf16 support on CUDA GPUs."""
    import torch
    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    # ATEN_CPU_CAPABILITY below avx512 (set to run as an AVX2-only CPU would) rules bf16 out too
    capability = torch.backends.cpu.get_cpu_capability()
    return (" amx_bf16" in flags or " avx512_bf16" in flags) and capability.startswith("AVX512")


PRECISIONS = ("auto", "fp32", "bf16")


def default_precision(device: str) -> str:
    """What "auto" means: $HASHVIZ_PRECISION when set to fp32 or bf16 (to measure or force one
    path), else bf16 where the hardware runs it fast and fp32 elsewhere."""
    chosen = os.environ.get("HASHVIZ_PRECISION", "auto").strip().lower() or "auto"
    if chosen not in PRECISIONS:
        raise HashvizError(f"HASHVIZ_PRECISION must be auto, fp32 or bf16, not {chosen!r}")
    if chosen != "auto":
        return chosen
    return "bf16" if bf16_is_fast(device) else "fp32"


class PhaseClock:
    """Wall seconds spent in each phase of the training loop (bench/train_speed.py prints them).
    CPU torch ops are synchronous, so perf_counter around them is their cost."""

    def __init__(self):
        self.seconds = defaultdict(float)

    @contextmanager
    def __call__(self, phase: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - start


def training_autocast(precision: str, device: str):
    """The forward pass's autocast context: bf16 where the CPU has bf16 matrix units, which makes a
    training step faster (docs/recipes.md); weights, optimiser state, the loss and all encoding stay
    fp32, so saved models and their codes do not depend on the CPU."""
    import torch
    if precision not in PRECISIONS:
        raise HashvizError(f"precision must be auto, fp32 or bf16, not {precision!r}")
    use_bf16 = (default_precision(device) if precision == "auto" else precision) == "bf16"
    return torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=use_bf16)


def score_outputs(method: DeepMethod, query_outputs, database_outputs, query_labels, database_labels) -> dict:
    """Metrics of a deep method's outputs in its code space (hashviz.code_space.outputs_space): Hamming
    metrics for binary codes, asymmetric-distance ranking metrics for pq codes."""
    import torch
    from hashviz.code_space import outputs_space
    q = torch.as_tensor(query_outputs, dtype=torch.float32)
    db = torch.as_tensor(database_outputs, dtype=torch.float32)
    return outputs_space(method, q, db, query_labels, database_labels).evaluate()


def image_shape(config: dict) -> list[int]:
    """The shape of the images a config's hasher encodes (28x28 grey when the config does not say)."""
    return config.get("image_shape") or [28, 28]


class ImageHasher:
    """What every hasher shares: the image shape it encodes, and encode = codes of the outputs."""

    deep = False

    def __init__(self, image_shape):
        self.image_shape = tuple(image_shape)

    def check_images(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.dtype != np.uint8 or tuple(images.shape[1:]) != self.image_shape:
            raise HashvizError(f"this model encodes uint8 images of shape {self.image_shape}, "
                               f"got {images.dtype} {images.shape[1:]}")
        return images

    def outputs(self, images: np.ndarray, progress=None) -> np.ndarray:
        raise NotImplementedError

    def codes_from_outputs(self, outputs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def encode(self, images: np.ndarray, progress=None) -> np.ndarray:
        """uint8 images (n, H, W[, C]) -> stored codes: packed sign bits, or pq codeword indices."""
        return self.codes_from_outputs(self.outputs(images, progress=progress))

    def dataset_outputs(self, images: np.ndarray, rows: np.ndarray, progress=None) -> np.ndarray:
        """The outputs of images[rows], `images` a whole dataset (a frozen pretrained model reads
        its cached features of the dataset instead: hashviz.frozen)."""
        return self.outputs(images[rows], progress=progress)

    def score_outputs(self, query_outputs, database_outputs, query_labels, database_labels) -> dict:
        """The metric dict (hashviz.metrics' keys) of queries against a database given as outputs:
        here both are encoded, and each query ranks the database by its own packed bits."""
        from hashviz.metrics import evaluate
        return evaluate(self.codes_from_outputs(query_outputs), self.codes_from_outputs(database_outputs),
                        query_labels, database_labels)

    def search_arrays(self, query_outputs: np.ndarray) -> dict[str, np.ndarray]:
        """What the model directory stores beside the codes for its queries to search with: nothing,
        where a query's code is its search key."""
        return {}


class ShallowImageHasher(ImageHasher):
    """A shallow hasher (hashviz.methods.shallow: LSH, PCAH, ITQ, SH) over flattened pixels."""

    def __init__(self, hasher, image_shape):
        super().__init__(image_shape)
        self.hasher = hasher

    def _features(self, images: np.ndarray) -> np.ndarray:
        images = self.check_images(images)
        return images.reshape(len(images), -1).astype(np.float32)

    def fit(self, images: np.ndarray, labels=None, **_ignored) -> "ShallowImageHasher":
        """Learn from the pixels (labels are not used: shallow hashers are unsupervised)."""
        self.hasher.fit(self._features(images))
        self.history_, self.best_epoch_ = [], 0
        return self

    def outputs(self, images: np.ndarray, progress=None) -> np.ndarray:
        return self.hasher.outputs(self._features(images))

    def codes_from_outputs(self, outputs: np.ndarray) -> np.ndarray:
        return pack_signs(outputs)

    def weights(self) -> dict[str, np.ndarray]:
        return {HASHER + k: np.asarray(v) for k, v in self.hasher.state_dict().items()}

    def load_weights(self, weights: dict[str, np.ndarray]) -> "ShallowImageHasher":
        self.hasher.load_state_dict({k[len(HASHER):]: v for k, v in weights.items() if k.startswith(HASHER)})
        return self

    def weight_shapes(self) -> dict[str, tuple]:
        n_features = int(np.prod(self.image_shape))
        return {HASHER + k: tuple(v) for k, v in self.hasher.state_shapes(n_features).items()}

    def config(self) -> dict:
        """What config.json records of the hasher beyond its name and bits."""
        return {"hyper": dict(getattr(self.hasher, "hyper", {}))}


class DeepHasher(ImageHasher):
    """A network (backbone + hash head, hashviz.nets) trained with a deep method's loss module
    (hashviz.methods; what the hasher asks of it: hashviz.methods.protocols.DeepMethod), which may
    own parameters of its own (a classifier, codebooks)."""

    deep = True

    def __init__(self, method: DeepMethod, image_shape, backbone: str = "small-cnn", width: int = 32, layout: int = 1,
                 resolution: int | None = None):
        from hashviz.nets import HashNetwork
        super().__init__(image_shape)
        channels = 1 if len(self.image_shape) == 2 else int(self.image_shape[2])
        self.method_ = method
        self.net_ = HashNetwork(backbone, channels, method.output_dim, width=width, layout=layout,
                                resolution=resolution)

    # ------------------------------------------------------------ learned state
    def weights(self) -> dict[str, np.ndarray]:
        """Both modules' state as one flat dict of numpy arrays (for safetensors)."""
        out = {NET + k: v.detach().cpu().numpy() for k, v in self.net_.state_dict().items()}
        out.update({METHOD + k: v.detach().cpu().numpy() for k, v in self.method_.state_dict().items()})
        return out

    def load_weights(self, weights: dict[str, np.ndarray]) -> "DeepHasher":
        import torch
        for prefix, module in ((NET, self.net_), (METHOD, self.method_)):
            module.load_state_dict({k[len(prefix):]: torch.from_numpy(v.copy()) for k, v in weights.items()
                                    if k.startswith(prefix)})
        self.net_.eval()
        return self

    def weight_shapes(self) -> dict[str, tuple]:
        return {**{NET + k: tuple(v.shape) for k, v in self.net_.state_dict().items()},
                **{METHOD + k: tuple(v.shape) for k, v in self.method_.state_dict().items()}}

    def config(self) -> dict:
        return {"hyper": self.method_.hyper, **self.method_.extra_config()}

    # ------------------------------------------------------------ encoding
    def outputs(self, images: np.ndarray, progress=None) -> np.ndarray:
        from hashviz.nets import network_outputs
        return network_outputs(self.net_, self.check_images(images), progress=progress).numpy()

    def codes_from_outputs(self, outputs: np.ndarray) -> np.ndarray:
        import torch
        return self.method_.encode_outputs(torch.from_numpy(np.asarray(outputs, dtype=np.float32)))

    def query_vectors(self, outputs: np.ndarray) -> np.ndarray:
        """pq methods (hashviz.methods.protocols.ProductQuantizer): the query embeddings that
        asymmetric distances compare with the codebooks."""
        import torch
        return self.method_.embed_outputs(torch.from_numpy(np.asarray(outputs, dtype=np.float32)))

    def score_outputs(self, query_outputs, database_outputs, query_labels, database_labels) -> dict:
        """The metrics in the method's code space: a pq method's queries rank by their vectors."""
        return score_outputs(self.method_, query_outputs, database_outputs, query_labels, database_labels)

    def search_arrays(self, query_outputs: np.ndarray) -> dict[str, np.ndarray]:
        import torch
        return self.method_.search_arrays(torch.from_numpy(np.asarray(query_outputs, dtype=np.float32)))

    # ------------------------------------------------------------ learning
    def fit(self, images: np.ndarray, labels: np.ndarray, *, epochs: int, lr: float, batch_size: int,
            weight_decay: float, seed: int = 0, augment: bool = True, regularizers: dict | None = None,
            validation: tuple[np.ndarray, np.ndarray] | None = None, device: str = "cpu",
            precision: str = "fp32", progress: Progress | None = None, should_stop=None,
            generator=None) -> "DeepHasher":
        """Train on uint8 images (n, H, W[, C]) and labels (n,) or multi-hot (n, C): AdamW with a
        one-cycle schedule; after a validation epoch (is_validation_epoch) the validation images
        are ranked against a fixed seeded set of VALIDATION_DATABASE training images and the
        epoch with the best mAP@all is kept (labels are used there, to measure, for every method;
        an unsupervised method's loss gets the network's input, `method.views` augmented views
        of the batch, instead of the labels: hashviz.methods.protocols.MultiView). Every random
        draw (dropout, augmentation, the loss's sampling) comes from `generator`, the run's own
        (hashviz.randomness.seeded_build; None: torch's global). Sets history_ (one entry per
        epoch), best_epoch_ and phase_seconds_ (data, forward, backward, optimizer, validation)."""
        import torch

        from hashviz.augment import batch_augmentation
        from hashviz.methods.regularizers import regularization
        from hashviz.nets import network_outputs, to_tensor
        from hashviz.optimizer import EagerAdamW
        from hashviz.randomness import draw_from

        net, method = self.net_.to(device), self.method_.to(device)
        if validation is not None:
            from hashviz.code_space import load_scoring_in_background
            load_scoring_in_background(method)     # overlaps the first epoch
        rng = np.random.default_rng(seed)
        params = list(net.parameters()) + list(method.parameters())
        # fused: one kernel for all parameters, a faster optimiser step (docs/recipes.md)
        optimizer = EagerAdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
        labels = torch.as_tensor(np.array(labels))      # a copy: dataset arrays are read-only
        steps_per_epoch = max(1, math.ceil(len(images) / batch_size))
        total_steps = max(1, epochs) * steps_per_epoch
        # OneCycleLR divides by its warm-up's length, pct_start * total_steps - 1 steps: zero in a
        # 5-step run (a tiny --max-train), so that one run warms up a little longer.
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=lr, total_steps=total_steps, pct_start=0.3 if total_steps == 5 else 0.2)
        # two-view methods always augment: identical views would teach them nothing
        views = method.views
        augment_batch = batch_augmentation(self.image_shape, views) if augment or views > 1 else None
        drawing = (net, method) + ((augment_batch,) if augment_batch is not None else ())
        draw_from(generator, *drawing)
        val_images, val_labels = validation if validation is not None else (images[:0], labels.numpy()[:0])
        # The validation database: a fixed seeded subset of the training images, so that a
        # validated epoch does not encode every training image again.
        val_db = np.sort(rng.permutation(len(images))[:VALIDATION_DATABASE])
        val_db_images, val_db_labels = images[val_db], labels.numpy()[val_db]
        history, best = [], (-1.0, 0, None)
        autocast = training_autocast(precision, device)
        clock = PhaseClock()
        start = time.perf_counter()
        for epoch in range(1, epochs + 1):
            method.start_epoch(epoch, epochs)
            net.train()
            order = rng.permutation(len(images))
            losses = []
            for step in range(steps_per_epoch):
                check_stop(should_stop)
                with clock("data"):
                    batch = order[step * batch_size:(step + 1) * batch_size]
                    x = to_tensor(images[batch]).to(device)
                    if augment_batch is not None:
                        x = torch.cat([augment_batch(x) for _ in range(views)])
                with clock("forward"):
                    with autocast:
                        u = net(x).float()  # the loss in fp32: bf16 rounding would blur tanh/sign near 0
                    # unsupervised methods learn from the images alone: they never get the labels
                    loss = method(u, labels[batch].to(device) if method.supervised else x)
                    if regularizers:
                        loss = loss + regularization(u, regularizers)
                    if not torch.isfinite(loss):
                        raise HashvizError(f"training stopped: the loss became {loss.item()} at epoch "
                                           f"{epoch}, step {step + 1}; lower the learning rate (now "
                                           f"{lr:g}) or the regulariser weights")
                with clock("backward"):
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                with clock("optimizer"):
                    optimizer.step()
                    scheduler.step()
                losses.append(loss.item())
                emit(progress, "train", (epoch - 1) * steps_per_epoch + step + 1,
                     epochs * steps_per_epoch, epoch=epoch, loss=losses[-1])
            entry = {"epoch": epoch, "loss": float(np.mean(losses))}
            if validation is not None and is_validation_epoch(epoch, epochs):
                with clock("validation"), autocast:  # selection only; saved codes are encoded in fp32
                    val_outputs = network_outputs(net, val_images), network_outputs(net, val_db_images)
                    entry["val_map"] = float(score_outputs(method, *(o.float() for o in val_outputs),
                                                           val_labels, val_db_labels)["map_all"])
                if entry["val_map"] > best[0]:
                    best = (entry["val_map"], epoch,
                            (copy.deepcopy(net.state_dict()), copy.deepcopy(method.state_dict())))
            history.append({**entry, "seconds": round(time.perf_counter() - start, 2)})
            emit(progress, "epoch", epoch, epochs, **history[-1])
        if best[2] is not None:
            net.load_state_dict(best[2][0])
            method.load_state_dict(best[2][1])
        draw_from(None, *drawing)      # the fitted hasher keeps no generator
        self.net_, self.method_ = net.cpu(), method.cpu()
        self.net_.eval()
        self.history_, self.best_epoch_ = history, best[1]
        self.phase_seconds_ = dict(clock.seconds)
        return self
