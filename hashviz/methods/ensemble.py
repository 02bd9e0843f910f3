"""Ensemble hashing (survey arXiv 2003.03369, "ensemble learning" among the tricks): K models of
one deep method, each trained alone on bits/K bits with its own seed (sampling "seeds") or on
its own bootstrap sample of the training set (sampling "bootstrap"); an item's code is the
concatenation of the K members' codes, so the total code length equals the model's bits and an
ensemble compares with a single model of the same length. Each member's bits/K must be a
multiple of 8, so the concatenation of packed bytes is the concatenation of bits.

The estimator (hashviz.estimators.EnsembleHasher) trains and encodes the members; this module
holds what the registry needs: the hyper-parameters, their checks and the member methods."""

from __future__ import annotations

import numpy as np

from hashviz.errors import HashvizError
from hashviz.methods.registry import create_method, merge_hyper, method_info, register_method

SAMPLINGS = ("seeds", "bootstrap")
MAX_MEMBERS = 16


@register_method("ensemble", family="ensemble", paper="arXiv 2003.03369")
class EnsembleMethod:
    """K members of one deep method (own seeds or bootstrap samples), codes concatenated (arXiv 2003.03369)."""

    defaults = {"member": "greedyhash", "members": 2, "sampling": "seeds"}
    recipe = dict(method_info(defaults["member"]).recipe)   # the default member's (the Train page's defaults)
    code_type = "binary"

    @classmethod
    def recipe_for(cls, hyper: dict) -> dict:
        """The trainer's defaults: the member method's recipe (each member trains like it)."""
        return method_info(merge_hyper(cls.defaults, hyper)["member"]).recipe

    @classmethod
    def check_spec(cls, spec) -> None:
        """hashviz.training.check_spec's extra check: the hyper-parameters together, the backbone."""
        check_ensemble(spec.bits, merge_hyper(cls.defaults, spec.hyper))
        if spec.backbone == "resnet18":
            raise HashvizError("--backbone resnet18 is not offered for ensembles (each member would load "
                               "ImageNet weights); use the default backbone")

    def __init__(self, bits: int, num_classes: int = 10, **hyper):
        self.hyper = merge_hyper(self.defaults, hyper)
        check_ensemble(bits, self.hyper)
        self.bits, self.num_classes = int(bits), int(num_classes)
        self.member_bits = self.bits // self.hyper["members"]
        self.members = [self.new_member() for _ in range(self.hyper["members"])]

    @property
    def member(self) -> str:
        return self.hyper["member"]

    def new_member(self):
        """A freshly initialised member method (the caller seeds torch first)."""
        return create_method(self.member, self.member_bits, num_classes=self.num_classes)

    @property
    def output_dim(self) -> int:
        return sum(m.output_dim for m in self.members)

    def split_outputs(self, u) -> list:
        """The ensemble's outputs (n, sum of member output widths) cut into each member's."""
        edges = [int(e) for e in np.cumsum([0] + [m.output_dim for m in self.members])]
        return [u[:, a:b] for a, b in zip(edges[:-1], edges[1:])]

    def encode_outputs(self, u) -> np.ndarray:
        """Packed codes: each member encodes its slice of u; the bytes are concatenated."""
        return np.concatenate([m.encode_outputs(part) for m, part in zip(self.members, self.split_outputs(u))],
                              axis=1)

    def extra_config(self) -> dict:
        return {}


def check_ensemble(bits: int, hyper: dict) -> None:
    """One clear message for an ensemble that cannot be built (check_spec calls it before training)."""
    member, count, sampling = hyper.get("member"), hyper.get("members"), hyper.get("sampling")
    if not isinstance(member, str):
        raise HashvizError(f"--hyper member must name a deep method, got {member!r}")
    if member == "ensemble":
        raise HashvizError("--hyper member=ensemble: an ensemble's members cannot be ensembles; "
                           "name a deep method such as greedyhash")
    try:
        info = method_info(member)
    except HashvizError as exc:
        raise HashvizError(f"--hyper member: {exc}") from None
    if not info.deep or info.code_type != "binary":
        raise HashvizError(f"--hyper member={member}: an ensemble concatenates the binary codes of deep "
                           f"members; {member} is {'a pq' if info.code_type == 'pq' else 'a shallow'} method")
    if isinstance(count, bool) or not isinstance(count, int) or not 2 <= count <= MAX_MEMBERS:
        raise HashvizError(f"--hyper members must be a whole number from 2 to {MAX_MEMBERS}, got {count!r}")
    if bits % (8 * count):
        raise HashvizError(f"--hyper members={count} does not split {bits} bits into members of a multiple "
                           f"of 8 bits each; choose members dividing {bits // 8} (e.g. 2 or 4 for 32 bits)")
    if sampling not in SAMPLINGS:
        raise HashvizError(f"--hyper sampling must be one of {', '.join(SAMPLINGS)}, got {sampling!r}")
