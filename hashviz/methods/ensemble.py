"""Ensemble hashing (survey arXiv 2003.03369, "ensemble learning" among the tricks): K models of
one deep method, each trained alone on bits/K bits with its own seed (sampling "seeds") or on
its own bootstrap sample of the training set (sampling "bootstrap"); an item's code is the
concatenation of the K members' codes, so the total code length equals the model's bits and an
ensemble compares with a single model of the same length. Each member's bits/K must be a
multiple of 8, so the concatenation of packed bytes is the concatenation of bits.

The ensemble has no method object: its estimator (hashviz.ensemble_hasher.EnsembleHasher) wraps
one deep hasher per member. This module holds its rules: the hyper-parameters checked together,
and the registry row's spec check (`check_spec`)."""

from __future__ import annotations

from hashviz.errors import HashvizError
from hashviz.methods.registry import merge_hyper, method_info

SAMPLINGS = ("seeds", "bootstrap")
MAX_MEMBERS = 16


def ensemble_hyper(bits: int, given: dict) -> dict:
    """The ensemble's hyper-parameters: the registry's defaults updated by `given`, checked."""
    try:
        hyper = merge_hyper(method_info("ensemble").defaults, given)
    except TypeError as exc:
        raise HashvizError(f"bad hyper-parameters for ensemble: {exc}") from None
    check_ensemble(bits, hyper)
    return hyper


def check_spec(spec) -> None:
    """hashviz.training.check_spec's extra check: the hyper-parameters together, the backbone."""
    ensemble_hyper(spec.bits, spec.hyper)
    if spec.backbone == "resnet18":
        raise HashvizError("--backbone resnet18 is not offered for ensembles (each member would load "
                           "ImageNet weights); use the default backbone")


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
    if info.kind != "deep" or info.code_type != "binary":
        raise HashvizError(f"--hyper member={member}: an ensemble concatenates the binary codes of deep "
                           f"members; {member} is {'a shallow' if info.kind == 'shallow' else 'a pq'} method")
    if isinstance(count, bool) or not isinstance(count, int) or not 2 <= count <= MAX_MEMBERS:
        raise HashvizError(f"--hyper members must be a whole number from 2 to {MAX_MEMBERS}, got {count!r}")
    if bits % (8 * count):
        raise HashvizError(f"--hyper members={count} does not split {bits} bits into members of a multiple "
                           f"of 8 bits each; choose members dividing {bits // 8} (e.g. 2 or 4 for 32 bits)")
    if sampling not in SAMPLINGS:
        raise HashvizError(f"--hyper sampling must be one of {', '.join(SAMPLINGS)}, got {sampling!r}")
