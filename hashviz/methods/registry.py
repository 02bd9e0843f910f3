"""The method registry: `register_method` adds a constructor; `list_methods` and `create_method`
are the only doors the CLI, trainer and pages use (after timm's model registry)."""

from __future__ import annotations

from dataclasses import dataclass

from hashviz.errors import HashvizError

FAMILIES = ("pairwise", "multiwise", "implicit", "classification", "quantization", "shallow")
FAMILY_TITLES = {
    "pairwise": "Pairwise similarity preserving",
    "multiwise": "Multiwise (triplet / ranking) similarity preserving",
    "implicit": "Implicit similarity preserving",
    "classification": "Classification-oriented",
    "quantization": "Quantization",
    "shallow": "Shallow baselines",
}


@dataclass(frozen=True)
class MethodInfo:
    name: str
    family: str
    paper: str
    code_type: str  # "binary" or "pq"
    deep: bool
    summary: str
    constructor: type


_REGISTRY: dict[str, MethodInfo] = {}


def register_method(name: str, family: str, paper: str, code_type: str = "binary"):
    """Class decorator: register `cls` under `name` in `family` with its paper id."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}")
    if code_type not in ("binary", "pq"):
        raise ValueError(f"unknown code type {code_type!r}")

    def decorate(cls):
        doc = (cls.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = MethodInfo(name, family, paper, code_type, family != "shallow",
                                     doc[0] if doc else "", cls)
        cls.method_name, cls.family, cls.paper, cls.code_type = name, family, paper, code_type
        return cls

    return decorate


def merge_hyper(defaults: dict, given: dict) -> dict:
    """defaults updated by given; unknown names are a TypeError (the registry reports it)."""
    unknown = set(given) - set(defaults)
    if unknown:
        raise TypeError(f"unknown hyper-parameter(s) {sorted(unknown)}; known: {sorted(defaults) or 'none'}")
    return {**defaults, **given}


def _load_all() -> None:
    # Importing the family modules runs their decorators.
    from hashviz.methods import (classification, implicit, multiwise, pairwise,  # noqa: F401
                                 quantization, shallow)


def list_methods(family: str | None = None) -> list[MethodInfo]:
    """Registered methods, in family order then name."""
    _load_all()
    infos = [i for i in _REGISTRY.values() if family is None or i.family == family]
    return sorted(infos, key=lambda i: (FAMILIES.index(i.family), i.name))


def method_info(name: str) -> MethodInfo:
    _load_all()
    if name not in _REGISTRY:
        raise HashvizError(f"unknown method {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def create_method(name: str, bits: int, **hyper):
    """Build a registered method. Deep methods also take num_classes; shallow ones take seed etc."""
    info = method_info(name)
    try:
        return info.constructor(bits=bits, **hyper)
    except TypeError as exc:
        raise HashvizError(f"bad hyper-parameters for {name}: {exc}") from None
