"""Benchmark: hashviz.metrics.evaluate against a plain numpy implementation, side by side.

    python bench/metrics.py [--queries 1000] [--database 69000] [--bits 64] [--seed 0]

The plain implementation ranks every query with a stable argsort of int64 distances, takes
cumulative sums of the sorted relevance and reads every metric off them (the tie range by sorting
relevant items last / first inside each distance, tie-aware AP from the
per-position expectation). Both must give the same numbers (to 1e-9); the script prints both times
and the ratio and exits non-zero on a mismatch. evaluate's one-off compile / cache load is timed
separately and not counted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hashviz.codes import pack_bits01  # noqa: E402
from hashviz.metrics import LOOKUP_RADIUS, MAP_K, PRECISION_KS, evaluate, reported_metrics  # noqa: E402

TOLERANCE = 1e-9


_POPCOUNT = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(1).astype(np.uint8)


def numpy_hamming(queries, database):
    """Hamming distances the plain numpy way: byte-wise XOR and a 256-entry popcount table."""
    out = np.zeros((len(queries), len(database)), dtype=np.uint8 if queries.shape[1] < 32 else np.uint16)
    for byte in range(queries.shape[1]):
        out += _POPCOUNT[np.bitwise_xor.outer(queries[:, byte], database[:, byte])]
    return out


def naive_evaluate(query_codes, database_codes, query_labels, database_labels, exclude=None,
                   chunk=64):
    """The plain numpy way: argsort of int64 distances per query, then cumsum."""
    n_q, n_db = len(query_codes), len(database_codes)
    bits = query_codes.shape[1] * 8
    exclude = np.full(n_q, -1) if exclude is None else np.asarray(exclude)
    ap_all = np.zeros(n_q)
    ap_k = np.zeros(n_q)
    tie = np.zeros(n_q)
    tie_lo, tie_hi = np.zeros(n_q), np.zeros(n_q)
    p_at = np.zeros((n_q, len(PRECISION_KS)))
    ball_n = np.zeros((n_q, bits + 1), dtype=np.int64)
    ball_r = np.zeros((n_q, bits + 1), dtype=np.int64)
    positions = np.arange(1, n_db + 1)
    for start in range(0, n_q, chunk):
        sl = slice(start, min(start + chunk, n_q))
        m = sl.stop - sl.start
        rows = np.arange(m)
        dist = numpy_hamming(query_codes[sl], database_codes).astype(np.int64)
        if query_labels.ndim == 1:
            rel = query_labels[sl, None] == database_labels[None, :]
        else:
            rel = (query_labels[sl].astype(np.float32) @ database_labels.T.astype(np.float32)) > 0.5
        ex = exclude[sl]
        has_ex = ex >= 0
        # an excluded row goes behind everything, irrelevant, and is left out of the counts
        dist[rows[has_ex], ex[has_ex]] = bits + 1
        rel[rows[has_ex], ex[has_ex]] = False
        n_eff = n_db - has_ex.astype(np.int64)

        order = np.argsort(dist, axis=1, kind="stable")
        rel_sorted = np.take_along_axis(rel, order, axis=1)
        dist_sorted = np.take_along_axis(dist, order, axis=1)
        hits = np.cumsum(rel_sorted, axis=1)
        precision = hits / positions
        n_rel = hits[:, -1]
        ap_all[sl] = np.where(n_rel > 0, (precision * rel_sorted).sum(1) / np.maximum(n_rel, 1), 0)
        k = min(MAP_K, n_db)
        hits_k = hits[:, k - 1]
        ap_k[sl] = np.where(hits_k > 0,
                            (precision[:, :k] * rel_sorted[:, :k]).sum(1) / np.maximum(hits_k, 1), 0)
        for j, kk in enumerate(PRECISION_KS):
            k_eff = np.minimum(kk, n_eff)
            got = hits[rows, np.maximum(k_eff, 1) - 1]
            p_at[sl, j] = np.where(k_eff > 0, got / np.maximum(k_eff, 1), 0)

        # per-distance counts (the extra bin bits + 1 holds the excluded rows)
        flat = (rows[:, None] * (bits + 2) + dist).ravel()
        counts = np.bincount(flat, minlength=m * (bits + 2)).reshape(m, bits + 2)[:, :bits + 1]
        rel_counts = np.bincount(flat, weights=rel.ravel(), minlength=m * (bits + 2))
        rel_counts = rel_counts.reshape(m, bits + 2)[:, :bits + 1].astype(np.int64)
        ball_n[sl] = np.cumsum(counts, axis=1)
        ball_r[sl] = np.cumsum(rel_counts, axis=1)

        # tie-aware AP: sum over every ranked position i of the expected precision there. In a
        # tie group (n items, r relevant, N items and R relevant before it) at in-group place
        # p = i - N that is r/n * (R + 1 + (p - 1)(r - 1)/(n - 1)) / i = C/i + B with the
        # per-group constants below (B = 0 for a single-item group).
        n_g = np.concatenate([counts, np.zeros((m, 1), dtype=np.int64)], axis=1).astype(np.float64)
        r_g = np.concatenate([rel_counts, np.zeros((m, 1), dtype=np.int64)], axis=1).astype(np.float64)
        before = np.cumsum(n_g, axis=1) - n_g
        rel_before = np.cumsum(r_g, axis=1) - r_g
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(n_g > 0, r_g / n_g, 0)
            b_g = np.where(n_g > 1, share * (r_g - 1) / (n_g - 1), 0)
        c_g = share * (rel_before + 1) - b_g * (before + 1)
        flat_sorted = rows[:, None] * (bits + 2) + dist_sorted
        term = c_g.ravel()[flat_sorted] / positions + b_g.ravel()[flat_sorted]
        tie[sl] = np.where(n_rel > 0, term.sum(1) / np.maximum(n_rel, 1), 0)

        # tie range: AP@all with the relevant items last / first inside every tie group
        for out, rel_key in ((tie_lo, rel), (tie_hi, ~rel)):
            ordered = np.take_along_axis(rel, np.lexsort((rel_key, dist), axis=1), axis=1)
            found = np.cumsum(ordered, axis=1)
            out[sl] = np.where(n_rel > 0, (found / positions * ordered).sum(1) / np.maximum(n_rel, 1), 0)

    total_rel = ball_r[:, -1].sum()
    sum_n, sum_r = ball_n.sum(0), ball_r.sum(0)
    r2 = min(LOOKUP_RADIUS, bits)
    quantities = {
        "map_all": ap_all.mean(), "map_k": ap_k.mean(), "map_tie_aware": tie.mean(),
        "map_tie_min": tie_lo.mean(), "map_tie_max": tie_hi.mean(),
        "p_ball": np.where(ball_n[:, r2] > 0, ball_r[:, r2] / np.maximum(ball_n[:, r2], 1), 0).mean(),
        "p_ball_empty": (ball_n[:, r2] == 0).mean()}
    return {
        **{m.key: float(quantities[m.quantity]) for m in reported_metrics()},
        "precision_at_k": {k: float(v) for k, v in zip(PRECISION_KS, p_at.mean(0))},
        "pr_curve": {
            "radius": list(range(bits + 1)),
            "precision": [float(v) for v in np.where(sum_n > 0, sum_r / np.maximum(sum_n, 1), 0)],
            "recall": [float(v) for v in (sum_r / total_rel if total_rel else np.zeros(bits + 1))],
        },
    }


def make_data(queries, database, bits, seed, classes=10, flip=0.15, multilabel=False):
    """Class-structured codes: a class centre with each bit flipped at a per-item rate drawn from
    U(0, 2 * flip), so there are both near-duplicates (full Hamming balls) and hard items."""
    rng = np.random.default_rng(seed)
    n = queries + database
    centres = rng.random((classes, bits)) < 0.5
    if multilabel:
        labels = (rng.random((n, classes)) < 1.5 / classes).astype(np.uint8)
        main = np.where(labels.any(1), labels.argmax(1), rng.integers(0, classes, n))
    else:
        labels = rng.integers(0, classes, n)
        main = labels
    rate = rng.random((n, 1)) * 2 * flip
    codes = pack_bits01((centres[main] ^ (rng.random((n, bits)) < rate)).astype(np.uint8))
    return codes[:queries], codes[queries:], labels[:queries], labels[queries:]


def _flatten(res):
    out = {k: v for k, v in res.items() if isinstance(v, float)}
    out.update({f"precision_at_{k}": v for k, v in res["precision_at_k"].items()})
    for key in ("precision", "recall"):
        out.update({f"pr_{key}[{r}]": v for r, v in enumerate(res["pr_curve"][key])})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--database", type=int, default=69000)
    ap.add_argument("--bits", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--multilabel", action="store_true", help="multi-hot labels instead of ints")
    ap.add_argument("--exclude", action="store_true",
                    help="each query leaves one database row out (as validation queries do)")
    ap.add_argument("--repeat", type=int, default=3, help="evaluate() runs; the best is reported")
    args = ap.parse_args(argv)

    qc, dc, ql, dl = make_data(args.queries, args.database, args.bits, args.seed, args.classes,
                               multilabel=args.multilabel)
    exclude = None
    if args.exclude:
        exclude = np.random.default_rng(args.seed + 1).integers(-1, args.database, args.queries)
    print(f"{args.queries} queries x {args.database} database codes, {args.bits} bits, "
          f"{'multi' if args.multilabel else 'single'}-label"
          f"{', with excluded rows' if args.exclude else ''}")

    t = time.perf_counter()
    evaluate(qc[:1], dc[:2], ql[:1], dl[:2])
    print(f"  evaluate() first call (compile or cache load, not counted): {time.perf_counter() - t:.2f} s")
    def run_fast():
        t0 = time.perf_counter()
        out = evaluate(qc, dc, ql, dl, exclude=exclude)
        fast_times.append(time.perf_counter() - t0)
        return out

    # evaluate() runs before and after the baseline, so a busy machine hurts both alike
    fast_times = []
    repeat = max(1, args.repeat)
    for _ in range(repeat - repeat // 2):
        fast = run_fast()
    t = time.perf_counter()
    slow = naive_evaluate(qc, dc, ql, dl, exclude=exclude)
    t_slow = time.perf_counter() - t
    for _ in range(repeat // 2):
        fast = run_fast()
    t_fast = min(fast_times)

    a, b = _flatten(fast), _flatten(slow)
    worst_key = max(a, key=lambda k: abs(a[k] - b[k]))
    worst = abs(a[worst_key] - b[worst_key])
    print(f"  hashviz.metrics.evaluate : {t_fast:8.3f} s  (best of {len(fast_times)})")
    print(f"  plain numpy (argsort)    : {t_slow:8.3f} s")
    print(f"  ratio                    : {t_slow / t_fast:8.1f}x faster")
    print("  " + "  ".join(f"{m.key} {fast[m.key]:.6f}" for m in reported_metrics())
          + f"  P@1000 {fast['precision_at_k'][1000]:.6f}")
    print(f"  largest difference: {worst:.2e} ({worst_key})")
    if worst > TOLERANCE:
        print(f"  MISMATCH: {worst_key} differs by {worst:.3e}")
        return 1
    print("  same numbers: yes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
