"""The ensemble's estimator (hashviz.methods.ensemble has the method): K deep member hashers,
trained one after another, each alone with its own seed (and its own bootstrap sample of the
training images when sampling is "bootstrap"); outputs and codes are the members' concatenated.
Training an ensemble of K members at `bits` costs K trainings of the member at bits/K.

Weights are the members' weights under "member<k>." ("member0.net.*", "member0.method.*", ...),
so weights.safetensors holds the whole ensemble and nothing is pickled."""

from __future__ import annotations

import numpy as np

from hashviz.estimators import ImageHasher, emit
from hashviz.methods.ensemble import member_seeds


def member_prefix(k: int) -> str:
    return f"member{k}."


class EnsembleHasher(ImageHasher):
    """Members built by `hasher_for` (hashviz.estimators) from the ensemble's config."""

    deep = True
    code_type = "binary"

    def __init__(self, method, member_hasher, image_shape):
        super().__init__(image_shape)
        self.method_ = method
        self._member_hasher = member_hasher          # member method -> DeepHasher, shaped by the config
        self.members_ = [member_hasher(m) for m in method.members]
        self.member_records_: list[dict] = []

    # ------------------------------------------------------------ learned state
    def weights(self) -> dict[str, np.ndarray]:
        return {member_prefix(k) + name: value for k, member in enumerate(self.members_)
                for name, value in member.weights().items()}

    def load_weights(self, weights: dict[str, np.ndarray]) -> "EnsembleHasher":
        for k, member in enumerate(self.members_):
            prefix = member_prefix(k)
            member.load_weights({name[len(prefix):]: v for name, v in weights.items() if name.startswith(prefix)})
        return self

    def weight_shapes(self) -> dict[str, tuple]:
        return {member_prefix(k) + name: shape for k, member in enumerate(self.members_)
                for name, shape in member.weight_shapes().items()}

    def config(self) -> dict:
        """The hyper-parameters and, once trained, each member's seed, bits, validation mAP,
        best epoch and seconds."""
        records = {"members": self.member_records_} if self.member_records_ else {}
        return {"hyper": dict(self.method_.hyper), **records}

    # ------------------------------------------------------------ encoding
    def outputs(self, images: np.ndarray, progress=None) -> np.ndarray:
        images, count = self.check_images(images), len(self.members_)
        return np.concatenate([m.outputs(images, progress=progress and (
            lambda done, total, k=k: progress(k * total + done, count * total)))
            for k, m in enumerate(self.members_)], axis=1)

    def codes_from_outputs(self, outputs: np.ndarray) -> np.ndarray:
        outputs = np.asarray(outputs, dtype=np.float32)
        return np.concatenate([m.codes_from_outputs(part) for m, part in
                               zip(self.members_, self.method_.split_outputs(outputs))], axis=1)

    # ------------------------------------------------------------ learning
    def fit(self, images: np.ndarray, labels: np.ndarray, *, seed: int = 0, progress=None,
            should_stop=None, **member_fit) -> "EnsembleHasher":
        """Train the members one after another, member k afresh from torch seed member_seeds(seed)[k]
        (as `hashviz train --seed` seeds a single model), on all training images ("seeds") or a
        bootstrap sample of as many drawn with replacement ("bootstrap"). history_ runs on across
        members (each entry names its member); member_records_ holds what config.json records."""
        import torch
        count, sampling = len(self.members_), self.method_.hyper["sampling"]
        self.history_, self.member_records_, self.phase_seconds_ = [], [], {}
        for k, member_seed in enumerate(member_seeds(seed, count)):
            rows = np.arange(len(images))
            if sampling == "bootstrap":
                rows = np.sort(np.random.default_rng(member_seed).integers(0, len(images), len(images)))
            torch.manual_seed(member_seed)
            member = self.members_[k] = self._member_hasher(self.method_.new_member())
            member.fit(images[rows], np.asarray(labels)[rows], seed=member_seed, should_stop=should_stop,
                       progress=_member_progress(progress, k, count), **member_fit)
            offset = k * len(member.history_)
            self.history_ += [{**h, "epoch": h["epoch"] + offset, "member": k} for h in member.history_]
            val_maps = [h["val_map"] for h in member.history_ if "val_map" in h]
            self.member_records_.append({
                "member": k, "seed": member_seed, "bits": self.method_.member_bits, "sampling": sampling,
                "distinct_training_images": int(len(np.unique(rows))), "best_epoch": member.best_epoch_,
                "val_map": max(val_maps) if val_maps else None,
                "train_seconds": member.history_[-1]["seconds"] if member.history_ else 0.0})
            for phase, seconds in member.phase_seconds_.items():
                self.phase_seconds_[phase] = self.phase_seconds_.get(phase, 0.0) + seconds
        self.best_epoch_ = 0     # each member has its own: member_records_
        return self


def _member_progress(progress, k: int, count: int):
    """Member k's progress as part of the whole: steps and epochs numbered on across members."""
    if progress is None:
        return None

    def forward(stage, done, total, info):
        if stage in ("train", "epoch"):
            info = {**info, "member": k}
            if stage == "epoch":
                info["epoch"] = k * total + info["epoch"]
            emit(progress, stage, k * total + done, count * total, **info)
        else:
            emit(progress, stage, done, total, **info)
    return forward


def ensemble_hasher(method, config: dict, deep_hasher) -> EnsembleHasher:
    """hashviz.estimators.hasher_for's branch for the ensemble: every member shaped by the config."""
    return EnsembleHasher(method, lambda member: deep_hasher(member, config), config.get("image_shape") or [28, 28])
