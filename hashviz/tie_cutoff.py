"""AP@k over the orders inside Hamming ties, from per-distance counts alone (the metric lens's
``expected`` / ``worst`` / ``best`` rules; hashviz.metric_rules).

With a cut-off, worst/best AP are the true extremes: all tie groups inside the cut-off take their
relevant items last/first and the group the cut-off splits takes whichever number of its relevant
items inside the top k gives the lowest/highest AP; ``expected`` averages over that number with its
hypergeometric weight. n / r: int64 (n_q, bits + 1), items and relevant items at each distance.
"""

from __future__ import annotations

import numpy as np

from hashviz.ties import harmonic, ordered_group_sums, tie_aware_group_sums


def ap_from_counts(n: np.ndarray, r: np.ndarray, tie: str, k: int):
    """Per query (AP@k, a relevant item can reach the top k) for expected / worst / best ties."""
    before = np.cumsum(n, axis=1) - n
    rel_before = np.cumsum(r, axis=1) - r
    full = before + n <= k
    split = (before < k) & ~full                        # the group the cut-off cuts (at most one)
    group = (tie_aware_group_sums(n, r) if tie == "expected"
             else ordered_group_sums(n, r, relevant_last=tie == "worst"))
    s_full = np.where(full, group, 0.0).sum(axis=1)
    r_full = np.where(full, r, 0).sum(axis=1)
    out = np.where(r_full > 0, s_full / np.maximum(r_full, 1), 0.0)
    reachable = r_full > 0
    rows = np.flatnonzero(split.any(axis=1))
    if len(rows):
        d = np.argmax(split[rows], axis=1)
        at = (rows, d)
        split_ap, some = _split_group(tie, s_full[rows], rel_before[at], before[at], k - before[at], n[at], r[at],
                                      harmonic(int(n.sum(axis=1).max())))
        out[rows] = split_ap
        reachable[rows] |= some
    return out, reachable


def _split_group(tie, s, rel_before, before, places, n, r, h):
    """AP@k of the queries whose tie group (n items, r relevant, after `before` items holding
    `rel_before` relevant) has only `places` places inside the cut-off (int64 (m,) each); s = the sum
    of precisions of the groups before it. i of the group's relevant items fall inside: the min / max
    over the possible i (worst / best) or the hypergeometric expectation over i (expected), every
    (query, i) pair at once."""
    low, high = np.maximum(0, r - (n - places)), np.minimum(r, places)
    count = high - low + 1
    q = np.repeat(np.arange(len(s)), count)
    seg = np.cumsum(count) - count
    i = low[q] + np.arange(count.sum()) - seg[q]
    s, rb, b, L, n, r = s[q], rel_before[q], before[q], places[q], n[q], r[q]
    if tie == "best":
        x = i + (rb - b) * (h[b + i] - h[b])
    elif tie == "worst":
        start = b + L - i
        x = i + (rb - start) * (h[start + i] - h[start])
    else:
        dh = h[b + L] - h[b]
        inner = np.where(L > 1, (i - 1) / np.maximum(L - 1, 1), 0.0)
        x = i / L * ((rb + 1) * dh + inner * (L - (b + 1) * dh))
    found = rb + i
    ap = np.where(found > 0, (s + x) / np.maximum(found, 1), 0.0)
    reachable = rel_before + high > 0
    if tie == "best":
        return np.maximum.reduceat(ap, seg), reachable
    if tie == "worst":
        return np.minimum.reduceat(ap, seg), reachable
    from scipy.special import gammaln

    def log_choose(a, c):
        return gammaln(a + 1) - gammaln(c + 1) - gammaln(a - c + 1)
    weight = np.exp(log_choose(r, i) + log_choose(n - r, L - i) - log_choose(n, L))   # hypergeometric pmf
    return np.add.reduceat(weight * ap, seg), reachable
