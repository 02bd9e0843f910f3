"""Models that differ only by their seed: grouped, summarised as mean ± sd, and the one rule that judges
a gap between groups: a 95% interval, paired by seed where the groups share seeds (docs/metrics.md,
"Seeds and noise").

A seed sets the network's initialisation, the batch order and augmentation, and the protocol's sample
(which images are queries, training and validation images), so the spread over seeds is the spread a
reader sees when the same recipe is run again."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Iterable, NamedTuple, Sequence

import numpy as np

from hashviz.metrics import metric_of
from hashviz.safe_text import escape
from hashviz.zoo import ModelDir

HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"
INSIDE_NOISE = "inside the noise"

# The seed-to-seed sd of mAP@all assumed only where no group of the same dataset and protocol has two
# seeds to measure the spread with (where the value comes from: docs/recipes.md).
ASSUMED_SD = 0.01
CONFIDENCE = 0.95           # a verdict's interval for the gap
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
    # None and False are left out: a spec field added after a model was trained (a setting that is
    # off: None, or a flag False) leaves its recipe the same
    recipe = (json.dumps({k: v for k, v in spec.items() if k not in _NOT_RECIPE and v is not None and v is not False},
                         sort_keys=True, default=str) if isinstance(spec, dict) else f"model {model.name}")
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


# ---------------------------------------------------------------------------------- the verdict rule

PAIRED, WELCH, WELCH_POOLED = "paired", "Welch", "Welch, pooled sd"


@dataclass(frozen=True)
class Gap:
    """A gap Σ c_g · mean_g between groups of seeds (one group minus another, or a mean of such gaps)
    with its 95% interval.

    pairing PAIRED: the groups share >= 2 seeds (same seed, same protocol sample); the gap is the mean
    of the per-seed contrasts over those seeds, its interval Student t with n - 1 degrees of freedom
    on their sd. WELCH: too few shared seeds; each group's own sd, Welch–Satterthwaite degrees of
    freedom. WELCH_POOLED: as WELCH, but a group of one seed borrows the pooled noise sd (`Noise`)."""

    gap: float
    low: float
    high: float
    se: float
    df: float            # math.inf: an assumed sd (the normal quantile)
    pairing: str
    sizes: tuple[int, ...]   # PAIRED: (shared seeds,); otherwise seeds per group, in term order

    @property
    def verdict(self) -> str:
        """HOLDS when the whole interval is above 0, DOES_NOT_HOLD when below, INSIDE_NOISE otherwise."""
        return verdict(self.low, self.high)

    @property
    def n_label(self) -> str:
        """"3 paired", "3 vs 2" (seeds per group), "1-3 per group, 6 groups" (a mean of several gaps)."""
        if self.pairing == PAIRED:
            return f"{self.sizes[0]} paired"
        if len(self.sizes) <= 2:
            return " vs ".join(map(str, self.sizes))
        low, high = min(self.sizes), max(self.sizes)
        return f"{low if low == high else f'{low}-{high}'} per group, {len(self.sizes)} groups"

    @property
    def n_text(self) -> str:
        """"n = 3 paired seeds", "n = 3 vs 2 seeds (Welch)", "n = 1 seed(s) per group, 6 groups (Welch, pooled sd)"."""
        if self.pairing == PAIRED:
            return f"n = {self.n_label} seeds"
        label = self.n_label.replace(" per group", " seed(s) per group") if len(self.sizes) > 2 else f"{self.n_label} seeds"
        return f"n = {label} ({self.pairing})"

    def text(self) -> str:
        """"gap +0.0200, 95% interval [-0.0048, +0.0448], n = 3 paired seeds"."""
        return f"gap {self.gap:+.4f}, 95% interval [{self.low:+.4f}, {self.high:+.4f}], {self.n_text}"


def verdict(low: float, high: float) -> str:
    """The verdict of a 95% interval for a gap (a side minus the other)."""
    if low > 0:
        return HOLDS
    if high < 0:
        return DOES_NOT_HOLD
    return INSIDE_NOISE


def _interval(gap: float, se: float, df: float) -> tuple[float, float]:
    from scipy.stats import t
    half = float(t.ppf(0.5 + CONFIDENCE / 2, df)) * se if se > 0 else 0.0
    return gap - half, gap + half


def by_seed(group: SeedGroup, key: str = NOISE_METRIC) -> dict[int, float]:
    """{seed: value} of a group's models with a recorded seed and a finite value (a seed run twice: the mean)."""
    runs: dict[int, list[float]] = {}
    for m in group.models:
        seed, value = m.config.get("seed"), _value(m, key)
        if isinstance(seed, int) and not isinstance(seed, bool) and math.isfinite(value):
            runs.setdefault(seed, []).append(value)
    return {seed: float(np.mean(v)) for seed, v in runs.items()}


def _weights(terms: Sequence[tuple[float, SeedGroup]]) -> list[tuple[float, SeedGroup]]:
    """A group named in several terms counts once with its summed weight (a shared baseline)."""
    weights: dict[GroupKey, list] = {}
    for c, g in terms:
        weights.setdefault(g.key, [0.0, g])[0] += c
    return [(c, g) for c, g in weights.values() if c != 0]


def paired_gap(terms: Sequence[tuple[float, SeedGroup]]) -> Gap | None:
    """The gap over the seeds every group shares (None below two): d_s = Σ c_g · value_g(s), gap = mean d_s,
    se = sd(d_s) / √n, interval gap ± t(0.975, n - 1) · se."""
    weighted = _weights(terms)
    values = [(c, by_seed(g)) for c, g in weighted]
    shared = sorted(set.intersection(*(set(v) for _, v in values))) if values else []
    if len(shared) < 2:
        return None
    d = np.array([sum(c * v[s] for c, v in values) for s in shared])
    n = len(d)
    gap, se = float(d.mean()), float(d.std(ddof=1)) / math.sqrt(n)
    return Gap(gap, *_interval(gap, se, n - 1), se, n - 1, PAIRED, (n,))


def welch_gap(terms: Sequence[tuple[float, SeedGroup]], noise: dict[tuple[str, str], Noise]) -> Gap:
    """The gap of the group means as if independent: se² = Σ v_g, v_g = c_g² s_g² / n_g, with each group's
    own sd s_g (n_g - 1 degrees of freedom) or, for a group of one seed, its setting's pooled noise sd
    (the pool's degrees of freedom; infinite where assumed). Welch–Satterthwaite degrees of freedom:
    (Σ v_g)² / Σ_e (Σ_{g uses e} v_g)² / df_e over the distinct sd estimates e."""
    gap, sizes, pooled = 0.0, [], False
    estimates: dict[tuple, list[float]] = {}       # sd estimate -> [Σ v_g of the groups using it, its dof]
    for c, g in _weights(terms):
        mean, sd, n = g.stats()
        source, dof = ("own", g.key), n - 1
        if n < 2:
            level = noise[(g.key.dataset, g.key.protocol)]
            source, sd, dof, pooled = ("pooled", g.key.dataset, g.key.protocol), level.sd, level.dof or math.inf, True
        gap += c * mean
        estimates.setdefault(source, [0.0, dof])[0] += c * c * sd * sd / n
        sizes.append(n)
    variance = sum(v for v, _ in estimates.values())
    tail = sum(v * v / dof for v, dof in estimates.values() if v > 0)
    df = variance * variance / tail if tail > 0 else math.inf
    se = math.sqrt(variance)
    return Gap(float(gap), *_interval(gap, se, df), se, df, WELCH_POOLED if pooled else WELCH, tuple(sizes))


def compare(terms: Sequence[tuple[float, SeedGroup]], noise: dict[tuple[str, str], Noise]) -> Gap:
    """Σ c · mean over the (c, group) terms with its 95% interval: paired by seed when every group
    shares two seeds or more, else Welch's interval."""
    return paired_gap(terms) or welch_gap(terms, noise)


def noise_rule_text(noise: dict[tuple[str, str], Noise]) -> str:
    """The rule in words (markdown), with the noise measured on the models at hand."""
    measured = "; ".join(f"{escape(d)} · {escape(p)}: {n.describe()}" for (d, p), n in sorted(noise.items())) or "no models"
    return (
        "**How a verdict is reached.** Models that differ only by seed form a group, shown as its mean "
        f"{metric_of('map_all').label} over n seeds. Two groups are compared **seed by seed** where they share two "
        "seeds or more "
        "(the same seed draws the same queries and database): the gap is the mean of the per-seed "
        "differences, and its 95% interval is gap ± t(0.975, n−1) · sd/√n over those n differences. "
        "Groups that do not share seeds get **Welch's** interval (each group's own sd, Welch–Satterthwaite "
        "degrees of freedom; a group of one seed borrows the noise sd below, "
        f"{ASSUMED_SD} assumed where no group has two seeds). A conclusion over several "
        "settings takes the mean of their gaps the same way. It **holds** when the whole interval is above "
        "0, **does not hold** when it is below 0, and is **inside the noise** otherwise; every verdict "
        f"shows the gap, the interval and n. Noise (seed-to-seed sd, pooled per dataset and protocol): {measured}."
    )
