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


# name -> (dataset it is defined on, per-class query, train, validation counts)
PER_CLASS_PROTOCOLS = {
    "fmnist-1k": ("fashion-mnist", 100, 500, 100),
    "mnist-1k": ("mnist", 100, 500, 100),
    "cifar10-1k": ("cifar10", 100, 500, 100),
    "digits-small": ("digits", 10, 50, 10),
}
PROTOCOLS = [*PER_CLASS_PROTOCOLS, "fmnist-full"]


def describe_protocol(name: str) -> str:
    """One plain sentence per protocol, quoted beside every metric."""
    if name == "fmnist-full":
        return ("fmnist-full: 10,000 t10k queries against the 60,000 train images (also the "
                "training set); validation = 100 train images per class, seeded")
    if name in PER_CLASS_PROTOCOLS:
        _, q, t, v = PER_CLASS_PROTOCOLS[name]
        return (f"{name}: per class {q} queries, {t} training, {v} validation images (seeded); "
                "database = every non-query image")
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
