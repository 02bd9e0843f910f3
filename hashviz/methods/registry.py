"""The method registry: `register_method` adds a constructor; `list_methods`, `method_info` and
`create_method` are the only doors the CLI, trainer and pages use (after timm's model registry).
It also holds what is known about each family (`FAMILY_INFO`) and each method (family, paper,
code type, training recipe), so no other module keeps its own list.

The registry imports no family module: hashviz/methods/__init__.py imports them, which runs their
`register_method` decorators, and every import of hashviz.methods.registry goes through it."""

from __future__ import annotations

from dataclasses import dataclass, field

from hashviz.errors import HashvizError

@dataclass(frozen=True)
class FamilyInfo:
    """One family of the survey (arXiv 2003.03369). similarity_only: the loss sees only pairwise or
    ranking similarity derived from labels; uses_labels: it predicts or targets the classes;
    supervised: the loss sees labels in any form (False: it learns from the images alone, so a
    supervised deep family against the unsupervised one on the same backbone isolates what the
    similarity information adds)."""

    key: str
    title: str
    deep: bool
    similarity_only: bool
    uses_labels: bool
    supervised: bool = True


FAMILY_INFO = {f.key: f for f in (
    FamilyInfo("pairwise", "Pairwise similarity preserving", True, True, False),
    FamilyInfo("multiwise", "Multiwise (triplet / ranking) similarity preserving", True, True, False),
    FamilyInfo("implicit", "Implicit similarity preserving", True, True, False),
    FamilyInfo("classification", "Classification-oriented", True, False, True),
    FamilyInfo("quantization", "Quantization", True, False, False),
    FamilyInfo("unsupervised", "Deep unsupervised hashing", True, False, False, supervised=False),
    FamilyInfo("ensemble", "Ensembles (member codes concatenated)", True, False, False),
    FamilyInfo("shallow", "Shallow baselines", False, False, False, supervised=False),
)}
FAMILIES = tuple(FAMILY_INFO)
FAMILY_TITLES = {key: f.title for key, f in FAMILY_INFO.items()}
# The order a lesson contrasts families in: pairwise first, then classification.
TEACHING_ORDER = ("pairwise", "classification", "multiwise", "implicit", "quantization", "unsupervised", "ensemble", "shallow")


def family_info(key: str) -> FamilyInfo | None:
    """The family's record; None for families outside the registry (e.g. imported codes)."""
    return FAMILY_INFO.get(key)


@dataclass(frozen=True)
class MethodInfo:
    name: str
    family: str
    paper: str
    code_type: str  # "binary" or "pq"
    deep: bool
    summary: str
    constructor: type
    recipe: dict = field(default_factory=dict)   # the trainer's defaults (lr, epochs, ...); {} for shallow
    calibration: bool = False   # a yardstick, not a hashing method (see `is_calibration`)
    quick: dict = field(default_factory=dict)    # lecture mode's recipe (`hashviz train --quick`); {}: none


_REGISTRY: dict[str, MethodInfo] = {}


def register_method(name: str, family: str, paper: str, code_type: str = "binary", calibration: bool = False):
    """Class decorator: register `cls` under `name` in `family` with its paper id; calibration=True
    marks a yardstick the leaderboard shows but no survey conclusion counts."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}")
    if code_type not in ("binary", "pq"):
        raise ValueError(f"unknown code type {code_type!r}")

    def decorate(cls):
        doc = (cls.__doc__ or "").strip().splitlines()
        deep = FAMILY_INFO[family].deep
        _REGISTRY[name] = MethodInfo(name, family, paper, code_type, deep, doc[0] if doc else "", cls,
                                     dict(getattr(cls, "recipe", {})) if deep else {}, calibration,
                                     dict(getattr(cls, "quick_recipe", {})) if deep else {})
        cls.method_name, cls.family, cls.paper, cls.code_type = name, family, paper, code_type
        cls.supervised = FAMILY_INFO[family].supervised
        return cls

    return decorate


def merge_hyper(defaults: dict, given: dict) -> dict:
    """defaults updated by given; unknown names are a TypeError (the registry reports it)."""
    unknown = set(given) - set(defaults)
    if unknown:
        raise TypeError(f"unknown hyper-parameter(s) {sorted(unknown)}; known: {sorted(defaults) or 'none'}")
    return {**defaults, **given}


def list_methods(family: str | None = None) -> list[MethodInfo]:
    """Registered methods, in family order then name."""
    infos = [i for i in _REGISTRY.values() if family is None or i.family == family]
    return sorted(infos, key=lambda i: (FAMILIES.index(i.family), i.name))


def method_info(name: str) -> MethodInfo:
    if name not in _REGISTRY:
        raise HashvizError(f"unknown method {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def quick_methods() -> list[str]:
    """The methods lecture mode trains: those with a quick recipe."""
    return [info.name for info in list_methods() if info.quick]


def is_calibration(name: str) -> bool:
    """Whether `name` is a registered calibration entry (False for unknown names, e.g. imported codes)."""
    info = _REGISTRY.get(name)
    return info is not None and info.calibration


def create_method(name: str, bits: int, **hyper):
    """Build a registered method. Deep methods also take num_classes; shallow ones take seed etc."""
    info = method_info(name)
    try:
        return info.constructor(bits=bits, **hyper)
    except TypeError as exc:
        raise HashvizError(f"bad hyper-parameters for {name}: {exc}") from None


def create_hasher(config: dict, **extra):
    """The one way from a config (config.json, or the one a training run writes) to a hasher
    (hashviz.estimators): a deep method's loss module inside its network, or a shallow hasher;
    freshly initialised until `fit` or `load_weights`. extra: constructor arguments that are not
    recorded in the config (a shallow hasher's seed when it is fitted)."""
    from hashviz.estimators import hasher_for
    info = method_info(config["method"])
    if info.deep:
        extra = {"num_classes": config.get("num_classes", 10), **extra}
    method = create_method(config["method"], config["bits"], **extra, **(config.get("hyper") or {}))
    if config.get("pretrained_mode") == "frozen":    # hashviz.pretrained: a head on cached features
        from hashviz.frozen import frozen_hasher
        return frozen_hasher(method, config, info.deep)
    return hasher_for(method, config, info.deep)
