"""Benchmark: the metric lens and the tie range on a Fashion-MNIST zoo model (1,000 queries x 69,000).

    python bench/metric_lens.py [--model models/dpsh-32] [--repeat 3]

Prints, side by side:
- the tie range (lowest / highest AP@all per query) from the compiled pass + closed form, against a
  plain numpy version (per query block: lexsort by (distance, relevance), cumsum), with the ratio;
  both must agree to 1e-9;
- every ranking the lens reads (index order, a seeded shuffle, numpy's argsort as CalcTopMap and as
  HashNet call it): its one-off cost, which the app caches per model;
- every lens answer (preset or toggle) once its ranking is cached: the time a click waits for the
  headline (worst and best under the same rule included, as the tab shows them). Goal: < 0.5 s.
Timings are wall-clock on this machine's CPU, best of --repeat.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hashviz import metric_rules as mr  # noqa: E402
from hashviz.hamming import hamming_distances  # noqa: E402
from hashviz.metrics import relevance, tie_range_per_query  # noqa: E402
from hashviz.ties import tie_range_ap_from_counts  # noqa: E402
from hashviz.zoo import load_model_dir  # noqa: E402
from bench._timing import best_of  # noqa: E402

GOAL_S = 0.5
LENSES = {
    **{f"preset {key}": p.rule for key, p in mr.PRESETS.items()},
    "expected @all": mr.MetricRule(tie="expected"),
    "worst @all": mr.MetricRule(tie="worst"),
    "best @1000": mr.MetricRule(tie="best", cutoff=1000),
    "expected @5000": mr.MetricRule(tie="expected", cutoff=5000),
    "index @1000 drop": mr.MetricRule(cutoff=1000, empty="drop"),
    "random seed 1 @all": mr.MetricRule(tie="random", seed=1),
    "11-point worst @all": mr.MetricRule(tie="worst", measure="11-point"),
    "11-point best @5000": mr.MetricRule(tie="best", measure="11-point", cutoff=5000),
}


def numpy_tie_range(query_codes, database_codes, query_labels, database_labels, chunk=32):
    """The plain way: per block of queries, sort by (distance, relevance) both ways, cumsum."""
    lo, hi = [], []
    positions = np.arange(1, len(database_codes) + 1)
    for s in range(0, len(query_codes), chunk):
        dist = hamming_distances(query_codes[s:s + chunk], database_codes)
        rel = relevance(query_labels[s:s + chunk], database_labels)
        n_rel = rel.sum(1)
        for out, key in ((lo, rel), (hi, ~rel)):
            ordered = np.take_along_axis(rel, np.lexsort((key, dist), axis=1), axis=1)
            found = np.cumsum(ordered, axis=1)
            out.append(np.where(n_rel > 0, (found / positions * ordered).sum(1) / np.maximum(n_rel, 1), 0))
    return np.concatenate(lo), np.concatenate(hi)


def lens_answer(rankings, rule):
    """What the tab computes for one click: the rule's number and its worst / best under the rule."""
    value = mr.score(rankings[rule.order_key()], rule).value
    low, high = (mr.score(rankings["index"], mr.with_ties(rule, t)).value for t in ("worst", "best"))
    return value, low, high


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/dpsh-32")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    model = load_model_dir(Path(args.model))
    data = (model.query_codes, model.database_codes, model.query_labels, model.database_labels)
    print(f"{model.name}: {len(model.query_codes)} queries x {len(model.database_codes)} database items, "
          f"{model.bits} bits; CPU: {platform.processor() or platform.machine()}")

    tie_range_per_query(model.query_codes[:1], *data[1:2], model.query_labels[:1], data[3])   # load the kernel
    fast_s, (lo, hi) = best_of(args.repeat, lambda: tie_range_per_query(*data))
    plain_s, (lo_ref, hi_ref) = best_of(1, lambda: numpy_tie_range(*data))
    worst_gap = max(np.abs(lo - lo_ref).max(), np.abs(hi - hi_ref).max())
    print(f"\ntie range per query   compiled {fast_s:.3f} s   plain numpy {plain_s:.3f} s   "
          f"ratio {plain_s / fast_s:.1f}x   max difference {worst_gap:.1e}   "
          f"mAP tie range {lo.mean():.4f} .. {hi.mean():.4f}")
    counts = mr.relevant_positions(*data)
    closed_s, _ = best_of(args.repeat, lambda: tie_range_ap_from_counts(counts.counts, counts.relevant_counts))
    print(f"  inside evaluate() the range costs only its closed form from the per-distance counts the pass "
          f"already makes: {closed_s * 1000:.2f} ms ({plain_s / closed_s:,.0f}x less than the plain numpy way)")
    if worst_gap > 1e-9:
        print("MISMATCH between the compiled and the plain tie range")
        return 1

    print("\nrankings (once per model and tie order, cached by the app)")
    rankings = {}
    for name, rule in (("index", mr.MetricRule()), ("random-1", mr.MetricRule(tie="random", seed=1)),
                       ("numpy-distance", mr.PRESETS["deephash-pytorch"].rule),
                       ("numpy-similarity", mr.PRESETS["hashnet"].rule)):
        seconds, rankings[name] = best_of(1, lambda: mr.model_ranking(model, rule))
        print(f"  {name:<18} {seconds:7.3f} s")

    print(f"\nlens answers with the ranking cached (goal < {GOAL_S} s)")
    slow = 0
    for label, rule in LENSES.items():
        seconds, (value, low, high) = best_of(args.repeat, lambda: lens_answer(rankings, rule))
        slow += seconds >= GOAL_S
        print(f"  {label:<24} {seconds:6.3f} s   mAP {value:.4f}   tie range {low:.4f} .. {high:.4f}"
              f"   {'ok' if seconds < GOAL_S else 'SLOW'}")
    print(f"\n{len(LENSES) - slow} of {len(LENSES)} lens answers under {GOAL_S} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
