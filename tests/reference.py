"""Slow, obviously-correct references for the metrics, shared by the tests: Python loops over an
explicit ranking (distance ascending, ties by database index ascending, as docs/metrics.md says),
never a call into the code under test."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np


def ref_distances(query_codes, database_codes):
    q = np.unpackbits(query_codes, axis=1).tolist()
    d = np.unpackbits(database_codes, axis=1).tolist()
    return [[sum(a != b for a, b in zip(qi, dj)) for dj in d] for qi in q]


def ref_relevant(query_labels, database_labels):
    out = []
    for ql in query_labels.tolist():
        if query_labels.ndim == 1:
            out.append([ql == dl for dl in database_labels.tolist()])
        else:
            out.append([any(a and b for a, b in zip(ql, dl)) for dl in database_labels.tolist()])
    return out


def ref_ranked_relevance(dist, rel, skip=-1):
    """Relevance flags in ranking order: distance ascending, then index ascending."""
    order = sorted((t for t in range(len(dist)) if t != skip), key=lambda t: (dist[t], t))
    return [rel[t] for t in order]


def ref_ap(ranked, k=None):
    k = len(ranked) if k is None else min(k, len(ranked))
    hits, total = 0, 0.0
    for i, r in enumerate(ranked[:k], start=1):
        if r:
            hits += 1
            total += hits / i
    return total / hits if hits else 0.0


def ref_tie_aware_ap(dist, rel, skip=-1):
    """Exact expectation by enumerating every equally likely arrangement of each tie group.

    A uniformly random order inside a group puts its relevant items on a uniformly random subset of
    the group's positions, so enumerating the subsets (with Fractions) is the full expectation.
    """
    items = [t for t in range(len(dist)) if t != skip]
    groups = {}
    for t in items:
        groups.setdefault(dist[t], []).append(rel[t])
    layouts = []
    for d in sorted(groups):
        g = groups[d]
        n, r = len(g), sum(g)
        layouts.append([[p in chosen for p in range(n)]
                        for chosen in itertools.combinations(range(n), r)])
    total, count = Fraction(0), 0
    for combo in itertools.product(*layouts):
        ranked = [x for group in combo for x in group]
        hits, s = 0, Fraction(0)
        for i, r in enumerate(ranked, start=1):
            if r:
                hits += 1
                s += Fraction(hits, i)
        total += s / hits if hits else 0
        count += 1
    return float(total / count)


def ref_all(query_codes, database_codes, query_labels, database_labels, exclude=None):
    bits = query_codes.shape[1] * 8
    dist = ref_distances(query_codes, database_codes)
    rel = ref_relevant(query_labels, database_labels)
    n_q = len(dist)
    exclude = [-1] * n_q if exclude is None else list(exclude)
    ap_all, ap_1000, p_at = [], [], {k: [] for k in (1, 10, 100, 1000)}
    ball_n = [[0] * (bits + 1) for _ in range(n_q)]
    ball_r = [[0] * (bits + 1) for _ in range(n_q)]
    total_rel = 0
    for q in range(n_q):
        ranked = ref_ranked_relevance(dist[q], rel[q], exclude[q])
        ap_all.append(ref_ap(ranked))
        ap_1000.append(ref_ap(ranked, 1000))
        for k in p_at:
            kk = min(k, len(ranked))
            p_at[k].append(sum(ranked[:kk]) / kk if kk else 0.0)
        total_rel += sum(ranked)
        for t in range(len(dist[q])):
            if t == exclude[q]:
                continue
            for r in range(bits + 1):
                if dist[q][t] <= r:
                    ball_n[q][r] += 1
                    ball_r[q][r] += rel[q][t]
    precision, recall = [], []
    for r in range(bits + 1):
        sn = sum(ball_n[q][r] for q in range(n_q))
        sr = sum(ball_r[q][r] for q in range(n_q))
        precision.append(sr / sn if sn else 0.0)
        recall.append(sr / total_rel if total_rel else 0.0)
    p_h2 = [ball_r[q][2] / ball_n[q][2] if ball_n[q][2] else 0.0 for q in range(n_q)]
    return {
        "ap_all": ap_all,
        "map_all": np.mean(ap_all),
        "map_1000": np.mean(ap_1000),
        "p_h2": np.mean(p_h2),
        "p_h2_empty": np.mean([ball_n[q][2] == 0 for q in range(n_q)]),
        "precision_at_k": {k: np.mean(v) for k, v in p_at.items()},
        "precision": precision,
        "recall": recall,
        "dist": dist,
        "rel": rel,
    }
