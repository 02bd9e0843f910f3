"""Hash-lookup explorer: what table lookup on a code prefix costs and finds, and which codes collide.

Table lookup (faiss IndexBinaryHash, multi-index hashing): the database is bucketed by the first b
bits of its codes; a query probes its own bucket and every bucket within `nflip` flipped prefix
bits, then ranks only those candidates by their full Hamming distance. More flips or a shorter key
scan more candidates and find more of the true neighbours; `lookup_grid` measures both for a grid
of (b, nflip) on a model's own codes.

Recall is tie-aware, the rule of hashviz.search.recall_at_k: a query's candidates re-ranked by
full distance find min(k, number of candidates within the exact k-th distance) of its k nearest
neighbours (any item tied at the k-th distance is an equally correct answer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hashviz.codes import bit_strip, check_packed, distinct_codes
from hashviz.diagnostics import primary_labels
from hashviz.errors import HashvizError
from hashviz.search import build_index

__all__ = ["LookupGrid", "Collision", "kth_item_distance", "prefix_keys", "flip_masks", "default_prefix_bits", "lookup_grid",
           "collisions", "collision_table"]

NFLIPS = (0, 1, 2, 3)
MAX_QUERIES = 250       # a seeded sample: recall's standard error stays below 0.03
DENSE_BITS = 20         # keys up to this long are counted in a dense table (8 MiB at most)


def prefix_keys(codes: np.ndarray, b: int) -> np.ndarray:
    """uint64 (n,): the first b bits of each packed code (bit 0 first, as the bit strip shows) as an
    integer, bit 0 its most significant bit. 1 <= b <= min(64, bits)."""
    check_packed(codes)
    n_bits = codes.shape[1] * 8
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not 1 <= b <= min(64, n_bits):
        raise HashvizError(f"the key length b must be 1..{min(64, n_bits)} bits, got {b!r}")
    head = np.zeros((codes.shape[0], 8), np.uint8)
    width = min(8, codes.shape[1])
    head[:, :width] = codes[:, :width]
    return head.view(">u8").ravel().astype(np.uint64) >> np.uint64(64 - b)


def flip_masks(b: int, nflip: int) -> tuple[np.ndarray, np.ndarray]:
    """(masks uint64, weight int): every b-bit key mask with at most `nflip` bits set, by weight
    (0 first): XOR-ing a key with them enumerates the buckets a lookup probes."""
    masks, weights = [np.zeros(1, np.uint64)], [0]
    frontier = np.zeros(1, np.uint64)
    for w in range(1, nflip + 1):
        grown = (frontier[:, None] | (np.uint64(1) << np.arange(b, dtype=np.uint64))[None, :]).ravel()
        frontier = np.unique(grown[np.bitwise_count(grown) == w])
        masks.append(frontier)
        weights.append(w)
    counts = [m.size for m in masks]
    return np.concatenate(masks), np.repeat(np.array(weights), counts)


def default_prefix_bits(bits: int) -> list[int]:
    """Key lengths the explorer tries: 4, 8, ... up to the code length, at most 20 (faiss'
    IndexBinaryHash takes about log2(n) - 1 bits: 15 for 69,000 codes)."""
    return [b for b in range(4, min(bits, 20) + 1, 4)]


@dataclass(frozen=True)
class LookupGrid:
    """recall[i, j] and candidates[i, j] for key length prefix_bits[i] and nflips[j]: mean tie-aware
    recall@k of the exact top k, and mean database items scanned, over `n_queries` queries."""

    prefix_bits: list[int]
    nflips: list[int]
    k: int
    n_queries: int
    n_query_set: int
    n_database: int
    recall: np.ndarray
    candidates: np.ndarray
    buckets_probed: np.ndarray

    def note(self) -> str:
        queries = (f"all {self.n_queries:,} queries" if self.n_queries == self.n_query_set else
                   f"{self.n_queries:,} of the {self.n_query_set:,} queries (a seeded sample)")
        return (f"Table lookup on the first b bits, probing every bucket within nflip flipped key bits, then "
                f"ranking the candidates by full Hamming distance. Recall@{self.k} = share of the exact top "
                f"{self.k} found (tie-aware: any item at the exact {self.k}-th distance counts), candidates = "
                f"database items scanned, both averaged over {queries} against {self.n_database:,} database "
                f"codes. An exhaustive scan reads all {self.n_database:,} for recall 1.")

    def rows(self) -> list[dict]:
        """One table row per (b, nflip)."""
        return [{"b": b, "nflip": f, f"recall@{self.k}": round(float(self.recall[i, j]), 4),
                 "candidates scanned": round(float(self.candidates[i, j]), 1),
                 "share of database": round(float(self.candidates[i, j] / self.n_database), 4),
                 "buckets probed": int(self.buckets_probed[i, j])}
                for i, b in enumerate(self.prefix_bits) for j, f in enumerate(self.nflips)]


def kth_item_distance(index, counts: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """int64 (nq,): each query's k-th nearest *item* distance, from an index over distinct codes that
    `counts` items hold each: the k nearest distinct codes always hold at least k items, so ties
    among thousands of identical items cost nothing."""
    dist, ids = index.knn(queries, min(k, index.ntotal))
    covered = np.cumsum(counts[ids], axis=1)
    return dist[np.arange(len(queries)), np.minimum((covered < k).sum(axis=1), dist.shape[1] - 1)].astype(np.int64)


def _exact_within(db: np.ndarray, db_count: np.ndarray, queries: np.ndarray, k: int):
    """(query number, distinct database code) of every code within each query's exact k-th item
    distance."""
    index = build_index(db)
    kth = kth_item_distance(index, db_count, queries, k)
    qs, codes = [], []
    for r in np.unique(kth):
        group = np.flatnonzero(kth == r)
        for q, (found, _) in zip(group, index.radius(queries[group], int(r))):
            qs.append(np.full(found.size, q, np.int64))
            codes.append(found)
    return np.concatenate(qs), np.concatenate(codes)


def _candidates(db_keys: np.ndarray, db_count: np.ndarray, q_keys: np.ndarray, b: int,
                nflips: list[int]) -> np.ndarray:
    """float64 (nq, len(nflips)): database items in the buckets within each nflip of each query key."""
    masks, weight = flip_masks(b, max(nflips))
    if b <= DENSE_BITS:                            # a table over every key: probing is indexing
        table = np.bincount(db_keys.astype(np.int64), weights=db_count, minlength=1 << b)
        found = table[(q_keys[:, None] ^ masks[None, :]).astype(np.int64)]
        return np.stack([found[:, weight <= f].sum(axis=1) for f in nflips], axis=1)
    keys, bucket = np.unique(db_keys, return_inverse=True)
    counts = np.bincount(bucket.ravel(), weights=db_count)
    probed = q_keys[:, None] ^ masks[None, :]
    at = np.minimum(np.searchsorted(keys, probed), keys.size - 1)
    found = np.where(keys[at] == probed, counts[at], 0)
    return np.stack([found[:, weight <= f].sum(axis=1) for f in nflips], axis=1)


def lookup_grid(database: np.ndarray, queries: np.ndarray, k: int = 100,
                prefix_bits: list[int] | None = None, nflips: list[int] | tuple = NFLIPS,
                max_queries: int | None = MAX_QUERIES, seed: int = 0) -> LookupGrid:
    """Recall@k and candidates scanned of prefix table lookup, for every (b, nflip), averaged over
    the queries (at most `max_queries`, drawn with `seed`; None: all). database, queries: packed
    uint8 (n, bits // 8). Identical codes are worked on once (a database code weighs its items, a
    query code its queries), so answers come fast even when a model puts thousands of items on one
    code."""
    check_packed(database, what="database codes")
    check_packed(queries, bits=database.shape[1] * 8, what="query codes")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise HashvizError(f"k must be a positive integer, got {k!r}")
    if len(queries) == 0 or len(database) == 0:
        raise HashvizError("the lookup explorer needs database codes and at least one query code")
    k = min(int(k), len(database))
    n_all = len(queries)
    if max_queries is not None and n_all > max_queries:
        queries = queries[np.sort(np.random.default_rng(seed).choice(n_all, max_queries, replace=False))]
    prefix_bits = default_prefix_bits(database.shape[1] * 8) if prefix_bits is None else list(prefix_bits)
    nflips = sorted({int(f) for f in nflips})
    db, _, _, db_count = distinct_codes(database)
    qs, _, _, q_weight = distinct_codes(queries)
    q_of, within = _exact_within(db, db_count, qs, k)
    recall = np.zeros((len(prefix_bits), len(nflips)))
    cands = np.zeros_like(recall)
    probed = np.zeros(recall.shape, np.int64)
    for i, b in enumerate(prefix_bits):
        db_keys, q_keys = prefix_keys(db, b), prefix_keys(qs, b)
        cands[i] = np.average(_candidates(db_keys, db_count, q_keys, b, nflips), axis=0, weights=q_weight)
        key_flips = np.bitwise_count(db_keys[within] ^ q_keys[q_of])
        for j, f in enumerate(nflips):
            ok = key_flips <= f
            found = np.bincount(q_of[ok], weights=db_count[within[ok]], minlength=len(qs))
            recall[i, j] = np.average(np.minimum(found, k), weights=q_weight) / k
            probed[i, j] = sum(math.comb(b, w) for w in range(min(f, b) + 1))
    return LookupGrid(prefix_bits, nflips, k, len(queries), n_all, len(database), recall, cands, probed)


# -------------------------------------------------------------------------------------- collisions

@dataclass(frozen=True)
class Collision:
    """One distinct code shared by items of several classes. class_rows: class -> database rows
    (lowest first, at most `per_class`); cross_pairs: pairs of items of different classes in it."""

    code: str
    size: int
    cross_pairs: int
    class_counts: dict[int, int]
    class_rows: dict[int, np.ndarray]


def collisions(codes: np.ndarray, labels: np.ndarray, top: int = 10, per_class: int = 4) -> list[Collision]:
    """Distinct codes that hold more than one class, worst first: most cross-class pairs, then the
    biggest, then the lowest first row. Multi-hot labels count by each item's first label."""
    check_packed(codes, what="database codes")
    labels = primary_labels(labels)
    if labels.shape[0] != codes.shape[0]:
        raise HashvizError(f"{codes.shape[0]} codes but {labels.shape[0]} labels")
    _, first, bucket, _ = distinct_codes(codes)
    order = np.lexsort((np.arange(len(labels)), labels, bucket))   # by bucket, class, row
    b_sorted, l_sorted = bucket[order], labels[order]
    starts = np.flatnonzero(np.r_[True, (np.diff(b_sorted) != 0) | (np.diff(l_sorted) != 0)])
    pair_bucket, pair_class = b_sorted[starts], l_sorted[starts]
    pair_count = np.diff(np.r_[starts, len(order)])
    sizes = np.bincount(bucket)
    n_classes = np.bincount(pair_bucket, minlength=sizes.size)
    same = np.bincount(pair_bucket, weights=pair_count * (pair_count - 1) / 2, minlength=sizes.size)
    cross = (sizes * (sizes - 1) / 2 - same).round().astype(np.int64)
    mixed = np.flatnonzero(n_classes > 1)
    worst = mixed[np.lexsort((first[mixed], -sizes[mixed], -cross[mixed]))][:max(int(top), 0)]
    out = []
    for b in worst:
        sel = np.flatnonzero(pair_bucket == b)
        by_count = sel[np.lexsort((pair_class[sel], -pair_count[sel]))]
        counts = {int(pair_class[s]): int(pair_count[s]) for s in by_count}
        rows = {int(pair_class[s]): order[starts[s]:starts[s] + min(per_class, pair_count[s])].astype(np.int64)
                for s in by_count}
        out.append(Collision(bit_strip(codes[first[b]]), int(sizes[b]), int(cross[b]), counts, rows))
    return out


def collision_table(found: list[Collision], class_names: list[str] | None = None) -> list[dict]:
    """One row per collision: code, items, cross-class pairs, classes with their counts."""
    def name(c: int) -> str:
        return class_names[c] if class_names and 0 <= c < len(class_names) else str(c)
    return [{"code": c.code, "items": c.size, "cross-class pairs": c.cross_pairs,
             "classes": ", ".join(f"{name(k)} ×{v}" for k, v in c.class_counts.items())} for c in found]
