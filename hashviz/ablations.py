"""The ablations: one list that the results run trains (`hashviz zoo results`) and the Evaluate page
judges (hashviz.leaderboard.check_conclusions). An ablation adds one thing to a model (a regulariser,
...) and compares it with the same model without it; a new ablation is one more entry in ABLATIONS.

Plain data only (no torch): the Evaluate page imports this."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

from hashviz.seeds import GroupKey


@dataclass(frozen=True)
class Arm:
    """One model the results run trains for an ablation: seed 0 in directory `name`, seed s in
    `name-s<s>`, as TrainSpec(method, bits, **spec); its baseline is the table's plain model of
    `baseline_method` (default: the same method) at the same length (`<method>-<bits>`, seeds alike)."""

    name: str
    method: str
    bits: int
    spec: dict = field(default_factory=dict)
    baseline_method: str | None = None

    @property
    def baseline(self) -> str:
        return f"{self.baseline_method or self.method}-{self.bits}"


@dataclass(frozen=True)
class Ablation:
    """variant(key): what a group adds ("balance=0.1"), None when the group is no variant of this
    ablation; is_baseline(key, other): whether group `other` is what that variant is compared with
    (everything else equal); of several such groups the one with the most seeds is taken."""

    key: str
    title: str
    claim: str
    test: str
    needs: str
    arms: tuple[Arm, ...]
    variant: Callable[[GroupKey], str | None]
    is_baseline: Callable[[GroupKey, GroupKey], bool]


TRICK_METHODS = ("dpsh", "csq")
TRICK_WEIGHTS = {"balance": 0.1, "decorrelation": 0.1, "quantization": 0.1}

TRICKS = Ablation(
    key="tricks_help", title="the survey's tricks at 32 bits",
    claim="The tricks (bit balance, bit independence / decorrelation, quantization penalties) make the "
          "codes better.",
    test="Each model trained with a regulariser against the same method, code length, recipe and setting "
         "trained without it.",
    needs="ablation models (trained with regularisers, e.g. `hashviz zoo results` builds dpsh-32-balance) "
          "next to the same method and code length trained without them",
    arms=tuple(Arm(f"{method}-32-{trick}", method, 32, {"regularizers": {trick: weight}})
               for method in TRICK_METHODS for trick, weight in TRICK_WEIGHTS.items()),
    variant=lambda key: key.regularisers or None,
    is_baseline=lambda key, other: other == key._replace(regularisers=""),
)


def _ensemble_hyper(key: GroupKey) -> dict | None:
    """An ensemble group's hyper-parameters as recorded (member, members, sampling); None otherwise."""
    if key.method != "ensemble" or key.regularisers:
        return None
    return json.loads(key.hyper or "{}")


def _ensemble_label(key: GroupKey) -> str | None:
    hyper = _ensemble_hyper(key)
    return None if hyper is None else f"{hyper.get('members')} x {hyper.get('member')} ({hyper.get('sampling')})"


def _single_member(key: GroupKey, other: GroupKey) -> bool:
    """The plain model of the ensemble's member method at the ensemble's total bits."""
    hyper = _ensemble_hyper(key) or {}
    same = ("dataset", "protocol", "bits", "backbone")
    return (other.method == hyper.get("member") and not other.regularisers
            and all(getattr(other, f) == getattr(key, f) for f in same))


ENSEMBLE = Ablation(
    key="ensemble_helps", title="ensembles at 32 bits",
    claim="Ensembles make the codes better: K models' codes side by side beat one model of the same total "
          "length.",
    test="An ensemble of K members of bits/K each (own seeds) against one model of its member method "
         "at the same total bits.",
    needs="an ensemble model (`hashviz zoo results` builds ensemble-32) next to its member method at the "
          "same code length",
    arms=(Arm("ensemble-32", "ensemble", 32, {"hyper": {"member": "greedyhash", "members": 2, "sampling": "seeds"}},
              baseline_method="greedyhash"),),
    variant=_ensemble_label,
    is_baseline=_single_member,
)

ABLATIONS: list[Ablation] = [TRICKS, ENSEMBLE]
