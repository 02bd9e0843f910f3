"""The metric lens's numbers for a model directory, in memory bounded in bytes whatever the number of
relevant (query, item) pairs.

A ranking (hashviz.metric_rules.Ranked) holds 4 bytes per relevant pair: a 50,000-item single-class
database with 1,000 queries has 50 million pairs. `lens_scores` keeps a whole ranking in its cache
only when the ranking fits half the cache, so that a toggle re-reads it; otherwise it ranks one block
of queries at a time (metric_rules.ranked_blocks), scores every rule asked for on the block and drops
it. Scores (8 bytes per query) are cached as well. Both ways give the same numbers bit for bit.
"""

from __future__ import annotations

from hashviz import metric_rules as mr
from hashviz.byte_cache import ByteCache

LENS_CACHE_BYTES = 128 << 20      # per process, shared by every session


def ranking_bytes(model) -> int:
    """What the whole ranking of a model directory would hold (int32 ranks, offsets, two count tables)."""
    pairs = int(mr.relevant_totals(model.query_labels, model.database_labels).sum())
    n_q = len(model.query_codes)
    return 4 * pairs + 8 * (n_q + 1) + 2 * 8 * n_q * (model.bits + 1)


def _blocks(model, rule: mr.MetricRule, cache: ByteCache):
    """The ranking ``rule`` reads, as blocks of queries: views of a cached whole ranking, or made one
    block at a time when the whole one would take more than half the cache."""
    key = ("ranking", model.content_key, rule.order_key())
    ranked = cache.get(key)
    if ranked is None and ranking_bytes(model) <= cache.budget // 2:
        ranked = mr.model_ranking(model, rule)
        cache.put(key, ranked, ranked.nbytes)
    if ranked is not None:
        return ranked.blocks()
    return mr.ranked_blocks(model.query_codes, model.database_codes, model.query_labels, model.database_labels,
                            rule)


def lens_scores(model, rules, cache: ByteCache) -> list[mr.RuleScore]:
    """Each rule's score for a model directory (in the order given); one pass over the queries per
    tie order that has a rule not yet cached."""
    mr.check_lens_model(model)
    rules = [rule.checked() for rule in rules]
    found = {rule: cache.get(("score", model.content_key, rule)) for rule in rules}
    missing = list(dict.fromkeys(rule for rule in rules if found[rule] is None))
    for order in dict.fromkeys(rule.order_key() for rule in missing):
        same_order = [rule for rule in missing if rule.order_key() == order]
        for rule, result in zip(same_order, mr.score_blocks(_blocks(model, same_order[0], cache), same_order)):
            cache.put(("score", model.content_key, rule), result, result.per_query.nbytes)
            found[rule] = result
    return [found[rule] for rule in rules]
