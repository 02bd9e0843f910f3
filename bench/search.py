"""Speed of hashviz.search side by side, printed as ratios.

    python bench/search.py                          # N = 100k and 1M, 1,000 queries, k = 10 and 100
    python bench/search.py --sizes 100000 --quick   # fewer repeats
    python bench/search.py --quick                  # N = 20k, 200 queries: a smoke run (seconds)

Data: 64-bit codes, "random" (uniform bits) and "clustered" (1,000 random centres, each bit of a code
flipped with probability 0.03, so codes of one centre are ~3.7 bits apart; many ties). The queries are
fresh codes from the same distribution. Every timing is the best of --repeats runs on one faiss thread
(the hashviz default). Ratios:

* wrapper overhead  = HammingIndex("flat").knn / raw faiss IndexBinaryFlat.search (goal <= 1.1)
* faiss vs numpy    = raw faiss / plain numpy XOR + popcount + argpartition
* hash radius       = HammingIndex("hash").radius(r) / HammingIndex("flat").radius(r), r <= 2 (goal <= 0.25
                      on clustered codes)
* ivf               = recall@10 (tie-aware and by id) and speed-up over flat
* memory            = bytes per code of each kind
* milvus            = Milvus Lite (BIN_FLAT, HAMMING) vs faiss flat: queries per second and agreement
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import faiss
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hashviz.search import HammingIndex, recall_at_k, set_search_threads  # noqa: E402
from hashviz.search.base import _as_queries, _sort_rows  # noqa: E402

BITS = 64


def random_codes(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, BITS // 8), dtype=np.uint8)


def clustered_codes(n: int, seed: int, centres: int = 1000, p: float = 0.03) -> np.ndarray:
    centre_bits = np.random.default_rng(1234).integers(0, 2, (centres, BITS), dtype=np.uint8)
    rng = np.random.default_rng(seed)
    out = np.empty((n, BITS // 8), dtype=np.uint8)
    step = 200_000
    for s in range(0, n, step):
        m = min(step, n - s)
        bits = centre_bits[rng.integers(0, centres, m)] ^ (rng.random((m, BITS)) < p)
        out[s:s + m] = np.packbits(bits, axis=1)
    return out


def numpy_knn(queries: np.ndarray, database: np.ndarray, k: int):
    """Plain numpy: XOR + popcount over uint64 words, argpartition, sort the k (not tie-exact)."""
    q64, d64 = queries.view(np.uint64), database.view(np.uint64)
    block = max(1, 2 ** 24 // database.shape[0])
    dist_out = np.empty((queries.shape[0], k), np.int32)
    ids_out = np.empty((queries.shape[0], k), np.int64)
    for s in range(0, queries.shape[0], block):
        dist = np.zeros((min(block, queries.shape[0] - s), database.shape[0]), np.uint8)
        for w in range(q64.shape[1]):
            dist += np.bitwise_count(q64[s:s + block, w, None] ^ d64[None, :, w])
        part = np.argpartition(dist, k - 1, axis=1)[:, :k]
        pd = np.take_along_axis(dist, part, 1)
        order = np.argsort(pd, axis=1, kind="stable")
        dist_out[s:s + block] = np.take_along_axis(pd, order, 1)
        ids_out[s:s + block] = np.take_along_axis(part, order, 1)
    return dist_out, ids_out


def best_of(fn, repeats: int):
    best, result = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def interleaved(fns: dict, repeats: int) -> dict:
    """Best time of each function, running them in turn so that load changes hit all alike."""
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def id_recall(exact_ids: np.ndarray, approx_ids: np.ndarray) -> float:
    hits = sum(len(np.intersect1d(a, b)) for a, b in zip(exact_ids, approx_ids))
    return hits / exact_ids.size


def bench_size(n: int, args, out: list) -> None:
    for data in ("random", "clustered"):
        make = random_codes if data == "random" else clustered_codes
        t = time.perf_counter()
        db = make(n, args.seed)
        queries = make(args.queries, args.seed + 1)
        gen_s = time.perf_counter() - t
        print(f"\n== N = {n:,} {data} 64-bit codes, {args.queries:,} queries (generated in {gen_s:.1f} s)")

        build = {}
        for kind in ("flat", "hash", "ivf"):
            build[kind], idx = best_of(lambda kind=kind: HammingIndex(db, kind), 1)
            if kind == "flat":
                flat = idx
            elif kind == "hash":
                hashed = idx
            else:
                ivf = idx
        raw = faiss.IndexBinaryFlat(BITS)
        raw.add(db)
        print("build s: " + ", ".join(f"{k} {v:.3f}" for k, v in build.items())
              + f" (ivf nlist {ivf.nlist}, nprobe {ivf.nprobe}; hash key {hashed._index.b} bits)")
        print("bytes per code: " + ", ".join(f"{i.kind} {i.bytes_per_code:.1f}" for i in (flat, hashed, ivf)))
        out.append(dict(n=n, data=data, what="bytes/code", flat=flat.bytes_per_code,
                        hash=hashed.bytes_per_code, ivf=ivf.bytes_per_code))

        for k in args.k:
            times = interleaved({
                "raw": lambda: raw.search(queries, k),
                "flat": lambda: flat.knn(queries, k),
            }, args.repeats)
            raw_d, raw_i = raw.search(queries, k)
            own_s, _ = best_of(lambda: (_as_queries(queries, BITS), _sort_rows(raw_d, raw_i)), 5)
            np_s, _ = best_of(lambda: numpy_knn(queries, db, k), 1)
            ivf_s, (ivf_d, ivf_i) = best_of(lambda: ivf.knn(queries, k), args.repeats)
            hash_s, _ = best_of(lambda: hashed.knn(queries, k), 1)
            exact_d, exact_i = flat.knn(queries, k)
            rec = recall_at_k(exact_d, ivf_d)
            rec_id = id_recall(exact_i, ivf_i)
            print(f"k={k:<4} raw faiss {times['raw']:.3f} s | HammingIndex flat {times['flat']:.3f} s "
                  f"-> wrapper overhead {times['flat'] / times['raw']:.3f}x (its own work {own_s * 1e3:.2f} ms)"
                  f" | numpy {np_s:.3f} s "
                  f"-> raw faiss / numpy {times['raw'] / np_s:.3f} | hash knn {hash_s:.3f} s "
                  f"({hash_s / times['flat']:.2f}x flat)")
            print(f"       ivf {ivf_s:.3f} s -> speed-up over flat {times['flat'] / ivf_s:.1f}x, "
                  f"recall@{k} {rec:.3f} (by id {rec_id:.3f})")
            out.append(dict(n=n, data=data, what=f"knn k={k}", raw=times["raw"], flat=times["flat"], own=own_s,
                            numpy=np_s,
                            hash=hash_s, ivf=ivf_s, ivf_recall=rec, ivf_id_recall=rec_id))

        for r in args.radii:
            times = interleaved({
                "flat": lambda: flat.radius(queries, r),
                "hash": lambda: hashed.radius(queries, r),
            }, args.repeats)
            hits = sum(len(ids) for ids, _ in flat.radius(queries, r))
            print(f"radius r={r}: flat {times['flat']:.4f} s | hash {times['hash']:.4f} s -> hash / flat "
                  f"{times['hash'] / times['flat']:.3f} ({hits / len(queries):.1f} hits per query)")
            out.append(dict(n=n, data=data, what=f"radius r={r}", flat=times["flat"], hash=times["hash"],
                            hits_per_query=hits / len(queries)))


def bench_milvus(n: int, args, out: list) -> None:
    print(f"\n== Milvus Lite vs faiss flat, N = {n:,} random 64-bit codes, {args.queries:,} queries, k = 10")
    try:
        t = time.perf_counter()
        import pymilvus  # noqa: F401
        from hashviz.search.milvus import push_codes
        import_s = time.perf_counter() - t
    except ImportError:
        print("skipped: pymilvus is not installed (pip install -r requirements-milvus.txt)")
        return
    db = random_codes(n, args.seed)
    queries = random_codes(args.queries, args.seed + 1)
    flat = HammingIndex(db, "flat")
    with tempfile.TemporaryDirectory() as tmp:
        uri = os.path.join(tmp, "bench.db")
        t = time.perf_counter()
        index = push_codes(db, uri, "hv_bench")
        push_s = time.perf_counter() - t
        index.knn(queries[:10], 10)  # warm
        flat_s, (fd, fi) = best_of(lambda: flat.knn(queries, 10), args.repeats)
        mil_s, (md, mi) = best_of(lambda: index.knn(queries, 10), args.repeats)
        same = bool(np.array_equal(fd, md) and np.array_equal(fi, mi))
        rec = id_recall(fi, mi)
        index.close()
    print(f"import pymilvus {import_s:.2f} s; create + insert {n:,} codes {push_s:.1f} s "
          f"({n / push_s:,.0f} codes/s)")
    print(f"faiss flat {len(queries) / flat_s:,.0f} q/s | Milvus Lite {len(queries) / mil_s:,.0f} q/s -> "
          f"Milvus / faiss speed {flat_s / mil_s:.3f}x; recall@10 {rec:.3f}; identical to flat: {same}")
    out.append(dict(n=n, what="milvus", flat_qps=len(queries) / flat_s, milvus_qps=len(queries) / mil_s,
                    recall=rec, identical=same, push_s=push_s))


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="database sizes (default 100000 1000000)")
    parser.add_argument("--queries", type=int, default=None, help="number of queries (default 1000)")
    parser.add_argument("--k", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--radii", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--repeats", type=int, default=None, help="best of this many runs (default 3)")
    parser.add_argument("--quick", action="store_true", help="N = 20k, 200 queries, 1 repeat unless given")
    parser.add_argument("--milvus-size", type=int, default=None, help="Milvus line size (default 100000)")
    parser.add_argument("--no-milvus", action="store_true", help="skip the Milvus Lite line")
    parser.add_argument("--threads", type=int, default=1, help="faiss threads (hashviz default 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = args.sizes or [20_000]
        args.queries = args.queries or 200
        args.repeats = args.repeats or 1
        args.milvus_size = args.milvus_size or 20_000
    args.sizes = args.sizes or [100_000, 1_000_000]
    args.queries = args.queries or 1000
    args.repeats = args.repeats or 3
    args.milvus_size = args.milvus_size or 100_000
    set_search_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)  # the raw-faiss baseline runs at the same thread count
    print(f"faiss {faiss.__version__}, numpy {np.__version__}, faiss threads {args.threads}, "
          f"cpus {os.cpu_count()}")
    out: list = []
    for n in args.sizes:
        bench_size(n, args, out)
    if not args.no_milvus:
        bench_milvus(args.milvus_size, args, out)
    return out


if __name__ == "__main__":
    main()
