"""Models that differ only by their seed: grouped, summarised as mean ± sd, and the one rule that judges
a gap between groups against the seed-to-seed noise (docs/metrics.md, "Seeds and noise").

A seed sets the network's initialisation, the batch order and augmentation, and the protocol's sample
(which images are queries, training and validation images), so the spread over seeds is the spread a
reader sees when the same recipe is run again."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Iterable, NamedTuple, Sequence

import numpy as np

from hashviz.zoo import ModelDir

HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"
INSIDE_NOISE = "inside the noise"

# docs/results.md: two runs of one recipe were about 0.01 mAP@all apart. Assumed only where no group of
# the same dataset and protocol has two seeds to measure the spread with.
ASSUMED_SD = 0.01
STANDARD_ERRORS = 2.0       # a gap is outside the noise when it exceeds 2 standard errors
NOISE_METRIC = "map_all"

# Spec fields that are not part of the recipe: the seed is what varies inside a group; threads and
# device change speed only; the rest are GroupKey fields of their own.
_NOT_RECIPE = {"seed", "threads", "device", "method", "bits", "dataset", "protocol", "regularizers", "hyper",
               "backbone", "width", "backbone_layout"}


class GroupKey(NamedTuple):
    """Everything that defines a model but its seed."""

    dataset: str
    protocol: str
    bits: int
    method: str
    family: str
    code_type: str
    regularisers: str
    backbone: str
    hyper: str
    recipe: str


def regularisers_text(config: dict) -> str:
    """"balance=0.1, quantization=0.1" (empty string for none)."""
    regs = config.get("regularizers") or {}
    return ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in sorted(regs.items()))


def backbone_text(config: dict) -> str:
    """"small-cnn, layout 2, width 32"; empty for shallow methods (no network)."""
    if not config.get("backbone"):
        return ""
    parts = [str(config["backbone"])]
    parts += [f"{name} {config[key]}" for key, name in (("backbone_layout", "layout"), ("width", "width"))
              if config.get(key) is not None]
    return ", ".join(parts)


def group_key(model: ModelDir) -> GroupKey:
    """The model's group. A model without a recorded training spec (imported codes) is a group of its
    own: nothing says which other model is the same recipe."""
    config = model.config
    spec = config.get("spec")
    recipe = (json.dumps({k: v for k, v in spec.items() if k not in _NOT_RECIPE}, sort_keys=True, default=str)
              if isinstance(spec, dict) else f"model {model.name}")
    return GroupKey(str(model.dataset), str(model.protocol), int(model.bits), str(model.method),
                    str(model.family), str(model.code_type), regularisers_text(config), backbone_text(config),
                    json.dumps(config.get("hyper") or {}, sort_keys=True, default=str), recipe)


def _value(model: ModelDir, key: str) -> float:
    value = model.metrics.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


@dataclass(frozen=True)
class SeedGroup:
    """Models that differ only by seed (one or more)."""

    key: GroupKey
    models: tuple[ModelDir, ...]

    @property
    def names(self) -> str:
        return ", ".join(m.name for m in self.models)

    def values(self, key: str = NOISE_METRIC) -> np.ndarray:
        """The finite values of one metric over the group's models."""
        values = np.array([_value(m, key) for m in self.models], dtype=float)
        return values[np.isfinite(values)]

    def stats(self, key: str = NOISE_METRIC) -> tuple[float, float, int]:
        """(mean, sample sd (ddof 1; NaN below two values), n) of one metric."""
        values = self.values(key)
        n = len(values)
        mean = float(values.mean()) if n else math.nan
        return mean, float(values.std(ddof=1)) if n >= 2 else math.nan, n

    @property
    def mean(self) -> float:
        return self.stats()[0]

    @property
    def n(self) -> int:
        return self.stats()[2]


def group_by_seed(models: Iterable[ModelDir]) -> list[SeedGroup]:
    """The models' groups, in the order their first model comes."""
    groups: dict[GroupKey, list[ModelDir]] = {}
    for m in models:
        groups.setdefault(group_key(m), []).append(m)
    return [SeedGroup(k, tuple(v)) for k, v in groups.items()]


def mean_sd_text(mean: float, sd: float, fmt: str = ".3f") -> str:
    """"0.825 ± 0.004"; the value alone when there is no sd (one seed); "n/a" when there is no value."""
    if math.isnan(mean):
        return "n/a"
    return f"{mean:{fmt}}" if math.isnan(sd) else f"{mean:{fmt}} ± {sd:{fmt}}"


# ---------------------------------------------------------------------------------- the noise rule

@dataclass(frozen=True)
class Noise:
    """The seed-to-seed sd of mAP@all on one dataset and protocol: pooled over its groups with at least
    two seeds (s² = Σ (n_g - 1) s_g² / Σ (n_g - 1)), or ASSUMED_SD where no group has two."""

    sd: float
    groups: int          # groups pooled (0: assumed)
    dof: int             # Σ (n_g - 1)

    @property
    def assumed(self) -> bool:
        return self.groups == 0

    def describe(self) -> str:
        if self.assumed:
            return f"sd {self.sd:.4f} assumed (no group of models here has two seeds; docs/results.md's 0.01)"
        return f"sd {self.sd:.4f} pooled over {self.groups} group(s) with >= 2 seeds ({self.dof} degrees of freedom)"


def pooled_noise(groups: Sequence[SeedGroup]) -> dict[tuple[str, str], Noise]:
    """{(dataset, protocol): Noise} for every dataset and protocol the groups span."""
    out = {}
    for setting in {(g.key.dataset, g.key.protocol) for g in groups}:
        squares, dof, pooled = 0.0, 0, 0
        for g in groups:
            values = g.values()
            if (g.key.dataset, g.key.protocol) == setting and len(values) >= 2:
                squares += float(((values - values.mean()) ** 2).sum())
                dof += len(values) - 1
                pooled += 1
        out[setting] = Noise(math.sqrt(squares / dof), pooled, dof) if dof else Noise(ASSUMED_SD, 0, 0)
    return out


def contrast(terms: Sequence[tuple[float, SeedGroup]], noise: dict[tuple[str, str], Noise]) -> tuple[float, float]:
    """(gap, standard error) of Σ c_g · mean_g over the (c, group) terms. A group named in several terms
    counts once with its summed weight; se² = Σ c_g² s_g² / n_g, s_g its dataset's noise sd."""
    weights: dict[GroupKey, list] = {}
    for c, g in terms:
        weights.setdefault(g.key, [0.0, g])[0] += c
    gap = sum(c * g.mean for c, g in weights.values())
    variance = sum(c * c * noise[(g.key.dataset, g.key.protocol)].sd ** 2 / g.n for c, g in weights.values())
    return float(gap), math.sqrt(variance)


def verdict(gap: float, se: float) -> str:
    """HOLDS when gap > 2 se, DOES_NOT_HOLD when gap < -2 se, INSIDE_NOISE otherwise."""
    if gap > STANDARD_ERRORS * se:
        return HOLDS
    if gap < -STANDARD_ERRORS * se:
        return DOES_NOT_HOLD
    return INSIDE_NOISE


def noise_rule_text(noise: dict[tuple[str, str], Noise]) -> str:
    """The rule in words (markdown), with the noise measured on the models at hand."""
    measured = "; ".join(f"{d} · {p}: {n.describe()}" for (d, p), n in sorted(noise.items())) or "no models"
    return (
        "**How a verdict is reached.** Models that differ only by seed form a group, shown as its mean "
        "mAP@all over n seeds. The **noise** is the seed-to-seed sd of mAP@all, pooled over the groups "
        f"with at least two seeds on the same dataset and protocol (sample sd; {ASSUMED_SD} assumed where "
        "no group has two). A gap between two groups has standard error sd·√(1/n_a + 1/n_b); a conclusion "
        "over several settings takes the mean of their gaps, with the standard error of that mean. It "
        f"**holds** when the mean gap is above {STANDARD_ERRORS:g} standard errors, **does not hold** when "
        f"it is below -{STANDARD_ERRORS:g} standard errors, and is **inside the noise** otherwise. "
        f"Noise here: {measured}."
    )
