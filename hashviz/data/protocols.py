"""Named, seeded retrieval protocols: which images are queries, training, validation, database.

fmnist-1k (after DeepHash-pytorch's cifar10-1): with rng = numpy default_rng(seed), for each
class in label order, permute that class's indices (pooled order, 0..69,999); the first 100 are
queries, the next 500 training, the next 100 validation. The database is every non-query image
(training and validation included). Model selection reads validation only, never the queries:
during training (hashviz.training) the validation images are ranked against a seeded sample of
2,000 training images (VALIDATION_DATABASE there), not against the database, which is encoded once,
for the chosen model only. Here training and validation images are disjoint.

fmnist-full: queries are the 10,000 t10k images; training = database = the 60,000 train images;
validation = 100 per class of the training images (seeded). They too are ranked against 2,000
training images, and as the validation images are training images, one can be among those 2,000
and find itself at distance 0 (the same for every model compared, so selection stays fair).

fmnist-unseen2 (seen and unseen classes, after Sablayrolles et al., arXiv 1609.06753): with rng =
default_rng(seed), first 2 of the 10 classes are drawn without replacement (rng.choice) and held
out; then the fmnist-1k cut runs with the same rng (so its images differ from fmnist-1k's for the
same seed). Training and validation keep only the 8 seen classes, so no image of a held-out class
is trained on or selects the model; queries (100 per class, every class) and the database (every
non-query image) hold all 10, and hashviz.unseen scores the four settings on them. digits-unseen2
is the same on sklearn's digits with digits-small's counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hashviz.data.datasets import Dataset
from hashviz.errors import HashvizError


@dataclass(frozen=True, eq=False)
class Split:
    """Index arrays (int64, into dataset.images) of one protocol."""

    name: str
    seed: int
    query: np.ndarray
    train: np.ndarray
    validation: np.ndarray
    database: np.ndarray
    description: str = ""
    unseen_classes: tuple[int, ...] = ()   # classes held out of training and validation


# name -> (dataset, number of held-out classes, per-class query, train, validation counts)
UNSEEN_PROTOCOLS = {
    "fmnist-unseen2": ("fashion-mnist", 2, 100, 500, 100),
    "digits-unseen2": ("digits", 2, 10, 50, 10),     # seconds-long runs (tests)
}


# name -> (dataset it is defined on, per-class query, train, validation counts)
PER_CLASS_PROTOCOLS = {
    "fmnist-1k": ("fashion-mnist", 100, 500, 100),
    "mnist-1k": ("mnist", 100, 500, 100),
    "cifar10-1k": ("cifar10", 100, 500, 100),
    "digits-small": ("digits", 10, 50, 10),
}
PROTOCOLS = [*PER_CLASS_PROTOCOLS, "fmnist-full", *UNSEEN_PROTOCOLS]


def describe_protocol(name: str) -> str:
    """One plain sentence per protocol, quoted beside every metric."""
    if name == "fmnist-full":
        return ("fmnist-full: 10,000 t10k queries against the 60,000 train images (also the "
                "training set); validation = 100 train images per class, seeded")
    if name in PER_CLASS_PROTOCOLS:
        _, q, t, v = PER_CLASS_PROTOCOLS[name]
        return (f"{name}: per class {q} queries, {t} training, {v} validation images (seeded); "
                "database = every non-query image")
    if name in UNSEEN_PROTOCOLS:
        _, held, q, t, v = UNSEEN_PROTOCOLS[name]
        return (f"{name}: {held} classes drawn by the seed are held out of training and validation "
                f"(config.json's unseen_classes); per class {q} queries, per seen class {t} training, {v} "
                "validation images (seeded); database = every non-query image, held-out classes included")
    return name


def default_protocol(dataset_name: str) -> str:
    for name, (ds, *_counts) in PER_CLASS_PROTOCOLS.items():
        if ds == dataset_name:
            return name
    return "per-class-10%"


def make_split(dataset: Dataset, name: str, seed: int = 0) -> Split:
    """Build the named protocol split of `dataset`, reproducibly from `seed`."""
    labels = np.asarray(dataset.labels)
    if labels.ndim != 1:
        raise HashvizError("protocols need single-label datasets")
    if name == "fmnist-full":
        if dataset.name != "fashion-mnist" or len(dataset) != 70000:
            raise HashvizError("fmnist-full needs the full 70,000-image Fashion-MNIST")
        train = np.arange(60000)
        validation = _per_class(labels[:60000], np.random.default_rng(seed), (100,))[0]
        return Split(name, seed, np.arange(60000, 70000), train, validation, train,
                     describe_protocol(name))
    if name in UNSEEN_PROTOCOLS:
        return _unseen_split(dataset, labels, name, seed)
    if name in PER_CLASS_PROTOCOLS:
        counts = PER_CLASS_PROTOCOLS[name][1:]
    elif name == "per-class-10%":  # any other labelled dataset: 10% / 50% / 10% of the smallest class
        smallest = np.bincount(labels).min()
        counts = (max(1, smallest // 10), max(1, smallest // 2), max(1, smallest // 10))
    else:
        raise HashvizError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    query, train, validation = _per_class(labels, np.random.default_rng(seed), counts)
    database = np.setdiff1d(np.arange(len(labels)), query)
    return Split(name, seed, query, train, validation, database, describe_protocol(name))


def _unseen_split(dataset: Dataset, labels: np.ndarray, name: str, seed: int) -> Split:
    """Held-out classes first (the seed's draw), then the per-class cut; seen classes alone train."""
    dataset_name, held, *counts = UNSEEN_PROTOCOLS[name]
    if dataset.name != dataset_name:
        raise HashvizError(f"{name} is defined on {dataset_name}, not {dataset.name}")
    rng = np.random.default_rng(seed)
    unseen = np.sort(rng.choice(np.unique(labels), size=held, replace=False))
    query, train, validation = _per_class(labels, rng, counts)
    seen_only = [rows[~np.isin(labels[rows], unseen)] for rows in (train, validation)]
    database = np.setdiff1d(np.arange(len(labels)), query)
    return Split(name, seed, query, *seen_only, database, describe_protocol(name),
                 tuple(int(c) for c in unseen))


def seen_labels(labels: np.ndarray, unseen_classes) -> np.ndarray:
    """Class ids renumbered over the seen classes only (0 .. seen - 1, in class order): a classifier
    head trained on the seen classes has one output per seen class. Labels of held-out classes are
    refused (they must never reach training)."""
    labels = np.asarray(labels, dtype=np.int64)
    if not len(unseen_classes):
        return labels
    if np.isin(labels, unseen_classes).any():
        raise HashvizError("a held-out class reached training; the protocol split is wrong")
    return labels - np.searchsorted(np.sort(np.asarray(unseen_classes)), labels, side="right")


def _per_class(labels: np.ndarray, rng: np.random.Generator, counts) -> list[np.ndarray]:
    """For each class (ascending), permute its indices and cut consecutive blocks of `counts`."""
    parts = [[] for _ in counts]
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        if len(members) < sum(counts):
            raise HashvizError(f"class {cls} has {len(members)} images, the protocol needs {sum(counts)}")
        start = 0
        for part, count in zip(parts, counts):
            part.append(members[start:start + count])
            start += count
    return [np.sort(np.concatenate(p)).astype(np.int64) for p in parts]
