"""Single- and multi-label data alike: who carries a label, how to group items by one chosen label.

Labels are int (n,) (one class per item) or multi-hot 0/1 (n, C) (NUS-WIDE, MS-COCO). Relevance is
"same class" or "shares at least one label" (hashviz.metrics.relevance). Pages that colour or group
by class use `label_groups`: single-label data by class; multi-label data by one chosen label
(has it / has it not) or, with no choice, by each item's first label.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from hashviz.errors import HashvizError

FIRST_LABEL = None      # the multi-label grouping choice "each item's first label"


def is_multi_label(labels: np.ndarray) -> bool:
    return np.ndim(labels) == 2


def members(labels: np.ndarray, label: int) -> np.ndarray:
    """bool (n,): items carrying `label` (multi-hot: among others)."""
    labels = np.asarray(labels)
    return labels == label if labels.ndim == 1 else labels[:, int(label)] != 0


def label_set(labels: np.ndarray) -> list[int]:
    """The labels present: classes that occur (int labels) or columns set in some row (multi-hot)."""
    labels = np.asarray(labels)
    return np.unique(labels).tolist() if labels.ndim == 1 else np.flatnonzero(labels.any(axis=0)).tolist()


def relevance_rule(labels: np.ndarray) -> str:
    """How a retrieved item counts as relevant, in words."""
    if is_multi_label(labels):
        return "relevant = shares at least one label with the query (multi-label)"
    return "relevant = same class as the query"


def label_groups(labels: np.ndarray, chosen: int | None = FIRST_LABEL) -> np.ndarray:
    """int64 (n,) group of each item: single-label data its class; multi-label data 1 / 0 for
    carrying / not carrying label `chosen`, or each item's first label (-1: none) without a choice."""
    labels = np.asarray(labels)
    if labels.ndim == 1:
        return labels.astype(np.int64, copy=False)
    if labels.ndim != 2:
        raise HashvizError(f"labels must be (n,) or multi-hot (n, C), got shape {labels.shape}")
    if chosen is None:
        return np.where(labels.any(axis=1), np.argmax(labels != 0, axis=1), -1).astype(np.int64)
    if not 0 <= int(chosen) < labels.shape[1]:
        raise HashvizError(f"label {chosen} is outside the {labels.shape[1]} labels")
    return (labels[:, int(chosen)] != 0).astype(np.int64)


def group_names(class_names, chosen: int | None = FIRST_LABEL, multi_label: bool = False) -> list[str]:
    """Names of `label_groups`' groups: the class names, or ["without X", "with X"]."""
    names = [str(c) for c in class_names]
    if not multi_label or chosen is None:
        return names
    name = names[int(chosen)] if 0 <= int(chosen) < len(names) else str(chosen)
    return [f"without {name}", f"with {name}"]


def grouping_choices(labels: np.ndarray, class_names) -> dict:
    """For a multi-label model's picker: None -> "first label of each item", c -> "label: name"."""
    if not is_multi_label(labels):
        return {}
    names = [str(c) for c in class_names]
    return {FIRST_LABEL: "first label of each item",
            **{c: f"has {names[c] if c < len(names) else c} or not" for c in label_set(labels)}}


def partial_matches(query_label: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """bool (n,): items relevant to a multi-label query (a shared label) whose label set still
    differs from the query's: partly right. All False for single-label data."""
    query_label, labels = np.asarray(query_label), np.asarray(labels)
    if labels.ndim == 1 or query_label.ndim == 0:
        return np.zeros(len(labels), dtype=bool)
    q = query_label != 0
    d = labels != 0
    return (d & q).any(axis=1) & (d != q).any(axis=1)


def label_text(label, class_names: Sequence[str]) -> str:
    """'3' -> its class name; multi-hot -> names joined by '+'; None -> 'unknown'."""
    if label is None:
        return "unknown"
    label = np.asarray(label)
    if label.ndim == 0:
        i = int(label)
        return str(class_names[i]) if 0 <= i < len(class_names) else str(i)
    names = [str(class_names[i]) if i < len(class_names) else str(i) for i in np.flatnonzero(label)]
    return "+".join(names) or "none"
