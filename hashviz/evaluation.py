"""Metrics of a whole model directory, for binary codes (Hamming) and pq codes (asymmetric
distances), with the protocol stated."""

from __future__ import annotations

from hashviz.code_space import code_space
from hashviz.data import describe_protocol
from hashviz import metrics as M


def metric_keys() -> list[str]:
    """The keys a model's metrics must hold: the reported metrics and precision_at_k."""
    return [m.key for m in M.reported_metrics()] + ["precision_at_k"]


def model_metrics(model) -> dict:
    """The stored metrics of a model directory, recomputed from its codes when absent."""
    stored = model.config.get("metrics") or {}
    if all(k in stored for k in metric_keys()):
        return {**stored, "precision_at_k": {int(k): v for k, v in stored["precision_at_k"].items()}}
    return recomputed_metrics(model)


def recomputed_metrics(model) -> dict:
    """The metrics of a model directory computed from its codes and labels, ignoring what it stores."""
    metrics = code_space(model).evaluate()
    metrics["protocol"] = describe_protocol(model.protocol)
    return metrics
