"""The ensemble as a wrapper estimator (hashviz.methods.ensemble holds its rules): K deep member
hashers of one method at bits/K bits each, trained one after another, each alone; outputs and codes
are the members' concatenated, so K members at bits/K cost K trainings of bits/K. Weights are the
members' under "member<k>." ("member0.net.*", "member0.method.*").
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from hashviz.estimators import DeepHasher, ImageHasher, emit, image_shape
from hashviz.methods.ensemble import ensemble_hyper


def member_seeds(seed: int, members: int) -> list[int]:
    """Member k trains with seed * members + k: distinct within an ensemble and, for ensembles of
    seeds 0, 1, 2 (the 3-seed tables), disjoint between them too."""
    return [(seed * members + k) % 2 ** 32 for k in range(members)]


def member_prefix(k: int) -> str:
    return f"member{k}."


class EnsembleHasher(ImageHasher):
    """An ensemble: the same interface as its members over all of them. A member is the hasher of
    `member_config` (the ensemble's config as a single model of the member method at member_bits,
    with the member's default hyper-parameters), built by `build_member` (hashviz.hashers)."""

    deep = True

    def __init__(self, config: dict, build_member: Callable[[dict], DeepHasher]):
        super().__init__(image_shape(config))
        self.hyper = ensemble_hyper(config["bits"], config.get("hyper") or {})
        count = self.hyper["members"]
        self.member_bits = config["bits"] // count
        self.member_config = {**config, "method": self.hyper["member"], "bits": self.member_bits, "hyper": {}}
        self._build_member = build_member
        self.members_ = [build_member(self.member_config) for _ in range(count)]
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
        return {"hyper": dict(self.hyper), **records}

    # ------------------------------------------------------------ encoding
    def outputs(self, images: np.ndarray, progress=None) -> np.ndarray:
        images, count = self.check_images(images), len(self.members_)
        return np.concatenate([m.outputs(images, progress=progress and (
            lambda done, total, k=k: progress(k * total + done, count * total)))
            for k, m in enumerate(self.members_)], axis=1)

    def split_outputs(self, outputs: np.ndarray) -> list[np.ndarray]:
        """The ensemble's outputs (n, sum of member output widths) cut into each member's."""
        edges = np.cumsum([0] + [m.method_.output_dim for m in self.members_])
        return [outputs[:, a:b] for a, b in zip(edges[:-1], edges[1:])]

    def codes_from_outputs(self, outputs: np.ndarray) -> np.ndarray:
        """Packed codes: each member encodes its slice of the outputs; the bytes are concatenated."""
        outputs = np.asarray(outputs, dtype=np.float32)
        return np.concatenate([m.codes_from_outputs(part) for m, part in
                               zip(self.members_, self.split_outputs(outputs))], axis=1)

    # ------------------------------------------------------------ learning
    def fit(self, images: np.ndarray, labels: np.ndarray, *, seed: int = 0, progress=None,
            should_stop=None, generator=None, **member_fit) -> "EnsembleHasher":
        """Train the members one after another, member k afresh from torch seed member_seeds(seed)[k]
        (as `hashviz train --seed` seeds a single model), on all training images ("seeds") or a
        bootstrap sample of as many drawn with replacement ("bootstrap"); each member draws from its
        own generator (`generator` is not used). history_ runs on across members (each entry names
        its member); member_records_ holds what config.json records."""
        from hashviz.randomness import seeded_build
        count, sampling = len(self.members_), self.hyper["sampling"]
        self.history_, self.member_records_, self.phase_seconds_ = [], [], {}
        for k, member_seed in enumerate(member_seeds(seed, count)):
            rows = np.arange(len(images))
            if sampling == "bootstrap":
                rows = np.sort(np.random.default_rng(member_seed).integers(0, len(images), len(images)))
            member, member_generator = seeded_build(member_seed, lambda: self._build_member(self.member_config))
            self.members_[k] = member
            member.fit(images[rows], np.asarray(labels)[rows], seed=member_seed, should_stop=should_stop,
                       progress=_member_progress(progress, k, count), generator=member_generator, **member_fit)
            offset = k * len(member.history_)
            self.history_ += [{**h, "epoch": h["epoch"] + offset, "member": k} for h in member.history_]
            val_maps = [h["val_map"] for h in member.history_ if "val_map" in h]
            self.member_records_.append({
                "member": k, "seed": member_seed, "bits": self.member_bits, "sampling": sampling,
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
