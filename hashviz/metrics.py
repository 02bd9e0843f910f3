"""Retrieval metrics for binary hash codes: the definitions every page and table quotes.

The same text, with worked examples, is in docs/metrics.md.

Ranking
    For one query, the database is ranked by Hamming distance ascending; ties are broken by database
    index ascending (the order of ``np.argsort(distances, kind="stable")``). Position i = 1, 2, ... n.

Relevance
    Single-label (labels int, shape (n,)): a database item is relevant when its label equals the
    query's. Multi-label (labels multi-hot 0/1, shape (n, C)): relevant when they share at least one
    label.

Excluding a row
    ``exclude[q] = t`` removes database row t from query q's database before anything is computed
    (for validation queries that are also in the database); -1 removes nothing. Everything below is
    then computed on the remaining n' = n - 1 items, exactly as if the row had been deleted.

mAP@k (``map_all``: k = n, ``map_1000``: k = 1000), k capped to n'
    rel_i = 1 when the item at position i is relevant, P@i = (rel_1 + ... + rel_i) / i,
    R_k = rel_1 + ... + rel_k (relevant items in the top k).
    AP@k = (1 / R_k) * sum_{i <= k, rel_i = 1} P@i, and AP@k = 0 when R_k = 0.
    mAP@k = mean of AP@k over all queries (queries without a relevant item count as 0).
    This is DeepHash-pytorch's CalcTopMap, without its bug of dropping the last database item.

Tie-aware mAP (``map_tie_aware``; He et al., arXiv 1705.08562)
    The expected AP@all when the items inside each Hamming-distance tie are put in a uniformly
    random order (instead of index order). Closed form: for the tie group at distance d with n_d
    items of which r_d are relevant, preceded by N_d items of which R_d are relevant, and R relevant
    items in total,
        E[group sum] = (r_d / n_d) * sum_{p=1..n_d} (R_d + 1 + (p - 1)(r_d - 1)/(n_d - 1)) / (N_d + p)
                     = (r_d / n_d) * [ (R_d + 1) * dH + (r_d - 1)/(n_d - 1) * (n_d - (N_d + 1) * dH) ]
    with dH = H(N_d + n_d) - H(N_d), H the harmonic numbers, and the (r_d - 1)/(n_d - 1) term taken
    as 0 when n_d = 1. Tie-aware AP = (1/R) * sum over d of E[group sum] (0 when R = 0); tie-aware
    mAP is its mean over queries. (Reason: position p of the group is relevant with probability
    r_d/n_d, and given that, the other r_d - 1 relevant items fall among the first p - 1 positions
    (p - 1)(r_d - 1)/(n_d - 1) times on average; AP is linear in that count.) It needs only the
    per-distance counts, so it costs O(bits) per query after the distance histogram.

Tie range (``map_tie_min``, ``map_tie_max``)
    The lowest and highest mAP@all over every order inside the tie groups: relevant items last
    (first) in every group at equal distance puts every relevant item as late (early) as any order
    can. Closed form from the same counts: the group's i-th relevant item (i = 1 .. r_d) sits at
    B + i, B = N_d + n_d - r_d (last) or N_d (first), its precisions sum to
    r_d + (R_d - B) * (H(B + r_d) - H(B)). min <= mAP@all, tie-aware mAP <= max (hashviz.ties).

Hamming-radius lookup (``pr_curve``, ``p_h2``, ``p_h2_empty``)
    The ball of radius r around a query is every (non-excluded) database item at distance <= r.
    pr_curve, for r = 0 .. bits, pools all queries (micro average):
        precision(r) = sum_q |relevant in ball_q(r)| / sum_q |ball_q(r)|   (0 when every ball is empty)
        recall(r)    = sum_q |relevant in ball_q(r)| / sum_q |relevant_q|  (0 when nothing is relevant)
    p_h2 = mean over queries of |relevant in ball_q(2)| / |ball_q(2)|, where a query whose ball is
    empty counts as precision 0; p_h2_empty = share of queries whose radius-2 ball is empty.

precision@k (``precision_at_k``, k in 1, 10, 100, 1000)
    Mean over queries of (relevant items in the top k') / k' with k' = min(k, n'); the dict key stays
    k. (0 for a query whose database is empty after exclusion.)

All results are plain Python floats; ``evaluate`` is exact (same numbers as sorting, up to float
rounding) and runs in O(n_q * n_db) time with O(n_db) memory via a compiled single pass per query.
"""

from __future__ import annotations

import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from hashviz import hamming
from hashviz.errors import HashvizError
from hashviz.hamming import as_words
from hashviz.metric_inputs import check_codes, check_exclude, check_label_pair
from hashviz.ties import tie_aware_ap_from_counts, tie_range_ap_from_counts

PRECISION_KS = (1, 10, 100, 1000)
MAP_K = 1000
LOOKUP_RADIUS = 2


@dataclass(frozen=True)
class Metric:
    """One reported metric: its key in metric dicts and config.json, its column label, whether only
    Hamming codes have it (n/a for pq codes), how one value is printed, a one-line definition, and
    which of evaluate's computed quantities it is."""

    key: str
    label: str
    hamming_only: bool
    fmt: str
    definition: str
    quantity: str


def reported_metrics() -> tuple[Metric, ...]:
    """The metrics every table, page and CLI line reports, in column order (the one schema: the
    leaderboard, Evaluate, Taxonomy, `hashviz eval` and the results table read it). Built from MAP_K
    and LOOKUP_RADIUS on each call, so changing either, or adding a row here, is the whole change."""
    k, r = MAP_K, LOOKUP_RADIUS
    return (
        Metric("map_all", "mAP@all", False, ".3f", "mean over queries of AP over the whole ranking", "map_all"),
        Metric(f"map_{k}", f"mAP@{k}", False, ".3f",
               f"mean AP over the top {k}; a query with no relevant item there scores 0", "map_k"),
        Metric("map_tie_aware", "tie-aware mAP", True, ".3f",
               "expected AP@all when each Hamming tie group comes in random order", "map_tie_aware"),
        Metric("map_tie_min", "mAP tie min", True, ".3f",
               "lowest mAP@all any order inside the Hamming ties gives (relevant items last)", "map_tie_min"),
        Metric("map_tie_max", "mAP tie max", True, ".3f",
               "highest mAP@all any order inside the Hamming ties gives (relevant items first)", "map_tie_max"),
        Metric(f"p_h{r}", f"P@H<={r}", True, ".3f",
               f"mean precision of the Hamming ball of radius {r}; an empty ball counts as 0", "p_ball"),
        Metric(f"p_h{r}_empty", "empty-ball share", True, ".3f",
               f"share of queries whose radius-{r} Hamming ball is empty", "p_ball_empty"),
    )


def metric_of(quantity: str) -> Metric:
    """The schema's entry for one of evaluate's computed quantities ("map_all", "p_ball", ...), so a
    sentence names a metric as its column does."""
    found = [m for m in reported_metrics() if m.quantity == quantity]
    if not found:
        raise KeyError(f"no reported metric computes {quantity!r}")
    return found[0]


def format_metric(metric: Metric, value) -> str:
    """One value as the schema prints it; "n/a" when missing (None or NaN, e.g. Hamming-only of pq)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return "n/a"
    return format(value, metric.fmt)


def _reported(quantities: dict) -> dict:
    """{key: float} for every reported metric from evaluate's computed quantities (NaN when absent)."""
    return {m.key: float(quantities.get(m.quantity, float("nan"))) for m in reported_metrics()}

__all__ = ["PRECISION_KS", "MAP_K", "LOOKUP_RADIUS", "Metric", "reported_metrics", "metric_of", "format_metric", "evaluate",
           "average_precision_per_query", "relevance", "rank_database", "tie_aware_ap_from_counts",
           "tie_range_per_query", "distance_ranking", "evaluate_index"]


# --------------------------------------------------------------------------------------------
# Simple public helpers
# --------------------------------------------------------------------------------------------

def relevance(query_labels: np.ndarray, database_labels: np.ndarray) -> np.ndarray:
    """bool (n_q, n_db): same label (int (n,) labels) or at least one shared label (multi-hot (n, C))."""
    query_labels = np.asarray(query_labels)
    database_labels = np.asarray(database_labels)
    check_label_pair(query_labels, database_labels, len(query_labels), len(database_labels))
    if query_labels.ndim == 1:
        return query_labels[:, None] == database_labels[None, :]
    if len(query_labels) <= 8:          # a click's query: read only the query's label columns
        return np.stack([database_labels[:, np.flatnonzero(q)].any(axis=1) for q in query_labels])
    q = query_labels.astype(np.float32)
    d = database_labels.astype(np.float32)
    return (q @ d.T) > 0.5


def rank_database(distances_1d: np.ndarray) -> np.ndarray:
    """int64 database order for one query: Hamming distance ascending, ties by index ascending."""
    distances_1d = np.asarray(distances_1d)
    if distances_1d.ndim != 1:
        raise HashvizError(f"expected one query's distances (n_db,), got shape {distances_1d.shape}")
    return np.argsort(distances_1d, kind="stable").astype(np.int64)


# --------------------------------------------------------------------------------------------
# The compiled single pass
# --------------------------------------------------------------------------------------------

def _label_words(labels: np.ndarray) -> np.ndarray:
    """int64 (n, L): the label itself (single-label) or multi-hot packed into 64-bit masks."""
    if labels.ndim == 1:
        return labels.astype(np.int64)[:, None].copy()
    return as_words(np.packbits(labels.astype(bool), axis=1)).view(np.int64)


_row_distances = None  # hashviz.hamming's compiled row kernel, set by _kernel() before compiling


def _single_pass_py(qw, dw, ql, dl, single, exclude, kmap, ks, bits, order, offsets, positions):
    # compiled by _kernel(). order int64 (n_db,): the order that breaks ties (empty: database index).
    # offsets / positions (when offsets is not empty): query q's j-th relevant item's 1-based rank
    # goes to positions[offsets[q] + j - 1] (hashviz.metric_rules reads every rule off them)
    n_q = qw.shape[0]
    n_db = dw.shape[0]
    n_l = ql.shape[1]
    n_k = ks.shape[0]
    hist_n = np.zeros((n_q, bits + 1), dtype=np.int64)
    hist_r = np.zeros((n_q, bits + 1), dtype=np.int64)
    ap_all = np.zeros(n_q, dtype=np.float64)
    ap_k = np.zeros(n_q, dtype=np.float64)
    hits = np.zeros((n_q, n_k), dtype=np.int64)
    dist = np.empty(n_db, dtype=np.int32)
    rel = np.empty(n_db, dtype=np.uint8)
    before = np.empty(bits + 1, dtype=np.int64)
    rel_before = np.empty(bits + 1, dtype=np.int64)
    seen = np.empty(bits + 1, dtype=np.int64)
    seen_rel = np.empty(bits + 1, dtype=np.int64)
    k_eff = np.empty(n_k, dtype=np.int64)
    for q in range(n_q):
        ex = exclude[q]
        # pass 1: distances (popcount of XOR), relevance, per-distance counts
        _row_distances(qw[q], dw, dist)
        for t in range(n_db):
            d = dist[t]
            r = 0
            if single:
                if ql[q, 0] == dl[t, 0]:
                    r = 1
            else:
                for w in range(n_l):
                    if (ql[q, w] & dl[t, w]) != 0:
                        r = 1
                        break
            dist[t] = d
            rel[t] = r
            if t != ex:
                hist_n[q, d] += 1
                hist_r[q, d] += r
        n_eff = n_db - 1 if ex >= 0 else n_db
        km = min(kmap, n_eff)
        for i in range(n_k):
            k_eff[i] = min(ks[i], n_eff)
        acc_n = 0
        acc_r = 0
        for d in range(bits + 1):
            before[d] = acc_n
            rel_before[d] = acc_r
            acc_n += hist_n[q, d]
            acc_r += hist_r[q, d]
            seen[d] = 0
            seen_rel[d] = 0
        if acc_r == 0:
            continue
        # pass 2, in index order: an item's position is (items at a smaller distance) + (items at
        # its distance with index <= its own), which is exactly the stable ranking
        s_all = 0.0
        s_k = 0.0
        r_k = 0
        by_order = order.shape[0] > 0
        store = offsets.shape[0] > 0
        for i_t in range(n_db):
            t = order[i_t] if by_order else i_t
            if t == ex:
                continue
            d = dist[t]
            seen[d] += 1
            if rel[t]:
                seen_rel[d] += 1
                pos = before[d] + seen[d]
                j = rel_before[d] + seen_rel[d]
                prec = j / pos
                if store and offsets[q] + j <= offsets[q + 1]:
                    positions[offsets[q] + j - 1] = pos
                s_all += prec
                if pos <= km:
                    s_k += prec
                    r_k += 1
                for i in range(n_k):
                    if pos <= k_eff[i]:
                        hits[q, i] += 1
        ap_all[q] = s_all / acc_r
        if r_k > 0:
            ap_k[q] = s_k / r_k
    return hist_n, hist_r, ap_all, ap_k, hits


_KERNEL_LOCK = threading.Lock()   # a caller waits for a load already under way instead of loading twice


def _kernel():
    with _KERNEL_LOCK:
        return _load_kernel()


def load_kernel_in_background() -> None:
    """Start loading the compiled pass on a daemon thread, so that a trainer's first validation does
    not wait for it: importing numba and reading the machine code of each argument type from its disk
    cache take about half a second, the first time the pass runs. A single-label case of two
    queries loads the types a single-label validation uses."""
    codes, labels = np.zeros((2, 1), dtype=np.uint8), np.zeros(2, dtype=np.int64)
    threading.Thread(target=evaluate, args=(codes, codes, labels, labels),
                     name="hashviz-metrics-kernel", daemon=True).start()


@functools.lru_cache(maxsize=1)
def _load_kernel():
    """The compiled pass (numba, cached on disk; imported lazily so `import hashviz.metrics` is cheap)."""
    import numba

    global _row_distances
    _row_distances = hamming.kernels().row_distances   # the shared kernel, called per query
    return numba.njit(cache=True, nogil=True, boundscheck=False)(_single_pass_py)


PARALLEL_PAIRS = 50_000_000    # query x database pairs above which the queries are split over the cores
_NONE = np.zeros(0, dtype=np.int64)


def _single_pass(query_codes, database_codes, query_labels, database_labels, exclude, kmap, ks,
                 order=_NONE, offsets=_NONE, positions=np.zeros(0, dtype=np.int32)):
    """The compiled pass; a big job runs query chunks on every core (the kernel releases the GIL).
    order / offsets / positions: see _single_pass_py (each chunk writes its own queries' ranks)."""
    qw, dw = as_words(query_codes), as_words(database_codes)
    ql, dl = _label_words(query_labels), _label_words(database_labels)
    run = lambda c: _kernel()(qw[c], dw, ql[c], dl, query_labels.ndim == 1, exclude[c], int(kmap),  # noqa: E731
                              np.asarray(ks, dtype=np.int64), query_codes.shape[1] * 8, order,
                              offsets[c[0]:c[-1] + 2] if offsets.size else offsets, positions)
    workers = min(os.cpu_count() or 1, len(qw)) if len(qw) * len(dw) >= PARALLEL_PAIRS else 1
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(run, np.array_split(np.arange(len(qw)), workers)))
    return tuple(np.concatenate(p) for p in zip(*parts))


def _prepare(query_codes, database_codes, query_labels, database_labels, exclude):
    check_codes(query_codes, database_codes)
    check_label_pair(query_labels, database_labels, query_codes.shape[0], database_codes.shape[0])
    exclude = check_exclude(exclude, query_codes.shape[0], database_codes.shape[0])
    return exclude


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------

def average_precision_per_query(query_codes: np.ndarray, database_codes: np.ndarray,
                                query_labels: np.ndarray, database_labels: np.ndarray,
                                top_k: int | None = None, *, exclude: np.ndarray | None = None,
                                tie_aware: bool = False) -> np.ndarray:
    """float64 (n_q,): AP@top_k per query (top_k None = all; capped to the database size).

    Same definitions as ``evaluate`` (module docstring): ranking by distance then index, AP@k divides
    by the relevant items in the top k, a query without one gets 0. ``tie_aware=True`` gives the
    expected AP@all under random order within ties (top_k must then be None). ``exclude`` as in
    ``evaluate``.
    """
    exclude = _prepare(query_codes, database_codes, query_labels, database_labels, exclude)
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise HashvizError(f"top_k must be a positive integer or None, got {top_k!r}")
        if tie_aware:
            raise HashvizError("tie-aware AP is defined for the whole ranking: use top_k=None")
    n_db = database_codes.shape[0]
    kmap = n_db if top_k is None else min(int(top_k), n_db)
    hist_n, hist_r, ap_all, ap_k, _ = _single_pass(
        query_codes, database_codes, query_labels, database_labels, exclude, kmap,
        np.zeros(0, dtype=np.int64))
    if tie_aware:
        return tie_aware_ap_from_counts(hist_n, hist_r)
    return ap_all if top_k is None else ap_k


def tie_range_per_query(query_codes: np.ndarray, database_codes: np.ndarray, query_labels: np.ndarray,
                        database_labels: np.ndarray, *, exclude: np.ndarray | None = None):
    """(lowest, highest) AP@all per query over every order inside the ties, float64 (n_q,) each."""
    exclude = _prepare(query_codes, database_codes, query_labels, database_labels, exclude)
    hist_n, hist_r, *_ = _single_pass(query_codes, database_codes, query_labels, database_labels, exclude,
                                      database_codes.shape[0], _NONE)
    return tie_range_ap_from_counts(hist_n, hist_r)


def evaluate(query_codes: np.ndarray, database_codes: np.ndarray, query_labels: np.ndarray,
             database_labels: np.ndarray, exclude: np.ndarray | None = None, *, per_query: bool = False):
    """The full metric set for packed codes (uint8 (n, bits/8)); definitions in the module docstring.

    query_labels / database_labels: int (n,) (single-label) or multi-hot (n, C) (multi-label).
    exclude: optional int (n_q,), a database row to leave out for each query (-1 for none).

    Returns a JSON-serialisable dict of plain floats, one per ``reported_metrics()`` key::

        {"map_all", "map_1000", "map_tie_aware", "map_tie_min", "map_tie_max", "p_h2",
         "p_h2_empty": float,   (MAP_K 1000, radius 2)
         "precision_at_k": {1: float, 10: float, 100: float, 1000: float},
         "pr_curve": {"radius": [0 .. bits], "precision": [...], "recall": [...]}}
    per_query=True: (that dict, AP@all of every query float64 (n_q,)) from the same pass.
    """
    exclude = _prepare(query_codes, database_codes, query_labels, database_labels, exclude)
    bits = query_codes.shape[1] * 8
    hist_n, hist_r, ap_all, ap_k, hits = _single_pass(
        query_codes, database_codes, query_labels, database_labels, exclude, MAP_K, PRECISION_KS)

    n_eff = hist_n.sum(axis=1)
    k_eff = np.minimum(np.asarray(PRECISION_KS, dtype=np.int64)[None, :], n_eff[:, None])
    p_at_k = np.where(k_eff > 0, hits / np.maximum(k_eff, 1), 0.0).mean(axis=0)

    ball_n = np.cumsum(hist_n, axis=1)          # (n_q, bits + 1): items within radius r
    ball_r = np.cumsum(hist_r, axis=1)
    sum_n = ball_n.sum(axis=0)
    sum_r = ball_r.sum(axis=0)
    total_rel = int(hist_r.sum())
    precision = np.where(sum_n > 0, sum_r / np.maximum(sum_n, 1), 0.0)
    recall = sum_r / total_rel if total_rel else np.zeros(bits + 1)

    r2 = min(LOOKUP_RADIUS, bits)
    tie_lo, tie_hi = tie_range_ap_from_counts(hist_n, hist_r)
    in2, rel2 = ball_n[:, r2], ball_r[:, r2]
    p_h2 = np.where(in2 > 0, rel2 / np.maximum(in2, 1), 0.0).mean()

    metrics = {
        **_reported({"map_all": ap_all.mean(), "map_k": ap_k.mean(),
                     "map_tie_aware": tie_aware_ap_from_counts(hist_n, hist_r).mean(),
                     "map_tie_min": tie_lo.mean(), "map_tie_max": tie_hi.mean(),
                     "p_ball": p_h2, "p_ball_empty": (in2 == 0).mean()}),
        "precision_at_k": {int(k): float(v) for k, v in zip(PRECISION_KS, p_at_k)},
        "pr_curve": {
            "radius": list(range(bits + 1)),
            "precision": [float(v) for v in precision],
            "recall": [float(v) for v in recall],
        },
    }
    return (metrics, ap_all) if per_query else metrics


# --------------------------------------------------------------------------------------------
# Real-valued distances (pq codes: asymmetric distances, no Hamming ball)
# --------------------------------------------------------------------------------------------

def distance_ranking(distances: np.ndarray, relevant: np.ndarray):
    """Per query, from real-valued distances float (n_q, n_db) and relevance bool (n_q, n_db):
    (AP@all (n_q,), AP@MAP_K (n_q,), relevant items in the top k for k in PRECISION_KS (n_q, len)).

    Same definitions as ``evaluate`` (rank by distance then index, AP@k over the relevant items in
    the top k, 0 without any; k capped to n_db).
    """
    n_q, n_db = distances.shape
    ap_all, ap_k = np.zeros(n_q), np.zeros(n_q)
    hits = np.zeros((n_q, len(PRECISION_KS)))
    ks = np.minimum(np.asarray(PRECISION_KS), n_db)
    k = min(MAP_K, n_db)
    for q in range(n_q):
        rel = relevant[q][np.argsort(distances[q], kind="stable")]
        cum = np.cumsum(rel)
        prec = cum / np.arange(1, n_db + 1)
        ap_all[q] = prec[rel].sum() / cum[-1] if cum[-1] else 0.0
        ap_k[q] = prec[:k][rel[:k]].sum() / cum[k - 1] if cum[k - 1] else 0.0
        hits[q] = cum[ks - 1]
    return ap_all, ap_k, hits


def evaluate_index(index, queries: np.ndarray, query_labels: np.ndarray, database_labels: np.ndarray,
                   *, per_query: bool = False, block: int = 64):
    """Ranking metrics of an index that returns real-valued distances (``PQIndex.distances``), blocks
    of ``block`` queries at a time.

    Returns the metric dict (the reported metrics and ``precision_at_k``; the Hamming-only metrics
    are NaN and ``pr_curve`` None: pq codes have no Hamming ball), or with ``per_query=True`` float64 (n_q,) AP@all of every query.
    """
    parts = []
    for s in range(0, len(queries), block):
        dist = index.distances(queries[s:s + block])
        parts.append(distance_ranking(dist, relevance(query_labels[s:s + block], database_labels)))
    ap_all, ap_k, hits = (np.concatenate(p) for p in zip(*parts))
    if per_query:
        return ap_all
    ks = np.minimum(np.asarray(PRECISION_KS), index.ntotal)
    return {**_reported({"map_all": ap_all.mean(), "map_k": ap_k.mean()}),
            "precision_at_k": {int(k): float(v) for k, v in zip(PRECISION_KS, (hits / ks).mean(0))},
            "pr_curve": None}
