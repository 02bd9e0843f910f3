"""The ablations: one list that the results run trains (`hashviz zoo results`) and the Evaluate page
judges (hashviz.leaderboard.check_conclusions). An ablation adds one thing to a model (a regulariser,
...) and compares it with the same model without it; a new ablation is one more entry in ABLATIONS.

Plain data only (no torch): the Evaluate page imports this."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from hashviz.seeds import GroupKey


@dataclass(frozen=True)
class Arm:
    """One model the results run trains for an ablation: seed 0 in directory `name`, seed s in
    `name-s<s>`, as TrainSpec(method, bits, **spec); its baseline is the table's plain model of the same
    method and length (`<method>-<bits>`, seeds alike)."""

    name: str
    method: str
    bits: int
    spec: dict = field(default_factory=dict)

    @property
    def baseline(self) -> str:
        return f"{self.method}-{self.bits}"


@dataclass(frozen=True)
class Ablation:
    """variant(key): what a group adds ("balance=0.1"), None when the group is no variant of this
    ablation; baseline(key): the group that variant is compared with (everything else equal)."""

    key: str
    title: str
    claim: str
    test: str
    needs: str
    arms: tuple[Arm, ...]
    variant: Callable[[GroupKey], str | None]
    baseline: Callable[[GroupKey], GroupKey]


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
    baseline=lambda key: key._replace(regularisers=""),
)

ABLATIONS: list[Ablation] = [TRICKS]
