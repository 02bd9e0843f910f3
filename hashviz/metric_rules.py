"""The metric lens: one set of codes scored under the evaluation rules papers and repositories use.

A rule (``MetricRule``) has four toggles; docs/metrics.md ("The metric lens") states them in full.

tie        how items at equal Hamming distance are ordered:
           ``index``  database index (hashviz's own rule);
           ``random`` the database shuffled with a seed, then by index (``np.random.default_rng(seed)``);
           ``expected`` the expectation over uniformly random orders (He et al., arXiv 1705.08562);
           ``worst`` / ``best`` the lowest / highest value any order inside the ties can give;
           ``numpy-distance`` numpy's default ``np.argsort`` of the float32 distances
           0.5 * (bits - q.b) of +-1 codes, exactly as DeepHash-pytorch's CalcTopMap calls it;
           ``numpy-similarity`` numpy's default ``np.argsort`` of -(q.b), as HashNet's test.py does.
empty      a query with no relevant item inside the cut-off: ``zero`` (scores 0, counts in the mean)
           or ``drop`` (left out of the mean). For ``expected``/``worst``/``best`` a query is dropped
           when no order can bring a relevant item inside the cut-off.
cutoff     None (@all) or k (the top k, capped to the database); ``slice_drops_last`` reproduces
           CalcTopMap's ``[0:topk]`` with topk = -1, which leaves out the last ranked item.
measure    ``ap``: AP@k = (1/R_k) sum_{i <= k, rel_i} P@i (R_k relevant items in the top k);
           ``11-point``: mean over recall levels t = 0, 0.1, .. 1 of the highest precision at a
           recall >= t within the cut-off, recall over all R relevant items of the query (PASCAL VOC
           2007); a level never reached scores 0. The levels are the floats np.arange(0., 1.1, 0.1)
           and recall is j / R in float64, compared as the VOC code compares them.

With a cut-off, ``worst``/``best`` AP are the true extremes: all tie groups inside the cut-off take
their relevant items last/first and the group the cut-off splits takes whichever number of its
relevant items inside the top k gives the lowest/highest AP. The 11-point extremes are the plain
relevant-last/first orders.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from hashviz.code_space import code_space
from hashviz.codes import unpack_bits01
from hashviz.errors import HashvizError
from hashviz.metrics import _NONE, _prepare, _single_pass, relevance
from hashviz.tie_cutoff import ap_from_counts

TIE_RULES = {"index": "database index", "random": "random order (seeded)", "expected": "expected (tie-aware)",
             "worst": "worst order", "best": "best order",
             "numpy-distance": "np.argsort of float distances", "numpy-similarity": "np.argsort of -similarity"}
EMPTY_RULES = {"zero": "score 0", "drop": "drop the query"}
MEASURES = {"ap": "AP", "11-point": "11-point interpolated precision"}
COUNT_TIES = ("expected", "worst", "best")          # computed from per-distance counts, no order
RECALL_LEVELS = np.arange(0.0, 1.1, 0.1)   # 0, 0.1, .. 1 as the VOC code computes them (0.30000000000000004)
BLOCK_PAIRS = 1 << 19        # relevant (query, item) pairs scored at once: bounds the memory scoring needs


@dataclass(frozen=True)
class MetricRule:
    tie: str = "index"
    empty: str = "zero"
    cutoff: int | None = None
    measure: str = "ap"
    seed: int = 0
    slice_drops_last: bool = False

    def checked(self) -> "MetricRule":
        for value, known, what in ((self.tie, TIE_RULES, "tie rule"), (self.empty, EMPTY_RULES, "empty-query rule"),
                                   (self.measure, MEASURES, "measure")):
            if value not in known:
                raise HashvizError(f"unknown {what} {value!r}: choose one of {', '.join(known)}")
        if self.cutoff is not None and (isinstance(self.cutoff, bool) or not isinstance(self.cutoff, (int, np.integer))
                                        or self.cutoff < 1):
            raise HashvizError(f"the cut-off must be a positive number of items or @all, got {self.cutoff!r}")
        if self.tie == "expected" and self.measure != "ap":
            raise HashvizError("the expected value over tie orders is computed for AP only; for 11-point "
                               "precision choose worst and best to see the range")
        return self

    def order_key(self) -> str:
        """Which ranking the rule reads: rules with the same key share one (cached) ranking."""
        if self.tie == "random":
            return f"random-{self.seed}"
        return "index" if self.tie in COUNT_TIES else self.tie

    def text(self) -> str:
        """The rule in words, to print beside its number."""
        tie = {"index": "ties broken by database index",
               "random": f"ties in a random order (database shuffled with seed {self.seed})",
               "expected": "the expected value over random orders inside the ties",
               "worst": "the lowest value over all orders inside the ties",
               "best": "the highest value over all orders inside the ties",
               "numpy-distance": "ties as numpy's default argsort of float32 distances 0.5·(bits − q·b) leaves them",
               "numpy-similarity": "ties as numpy's default argsort of −(q·b) leaves them"}[self.tie]
        if self.cutoff is None:
            cut = "the whole ranking but its last item ([0:-1])" if self.slice_drops_last else "the whole ranking"
        else:
            cut = f"the top {self.cutoff}"
        measure = ("AP (precision at each relevant item, averaged over the relevant items found)"
                   if self.measure == "ap" else "11-point interpolated precision (recall over all relevant items)")
        empty = ("a query with no relevant item there scores 0 and counts in the mean" if self.empty == "zero"
                 else "a query with no relevant item there is left out of the mean")
        return f"{measure} over {cut}, {tie}; {empty}."


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    rule: MetricRule
    citation: str


PRESETS = {p.key: p for p in (
    Preset("hashviz", "hashviz mAP@all", MetricRule(),
           "hashviz.metrics (docs/metrics.md): Hamming distance, ties by database index, whole ranking, "
           "a query without a relevant item scores 0."),
    Preset("deephash-pytorch", "DeepHash-pytorch CalcTopMap", MetricRule(tie="numpy-distance", slice_drops_last=True),
           "swuxyj/DeepHash-pytorch, utils/tools.py, CalcTopMap(rB, qB, retrievalL, queryL, topk): +-1 float "
           "codes, distance 0.5·(bits − q·b), ind = np.argsort(hamm) (numpy's default, unstable), "
           "gnd[ind][0:topk] (topK = -1 for CIFAR-10 leaves out the last item), a query with tsum == 0 adds "
           "0 but num_query still divides."),
    Preset("hashnet", "HashNet mean_average_precision (drops queries)",
           MetricRule(tie="numpy-similarity", empty="drop"),
           "thuml/HashNet, pytorch/src/test.py, mean_average_precision(params, R): ids = np.argsort(-sim, "
           "axis=0), AP over the top R (R = 5000 on NUS-WIDE/COCO, 1000 on ImageNet; here the whole "
           "database unless a cut-off is set), a query with no relevant item in the top R is not "
           "appended, so np.mean leaves it out."),
    Preset("11-point", "11-point interpolated precision", MetricRule(measure="11-point"),
           "PASCAL VOC 2007 (Everingham et al., IJCV 2010, §4.2; the devkit's VOCevaldet and "
           "py-faster-rcnn's voc_eval.py with use_07_metric): mean over t in np.arange(0., 1.1, 0.1) of "
           "the highest precision at a recall >= t; reported as \"mAP\" by some hashing papers. Ties by "
           "database index, recall over every relevant database item."),
)}


def preset(name: str) -> Preset:
    if name not in PRESETS:
        raise HashvizError(f"unknown rule {name!r}: choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


CUTOFFS = {"@all": None, "@1000": 1000, "@5000": 5000, "top k": 0}    # 0: the k the user types


def matching_preset(rule: MetricRule) -> str | None:
    """The preset whose rule is exactly ``rule`` (None: a custom rule)."""
    return next((p.key for p in PRESETS.values() if p.rule == rule), None)


def with_ties(rule: MetricRule, tie: str) -> MetricRule:
    """The same rule with another tie order (the lens shows worst and best beside every rule)."""
    return replace(rule, tie=tie)


# --------------------------------------------------------------------------------------------
# Rankings: where every query's relevant items land

@dataclass(frozen=True, eq=False)
class Ranked:
    """Where every query's relevant items land in one ranking of the database.

    Query q's j-th relevant item is at 1-based rank positions[offsets[q] + j - 1] (int32, ascending
    within a query; offsets int64 (n_q + 1,)). counts / relevant_counts: int64 (n_q, bits + 1), items
    and relevant items at each Hamming distance (None for the numpy-argsort rankings, which need none).
    A ranking is scored one block of queries at a time (`blocks`), so what scoring derives (about
    150 bytes per relevant pair) never exists for more than BLOCK_PAIRS pairs at once.
    """

    n_database: int
    offsets: np.ndarray
    positions: np.ndarray
    counts: np.ndarray | None = None
    relevant_counts: np.ndarray | None = None

    @property
    def n_queries(self) -> int:
        return len(self.offsets) - 1

    def block(self, start: int, stop: int) -> "Ranked":
        """Queries start..stop-1 alone (views, no copy)."""
        lo, hi = self.offsets[start], self.offsets[stop]
        rows = slice(start, stop)
        return Ranked(self.n_database, self.offsets[start:stop + 1] - lo, self.positions[lo:hi],
                      None if self.counts is None else self.counts[rows],
                      None if self.relevant_counts is None else self.relevant_counts[rows])

    def blocks(self, max_pairs: int | None = None):
        for start, stop in query_blocks(np.diff(self.offsets), max_pairs or BLOCK_PAIRS):
            yield self.block(start, stop)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.offsets, self.positions, self.counts, self.relevant_counts)
                   if a is not None)

    # Derived per block being scored, then dropped with the block.
    @functools.cached_property
    def _query_of(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_queries), np.diff(self.offsets))

    @functools.cached_property
    def precision(self) -> np.ndarray:
        """float64: precision at each relevant item (j / its rank), plus a trailing 0 (a sentinel)."""
        out = np.zeros(len(self.positions) + 1)
        j = np.arange(1, len(self.positions) + 1) - np.repeat(self.offsets[:-1], np.diff(self.offsets))
        np.divide(j, self.positions, out=out[:-1])
        return out

    @functools.cached_property
    def _keys(self) -> np.ndarray:      # ascending over the whole array: (query, rank)
        return self._query_of * np.int64(self.n_database + 1) + self.positions

    def inside(self, k: int) -> np.ndarray:
        """int64 (n_q,): relevant items of each query within the top k."""
        ends = np.searchsorted(self._keys, np.arange(self.n_queries) * np.int64(self.n_database + 1) + k,
                               side="right")
        return ends - self.offsets[:-1]

    def precision_sums(self, inside: np.ndarray, carry: float = 0.0) -> tuple[np.ndarray, float]:
        """(float64 (n_q,): the sum of the precisions of each query's first `inside` relevant items,
        the running total to carry into the next block). The sums are differences of one running
        total over all blocks in query order (np.cumsum adds one by one), so the numbers do not
        depend on how the queries are split into blocks."""
        running = np.cumsum(np.concatenate([[carry], self.precision[:-1]]))
        start = self.offsets[:-1]
        return running[start + inside] - running[start], float(running[-1])

    @functools.cached_property
    def relevant_last(self) -> "Ranked":
        """The ranking with every tie group's relevant items last (from the counts)."""
        return replace(self, positions=_positions_from_counts(self, relevant_last=True))

    @functools.cached_property
    def relevant_first(self) -> "Ranked":
        return replace(self, positions=_positions_from_counts(self, relevant_last=False))


def query_blocks(totals: np.ndarray, max_pairs: int) -> list[tuple[int, int]]:
    """(start, stop) runs of consecutive queries holding about `max_pairs` relevant pairs each (a
    block starts once the pairs before it pass a multiple of max_pairs; at least one query)."""
    before = np.cumsum(totals) - totals
    starts = np.flatnonzero(np.diff(before // max(int(max_pairs), 1))) + 1
    bounds = [0, *starts.tolist(), len(totals)]
    return list(zip(bounds[:-1], bounds[1:])) if len(totals) else [(0, 0)]


def relevant_totals(query_labels: np.ndarray, database_labels: np.ndarray, chunk: int = 256) -> np.ndarray:
    """int64 (n_q,): relevant database items of every query."""
    if query_labels.ndim == 1:
        values, counts = np.unique(database_labels, return_counts=True)
        at = np.clip(np.searchsorted(values, query_labels), 0, len(values) - 1)
        return np.where(values[at] == query_labels, counts[at], 0).astype(np.int64)
    return np.concatenate([relevance(query_labels[s:s + chunk], database_labels).sum(axis=1)
                           for s in range(0, len(query_labels), chunk)]).astype(np.int64)


def _empty_ranked(query_codes, database_codes, query_labels, database_labels) -> Ranked:
    _prepare(query_codes, database_codes, query_labels, database_labels, None)
    offsets = np.zeros(len(query_labels) + 1, dtype=np.int64)
    np.cumsum(relevant_totals(query_labels, database_labels), out=offsets[1:])
    return Ranked(database_codes.shape[0], offsets, np.zeros(int(offsets[-1]), dtype=np.int32))


def relevant_positions(query_codes, database_codes, query_labels, database_labels,
                       order: np.ndarray | None = None) -> Ranked:
    """Rank by Hamming distance, ties by ``order`` (a permutation of the database rows: the row
    visited first wins a tie; None = database index), in one compiled pass (hashviz.metrics)."""
    ranked = _empty_ranked(query_codes, database_codes, query_labels, database_labels)
    order = _NONE if order is None else np.asarray(order, dtype=np.int64)
    no_exclude = np.full(ranked.n_queries, -1, dtype=np.int64)
    counts, rel_counts, *_ = _single_pass(query_codes, database_codes, query_labels, database_labels, no_exclude,
                                          ranked.n_database, _NONE, order, ranked.offsets, ranked.positions)
    if not np.array_equal(rel_counts.sum(axis=1), np.diff(ranked.offsets)):
        raise HashvizError("internal error: the relevant items counted twice disagree")
    return replace(ranked, counts=counts, relevant_counts=rel_counts)


def numpy_argsort_positions(query_codes, database_codes, query_labels, database_labels, key: str,
                            chunk: int = 64, progress=None) -> Ranked:
    """Rank the way DeepHash-pytorch (key "distance") or HashNet (key "similarity") do: +-1 float32
    codes, np.argsort (numpy's default kind) of 0.5 * (bits - q.b) or of -(q.b), row by row (a row
    of a 2-D argsort is sorted by the same routine as a 1-D argsort of that row)."""
    ranked = _empty_ranked(query_codes, database_codes, query_labels, database_labels)
    bits = query_codes.shape[1] * 8
    q_signs, db_signs = (unpack_bits01(c).astype(np.float32) * 2 - 1 for c in (query_codes, database_codes))
    n_q, offsets = ranked.n_queries, ranked.offsets
    for start in range(0, n_q, chunk):
        stop = min(start + chunk, n_q)
        inner = q_signs[start:stop] @ db_signs.T                     # float32, exact small integers
        values = 0.5 * (bits - inner) if key == "distance" else -inner
        ranked_rel = np.take_along_axis(relevance(query_labels[start:stop], database_labels),
                                        np.argsort(values, axis=1), axis=1)
        for i, row in enumerate(ranked_rel):
            ranked.positions[offsets[start + i]:offsets[start + i + 1]] = np.flatnonzero(row) + 1
        if progress is not None:
            progress(stop, n_q)
    return ranked


def _ranker(database_codes, database_labels, rule: MetricRule):
    """(query codes, query labels, progress) -> the Ranked that ``rule`` reads for those queries."""
    rule = rule.checked()
    if rule.tie.startswith("numpy-"):
        key = rule.tie.removeprefix("numpy-")
        return lambda qc, ql, progress=None: numpy_argsort_positions(qc, database_codes, ql, database_labels,
                                                                     key, progress=progress)
    order = (np.random.default_rng(rule.seed).permutation(database_codes.shape[0]) if rule.tie == "random"
             else None)
    return lambda qc, ql, progress=None: relevant_positions(qc, database_codes, ql, database_labels, order)


def rank_for_rule(query_codes, database_codes, query_labels, database_labels, rule: MetricRule,
                  progress=None) -> Ranked:
    """The ranking ``rule`` reads (the same for every rule with the same ``rule.order_key()``)."""
    return _ranker(database_codes, database_labels, rule)(query_codes, query_labels, progress)


def ranked_blocks(query_codes, database_codes, query_labels, database_labels, rule: MetricRule,
                  max_pairs: int | None = None):
    """The same ranking as ``rank_for_rule``, made and handed out one block of queries at a time
    (about `max_pairs` relevant pairs each), so that no more than a block's ranks are ever held."""
    _prepare(query_codes, database_codes, query_labels, database_labels, None)
    rank = _ranker(database_codes, database_labels, rule)
    for start, stop in query_blocks(relevant_totals(query_labels, database_labels), max_pairs or BLOCK_PAIRS):
        yield rank(query_codes[start:stop], query_labels[start:stop])


# --------------------------------------------------------------------------------------------
# Scoring a ranking under a rule

@dataclass(frozen=True, eq=False)
class RuleScore:
    """A rule's number: ``value`` = the mean of ``per_query`` (float64 (n_q,), NaN where dropped)
    over the ``counted`` queries that are not dropped."""

    rule: MetricRule
    value: float
    per_query: np.ndarray
    queries: int
    counted: int

    def summary(self) -> str:
        kept = "all" if self.counted == self.queries else f"{self.counted} of"
        return f"{self.value:.4f} over {kept} {self.queries} queries"


def cutoff_of(rule: MetricRule, n_database: int) -> int:
    """The number of ranked items the rule reads."""
    if rule.cutoff is None:
        return n_database - 1 if rule.slice_drops_last else n_database
    return min(int(rule.cutoff), n_database)


def score(ranked: Ranked, rule: MetricRule) -> RuleScore:
    """Score one ranking (from ``rank_for_rule`` with the same order key) under ``rule``."""
    return score_blocks(ranked.blocks(), [rule])[0]


def score_blocks(blocks, rules) -> list[RuleScore]:
    """Score every rule on one ranking handed out as consecutive blocks of queries (``Ranked.blocks``
    or ``ranked_blocks``; all rules must read that ranking's order). The numbers are the same
    however the queries are split."""
    rules = [rule.checked() for rule in rules]
    parts: list[list] = [[] for _ in rules]
    carry = [0.0] * len(rules)
    for block in blocks:
        for i, rule in enumerate(rules):
            per_query, reachable, carry[i] = _block_scores(block, rule, carry[i])
            parts[i].append((per_query, reachable))
    return [_mean_over_queries(rule, *(np.concatenate(p) for p in zip(*part))) for rule, part in zip(rules, parts)]


def _block_scores(ranked: Ranked, rule: MetricRule, carry: float):
    """(per-query value, has a relevant item within reach, running total for the next block)."""
    k = cutoff_of(rule, ranked.n_database)
    if rule.tie in COUNT_TIES and ranked.counts is None:
        raise HashvizError(f"the {rule.tie} tie rule needs a ranking with per-distance counts")
    if rule.tie in ("worst", "best") and rule.measure == "11-point":
        return _explicit(ranked.relevant_last if rule.tie == "worst" else ranked.relevant_first, k, rule.measure,
                         carry=carry)
    if rule.tie in COUNT_TIES:
        return (*ap_from_counts(ranked.counts, ranked.relevant_counts, rule.tie, k), carry)
    return _explicit(ranked, k, rule.measure, calctopmap_arithmetic=rule.tie == "numpy-distance", carry=carry)


def _mean_over_queries(rule: MetricRule, per_query: np.ndarray, reachable: np.ndarray) -> RuleScore:
    kept = reachable if rule.empty == "drop" else np.ones(len(per_query), dtype=bool)
    total = 0.0
    for value in per_query[kept]:       # in query order, one by one, as CalcTopMap adds them
        total = total + value
    counted = int(kept.sum())
    return RuleScore(rule, float(total / counted) if counted else 0.0, np.where(kept, per_query, np.nan),
                     len(per_query), counted)


def _explicit(ranked: Ranked, k: int, measure: str, calctopmap_arithmetic: bool = False, carry: float = 0.0):
    """Per query (value, has a relevant item in the top k, carry) from the ranks of its relevant items
    (calctopmap_arithmetic: AP summed exactly as CalcTopMap sums it, bit for bit; slower; carry: see
    Ranked.precision_sums)."""
    inside = ranked.inside(k)
    found = inside > 0
    if measure == "11-point":
        return _eleven_point(ranked, inside), found, carry
    if not calctopmap_arithmetic:
        sums, carry = ranked.precision_sums(inside, carry)
        return np.where(found, sums / np.maximum(inside, 1), 0.0), found, carry
    out = np.zeros(ranked.n_queries)
    for q in np.flatnonzero(found):     # CalcTopMap's own arithmetic: mean of linspace(1, t, t) / ranks
        t, start = inside[q], ranked.offsets[q]
        out[q] = np.mean(np.linspace(1, t, t) / ranked.positions[None, start:start + t].astype(np.float64))
    return out, found, carry


def _eleven_point(ranked: Ranked, inside: np.ndarray) -> np.ndarray:
    """Mean over the recall levels of the highest precision at recall >= level inside the cut-off;
    the j-th relevant item has recall j / R (float, as the VOC code computes it)."""
    offsets = ranked.offsets
    total = np.diff(offsets)[:, None].astype(np.float64)          # R per query
    level = RECALL_LEVELS[None, :]
    first = np.ceil(level * total).astype(np.int64)             # smallest j with j / R >= level, in floats
    first = np.where((first - 1) / np.maximum(total, 1) >= level, first - 1, first)
    first = np.maximum(np.where(first / np.maximum(total, 1) < level, first + 1, first), 1)
    start = offsets[:-1, None] + first - 1
    reached = first <= inside[:, None]
    if not reached.any():
        return np.zeros(ranked.n_queries)
    stop = offsets[:-1, None] + inside[:, None]                 # max over [start, stop) per (query, level)
    here = np.minimum(offsets[:-1, None], len(ranked.positions) - 1) + np.zeros_like(first)
    bounds = np.stack([np.where(reached, start, here), np.where(reached, stop, here + 1)], axis=-1).ravel()
    best = np.maximum.reduceat(ranked.precision, bounds)[::2].reshape(first.shape)
    return np.where(reached, best, 0.0).mean(axis=1)


def _positions_from_counts(ranked: Ranked, relevant_last: bool) -> np.ndarray:
    """int64 ranks of the relevant items when they come last (first) in every tie group."""
    n, r = ranked.counts, ranked.relevant_counts
    before = np.cumsum(n, axis=1) - n
    start = (before + n - r if relevant_last else before).ravel()
    per_group = r.ravel()
    first_of_group = np.repeat(np.cumsum(per_group) - per_group, per_group)
    return np.repeat(start, per_group) + np.arange(per_group.sum()) - first_of_group + 1


# --------------------------------------------------------------------------------------------
# Model directories

def check_lens_model(model) -> None:
    """The metric lens reads Hamming tie groups: refused for a code space without them (pq)."""
    if not code_space(model).tie_aware:
        raise HashvizError(f"{model.name} stores {model.code_type} codes: the metric lens needs binary codes "
                           "(product-quantised codes have no Hamming ties)")


def model_ranking(model, rule: MetricRule, progress=None) -> Ranked:
    """The ranking of a model directory's queries against its database that ``rule`` reads."""
    check_lens_model(model)
    return rank_for_rule(model.query_codes, model.database_codes, model.query_labels, model.database_labels,
                         rule, progress=progress)


def score_model(model, rule: MetricRule) -> RuleScore:
    """``rule``'s number for a model directory, ranked and scored one block of queries at a time."""
    check_lens_model(model)
    return score_blocks(ranked_blocks(model.query_codes, model.database_codes, model.query_labels,
                                      model.database_labels, rule), [rule])[0]
