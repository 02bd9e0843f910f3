"""The method registry: a table of what is known about each family (`FAMILY_INFO`) and each method
(`METHODS`: name, family, paper, summary, code type, kind, hyper-parameter defaults, training recipe,
lecture recipe, views, checks). `list_methods`, `method_info` and `create_method` are the only doors
the CLI, trainer and pages use (after timm's model registry), so no other module keeps its own list.

The table is data: a row names its code by import path ("module:attribute"), so reading facts
imports no family module and no torch. The estimators read the facts and own construction
(hashviz.hashers.create_hasher: `kind` picks the estimator); a method class takes its row's facts
with `method=` in its class statement (`class DPSH(PairwiseMethod, method="dpsh")`, `bind_facts`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace

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

CODE_TYPES = ("binary", "pq")
#: which estimator builds a method (hashviz.hashers): a network trained with the method's loss, a
#: shallow hasher fitted in closed form, or a wrapper around deep members of another method
KINDS = ("deep", "shallow", "ensemble")


@dataclass(frozen=True)
class MethodInfo:
    """One method's facts. implementation: "module:Class" of its method object (None: its estimator
    builds it from other methods, the ensemble); recipe: the trainer's defaults (lr, epochs, ...; {}
    for shallow methods); quick: lecture mode's recipe (`hashviz train --quick`; {}: none); views:
    augmented views of each image per training step (hashviz.methods.protocols.MultiView);
    calibration: a yardstick the leaderboard shows but no survey conclusion counts; recipe_from: the
    hyper-parameter naming the method whose recipe this one trains with; spec_check: "module:function"
    checking a training spec's hyper-parameters together (beyond each one's kind)."""

    name: str
    family: str
    paper: str
    summary: str
    implementation: str | None
    kind: str = "deep"
    code_type: str = "binary"
    defaults: dict = field(default_factory=dict)
    recipe: dict = field(default_factory=dict)
    quick: dict = field(default_factory=dict)
    views: int = 1
    calibration: bool = False
    recipe_from: str | None = None
    spec_check: str | None = None

    @property
    def deep(self) -> bool:
        return FAMILY_INFO[self.family].deep

    @property
    def supervised(self) -> bool:
        """Whether the loss learns from labels (the family's); else from the images alone."""
        return FAMILY_INFO[self.family].supervised

    @property
    def constructor(self) -> type | None:
        """The class of the method object, imported on first use (None: built by its estimator)."""
        return _load(self.implementation) if self.implementation else None

    def recipe_for(self, hyper: dict) -> dict:
        """The trainer's defaults for these hyper-parameters: a method with `recipe_from` (the
        ensemble) trains like the method its hyper-parameter names."""
        if self.recipe_from is None:
            return self.recipe
        return method_info(merge_hyper(self.defaults, hyper)[self.recipe_from]).recipe

    def check_spec(self, spec) -> None:
        """The method's own check of a training spec (hashviz.training.check_spec calls it)."""
        if self.spec_check:
            _load(self.spec_check)(spec)


def _load(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


# ---------------------------------------------------------------- the table

SMALL_BATCHES = {"lr": 1e-3, "epochs": 36, "batch_size": 64}   # pair and triplet losses: docs/recipes.md
# lecture mode (hashviz.lecture): the tiny CNN (hashviz.tiny_cnn) for fewer than half the epochs, so
# training and encoding the whole database take seconds; "max_train" may add a training subset. What
# it gives up and what it costs: docs/recipes.md ("Lecture mode"). The calibration row's mAP follows
# its classifier's accuracy, which a higher rate lifts in as many epochs.
LECTURE = {"epochs": 16, "lr": 8e-3, "batch_size": 256, "backbone": "tiny-cnn", "width": 24}
LECTURE_CLASSIFIER = {**LECTURE, "lr": 1.2e-2}
TRIPLET_DEFAULTS = {"max_triplets": 100_000}
PQ_DEFAULTS = {"K": 256, "d_sub": 16, "restart_after": 100}
UNSUPERVISED = {"lr": 3e-3, "epochs": 30, "batch_size": 128}   # docs/recipes.md, the unsupervised family

METHODS = (
    MethodInfo("dpsh", "pairwise", "arXiv:1511.03855",
               "DPSH, deep pairwise-supervised hashing (Li, Wang, Kang; arXiv:1511.03855).",
               "hashviz.methods.pairwise:DPSH", defaults={"eta": 0.2},   # 0.2 beat 0.1: docs/recipes.md
               recipe={"lr": 1e-3, "epochs": 40, "batch_size": 64}),
    MethodInfo("hashnet", "pairwise", "arXiv:1702.00758",
               "HashNet, deep learning to hash by continuation (Cao et al.; arXiv:1702.00758).",
               "hashviz.methods.pairwise:HashNet", defaults={"alpha": 0.1, "beta_step": 2, "beta_gamma": 2.0},
               recipe=SMALL_BATCHES),
    MethodInfo("dsh", "pairwise", "Liu et al., CVPR 2016",
               "DSH, deep supervised hashing (Liu, Wang, Shan, Chen; Liu et al., CVPR 2016).",
               "hashviz.methods.pairwise:DSH", defaults={"alpha": 0.01},
               recipe={**SMALL_BATCHES, "lr": 2e-3}),    # +0.012 at each of 3 seeds over 1e-3: docs/recipes.md
    MethodInfo("dch", "pairwise", "Cao et al., CVPR 2018",
               "DCH, deep Cauchy hashing (Cao, Long, Liu, Wang; Cao et al., CVPR 2018).",
               "hashviz.methods.pairwise:DCH", defaults={"gamma": 20.0, "lam": 0.1}, recipe=SMALL_BATCHES),
    MethodInfo("dtsh", "multiwise", "arXiv:1612.03900",
               "DTSH, deep supervised hashing with triplet labels (Wang, Shi, Kitani; arXiv:1612.03900).",
               "hashviz.methods.multiwise:DTSH", defaults={**TRIPLET_DEFAULTS, "alpha": 2.0, "lam": 0.1},
               recipe=SMALL_BATCHES),
    MethodInfo("triplet-margin", "multiwise", "arXiv:1508.04535",
               "Margin triplet ranking on a Hamming-like distance, the core of DRSCH (Zhang et al.; "
               "arXiv:1508.04535).",
               "hashviz.methods.multiwise:TripletMargin", defaults={**TRIPLET_DEFAULTS, "margin": 0.25, "lam": 0.1},
               recipe=SMALL_BATCHES),
    MethodInfo("hashap", "implicit", "arXiv:1705.08562",
               "HashAP, hashing as tie-aware ranking (He, Cakir, Bargal, Sclaroff; arXiv:1705.08562).",
               "hashviz.methods.implicit:HashAP", recipe=SMALL_BATCHES),
    MethodInfo("mihash", "implicit", "arXiv:1703.08919",
               "MIHash, hashing with mutual information (Cakir, He, Bargal, Sclaroff; arXiv:1703.08919).",
               "hashviz.methods.implicit:MIHash", defaults={"balance": 0.1, "bins": 16},
               recipe={"lr": 1e-3, "epochs": 36}),
    # classification: batch 256 at twice the rate where it beat batch 128 on validation (docs/recipes.md)
    MethodInfo("csq", "classification", "arXiv:1908.00347",
               "CSQ, central similarity quantization (Yuan et al.; arXiv:1908.00347).",
               "hashviz.methods.classification:CSQ", defaults={"lam": 1e-4},
               recipe={"lr": 1e-3, "epochs": 46, "batch_size": 64, "weight_decay": 0.5}, quick=LECTURE),
    MethodInfo("greedyhash", "classification", "NeurIPS 2018",
               "GreedyHash, greedy hash (Su, Zhang, Tian, Gao, Zhou; Su et al., NeurIPS 2018).",
               "hashviz.methods.classification:GreedyHash", defaults={"alpha": 0.1},
               recipe={"lr": 2e-3, "epochs": 40, "batch_size": 256}, quick=LECTURE),
    MethodInfo("ssdh", "classification", "arXiv:1507.00101",
               "SSDH, supervised semantics-preserving deep hashing (Yang, Lin, Chen; arXiv:1507.00101).",
               "hashviz.methods.classification:SSDH", defaults={"alpha": 1.0, "beta": 1.0},
               recipe={"lr": 1e-3, "epochs": 40}, quick=LECTURE),
    MethodInfo("orthohash", "classification", "arXiv:2109.14449",
               "OrthoHash, one cosine loss for all (Hoe, Ng, Zhang, Chan, Song, Xiang; NeurIPS 2021, "
               "arXiv:2109.14449).",
               "hashviz.methods.classification:OrthoHash",
               defaults={"scale": 8.0, "margin": 0.2, "quantization": 0.0},   # the authors' s, m and q
               recipe={"lr": 2e-3, "epochs": 40, "batch_size": 256}, quick=LECTURE),
    MethodInfo("classifier-code", "classification", "arXiv:1609.06753",
               "Calibration row: a plain classifier whose predicted class's codeword is the code "
               "(Sablayrolles, Douze, Usunier, Jegou; arXiv:1609.06753).",
               "hashviz.methods.classification:ClassifierCode",
               recipe={"lr": 2e-3, "epochs": 40, "batch_size": 256}, quick=LECTURE_CLASSIFIER, calibration=True),
    MethodInfo("dpq", "quantization", "arXiv:1711.08589",
               "DPQ, end-to-end supervised product quantization (Klein & Wolf; arXiv:1711.08589).",
               "hashviz.methods.quantization:DPQ", code_type="pq",
               defaults={**PQ_DEFAULTS, "temperature": 1.0, "lam_centre": 0.1, "lam_quant": 0.1, "lam_gini": 0.1},
               recipe={"lr": 1e-3, "epochs": 32}),   # its codebook losses cost more per step
    MethodInfo("dqn", "quantization", "Cao et al., AAAI 2016",
               "DQN, deep quantization network (Cao, Long, Wang, Zhu, Wen; Cao et al., AAAI 2016).",
               "hashviz.methods.quantization:DQN", code_type="pq",
               defaults={**PQ_DEFAULTS, "lam": 0.1, "neg_target": 0.0}, recipe={"lr": 1e-3, "epochs": 32}),
    MethodInfo("cibhash", "unsupervised", "IJCAI 2021",
               "CIBHash, contrastive information bottleneck hashing (Qiu, Su, Yang, Chen; IJCAI 2021).",
               "hashviz.methods.unsupervised:CIBHash", defaults={"temperature": 0.3, "beta": 0.001, "stochastic": True},
               recipe=UNSUPERVISED, views=2),
    MethodInfo("bihalf", "unsupervised", "AAAI 2021",
               "Bi-half Net, deep unsupervised hashing by maximizing bit entropy (Li, van Gemert; AAAI 2021).",
               "hashviz.methods.unsupervised:BiHalf", defaults={"gamma": 6.0}, recipe=UNSUPERVISED),
    MethodInfo("ensemble", "ensemble", "arXiv 2003.03369",
               "K members of one deep method (own seeds or bootstrap samples), codes concatenated "
               "(arXiv 2003.03369).",
               None, kind="ensemble", defaults={"member": "greedyhash", "members": 2, "sampling": "seeds"},
               recipe_from="member", spec_check="hashviz.methods.ensemble:check_spec"),
    MethodInfo("lsh", "shallow", "Charikar, STOC 2002",
               "LSH, random-hyperplane locality-sensitive hashing (Charikar, STOC 2002).",
               "hashviz.methods.shallow:LSH", kind="shallow"),
    MethodInfo("pcah", "shallow", "Wang, Kumar, Chang, TPAMI 2012",
               "PCAH, PCA hashing (as the baseline of Wang, Kumar, Chang, TPAMI 2012).",
               "hashviz.methods.shallow:PCAH", kind="shallow"),
    MethodInfo("itq", "shallow", "Gong & Lazebnik, CVPR 2011",
               "ITQ, iterative quantization (Gong & Lazebnik, CVPR 2011).",
               "hashviz.methods.shallow:ITQ", kind="shallow", defaults={"n_iter": 50}),
    MethodInfo("sh", "shallow", "Weiss, Torralba, Fergus, NIPS 2008",
               "SH, spectral hashing (Weiss, Torralba, Fergus, NIPS 2008).",
               "hashviz.methods.shallow:SH", kind="shallow"),
    MethodInfo("pca-rr", "shallow", "Hashing-Baseline, arXiv 2509.14427",
               "PCA-RR, the training-free baseline of Hashing-Baseline (arXiv 2509.14427): principal "
               "directions, a seeded random rotation, the sign.",
               "hashviz.methods.shallow:PCARR", kind="shallow"),
)


def _check_row(info: MethodInfo) -> MethodInfo:
    """The row, checked, with dicts of its own (rows share constants such as SMALL_BATCHES)."""
    if info.family not in FAMILIES or info.kind not in KINDS or info.code_type not in CODE_TYPES:
        raise ValueError(f"{info.name}: unknown family, kind or code type")
    if (info.kind == "shallow") == info.deep:
        raise ValueError(f"{info.name}: a shallow kind belongs to a shallow family and only there")
    return replace(info, defaults=dict(info.defaults), recipe=dict(info.recipe), quick=dict(info.quick))


_REGISTRY: dict[str, MethodInfo] = {info.name: _check_row(info) for info in METHODS}
# a recipe taken from another method: the recipe of the one its defaults name (the ensemble's member)
_REGISTRY.update({name: replace(info, recipe=dict(_REGISTRY[info.defaults[info.recipe_from]].recipe))
                  for name, info in _REGISTRY.items() if info.recipe_from})


# ---------------------------------------------------------------- the doors

def family_info(key: str) -> FamilyInfo | None:
    """The family's record; None for families outside the registry (e.g. imported codes)."""
    return FAMILY_INFO.get(key)


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


def bind_facts(cls: type, name: str) -> None:
    """Give a method class its row's facts (called from the class statement's `method=`):
    method_name, code_type, defaults, views and supervised. The row must name this class."""
    info = method_info(name)
    if info.implementation != f"{cls.__module__}:{cls.__qualname__}":
        raise ValueError(f"the registry's {name} row names {info.implementation}, not {cls.__qualname__}")
    cls.method_name, cls.code_type, cls.defaults = info.name, info.code_type, info.defaults
    cls.views, cls.supervised = info.views, info.supervised


class BoundToRow:
    """Base of the method classes (deep and shallow): a class statement that names its registry row,
    `class DPSH(PairwiseMethod, method="dpsh")`, gives the class that row's facts (`bind_facts`)."""

    def __init_subclass__(cls, method: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if method is not None:
            bind_facts(cls, method)


def create_method(name: str, bits: int, **hyper):
    """Build a registered method object: a deep method's loss module (it also takes num_classes) or a
    shallow hasher (it also takes seed). An ensemble has none: its estimator builds its members
    (hashviz.hashers.create_hasher)."""
    info = method_info(name)
    if info.implementation is None:
        raise HashvizError(f"{name} is built by its estimator (hashviz.hashers.create_hasher), not as one method")
    try:
        return info.constructor(bits=bits, **hyper)
    except TypeError as exc:
        raise HashvizError(f"bad hyper-parameters for {name}: {exc}") from None
