"""Metrics of a whole model directory, for binary codes (Hamming) and pq codes (asymmetric
distances), with the protocol stated."""

from __future__ import annotations

import numpy as np

from hashviz.data import describe_protocol
from hashviz.errors import HashvizError
from hashviz.metrics import MAP_K, PRECISION_KS, evaluate

METRIC_KEYS = ("map_all", "map_1000", "map_tie_aware", "p_h2", "p_h2_empty", "precision_at_k")


def model_metrics(model) -> dict:
    """The stored metrics of a model directory, recomputed from its codes when absent."""
    stored = model.config.get("metrics") or {}
    if all(k in stored for k in METRIC_KEYS):
        return {**stored, "precision_at_k": {int(k): v for k, v in stored["precision_at_k"].items()}}
    if model.code_type == "pq":
        raise HashvizError(f"{model.name}: pq models need their stored metrics (re-train to compute them)")
    metrics = evaluate(model.query_codes, model.database_codes, model.query_labels, model.database_labels)
    metrics["protocol"] = describe_protocol(model.protocol)
    return metrics


def ranking_metrics(distances: np.ndarray, relevant: np.ndarray) -> dict:
    """mAP@all, mAP@1000 and P@k from real-valued distances (pq asymmetric search).

    distances: float (n_q, n_db); relevant: bool (n_q, n_db). Same definitions as hashviz.metrics
    (rank by distance then index, AP@k over the relevant items in the top k, 0 without any).
    Hamming-only quantities (tie-aware mAP, radius lookups) are NaN: pq codes have no Hamming ball.
    """
    n_q, n_db = distances.shape
    ap_all, ap_k = np.zeros(n_q), np.zeros(n_q)
    hits = np.zeros((n_q, len(PRECISION_KS)))
    ks = np.minimum(np.asarray(PRECISION_KS), n_db)
    for q in range(n_q):
        rel = relevant[q][np.argsort(distances[q], kind="stable")]
        cum = np.cumsum(rel)
        prec = cum / np.arange(1, n_db + 1)
        ap_all[q] = prec[rel].sum() / cum[-1] if cum[-1] else 0.0
        k = min(MAP_K, n_db)
        ap_k[q] = prec[:k][rel[:k]].sum() / cum[k - 1] if cum[k - 1] else 0.0
        hits[q] = cum[ks - 1]
    nan = float("nan")
    return {"map_all": float(ap_all.mean()), "map_1000": float(ap_k.mean()), "map_tie_aware": nan,
            "p_h2": nan, "p_h2_empty": nan,
            "precision_at_k": {int(k): float(v) for k, v in zip(PRECISION_KS, (hits / ks).mean(0))},
            "pr_curve": None}
