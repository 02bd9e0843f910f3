"""2-D maps of codes (and of pixels or continuous outputs) for the code-map page, with a disk cache.

* `project_codes` -- UMAP with the Hamming metric on unpacked {0,1} codes, or instant PCA on ±1.
* `project_array` -- the same for float arrays (Euclidean UMAP / PCA).
* `sample_rows`   -- seeded, sorted row sample.
* `cached_projection` / `projection_cache_path` -- content-addressed .npy cache, written atomically,
  so a page can show PCA at once and swap in UMAP when its file appears.
* `neighbours_correct` -- share of each point's k Hamming neighbours with the same label.

UMAP (umap-learn + numba) runs in one spawned process of its own (`_umap_process`), which keeps
numba's compiled code, so only a process's first fit pays for compilation (timings: docs/recipes.md).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Callable

import numpy as np

from hashviz.codes import check_packed, unpack_bits01
from hashviz.errors import HashvizError
from hashviz.search import HammingIndex

__all__ = ["project_codes", "project_array", "sample_rows", "cached_projection", "projection_cache_path",
           "projection_key", "load_cached_projection", "neighbours_correct", "METHODS"]

METHODS = ("umap", "pca")

ProgressFn = Callable[[float, str], None]


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise HashvizError(f"projection method must be one of {', '.join(METHODS)}, got {method!r}")
    return method


def _pca(x: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    n, d = x.shape
    out = np.zeros((n, 2), dtype=np.float32)
    if n < 2 or not np.any(x.std(axis=0) > 0):
        return out                                      # all points identical: nothing to spread
    k = min(2, d, n)
    out[:, :k] = PCA(n_components=k, random_state=seed).fit_transform(x.astype(np.float64))
    return out


def _umap(x: np.ndarray, metric: str, n_neighbors: int, seed: int, min_dist: float,
          n_epochs: int | None) -> np.ndarray:
    if x.shape[0] < 4:                                  # UMAP needs a few points; PCA says as much
        return _pca(x.astype(np.float64), seed)
    from concurrent.futures.process import BrokenProcessPool
    try:
        xy = _umap_process().submit(_fit_umap, x, metric, n_neighbors, seed, min_dist, n_epochs).result()
    except BrokenProcessPool:
        _forget_umap_process()
        raise HashvizError("the UMAP process stopped (out of memory?); try PCA or fewer points") from None
    if not np.isfinite(xy).all():
        raise HashvizError("the UMAP projection produced NaN values; try PCA or another sample")
    return xy


_umap_pool = None
_umap_pool_lock = threading.Lock()


def _umap_process():
    """The one spawned process every UMAP fit runs in. numba's compilation (on a first fit) and
    UMAP's Python parts hold the GIL: in the app's own process they would stall
    every page while a map computes. The process keeps its compiled code for the next fits."""
    global _umap_pool
    with _umap_pool_lock:
        if _umap_pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor
            _umap_pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            # ended while the interpreter still has its modules (a pool collected during teardown errs)
            atexit.register(_umap_pool.shutdown, wait=False, cancel_futures=True)
        return _umap_pool


def _forget_umap_process() -> None:
    global _umap_pool
    with _umap_pool_lock:
        _umap_pool = None


def _fit_umap(x: np.ndarray, metric: str, n_neighbors: int, seed: int, min_dist: float,
              n_epochs: int | None) -> np.ndarray:
    """Runs inside the UMAP process: seeded (hence single-threaded) umap-learn, float32 (n, 2)."""
    import warnings

    import umap                                         # heavy import + numba compilation, once per process

    reducer = umap.UMAP(n_components=2, n_neighbors=int(min(max(n_neighbors, 2), x.shape[0] - 1)),
                        metric=metric, min_dist=min_dist, random_state=seed, init="spectral",
                        n_epochs=n_epochs)
    with warnings.catch_warnings():
        # seeded UMAP runs single-threaded and says so; duplicate codes make it warn about
        # disconnected components. Neither is actionable for the user.
        warnings.simplefilter("ignore", UserWarning)
        return np.asarray(reducer.fit_transform(x), dtype=np.float32)


def project_codes(codes: np.ndarray, method: str = "umap", n_neighbors: int = 15, seed: int = 0,
                  metric: str = "hamming", min_dist: float = 0.1, n_epochs: int | None = None) -> np.ndarray:
    """2-D map of packed codes uint8 (n, bits/8): float32 (n, 2).

    "umap": umap-learn on the unpacked {0,1} codes with `metric` (default "hamming"), seeded via
    random_state (deterministic, single-threaded). "pca": sklearn PCA of the ±1 codes (instant).
    n_epochs None = umap's default (500 up to 10,000 points, 200 above); 200 halves the time.
    """
    _check_method(method)
    check_packed(codes)
    if codes.shape[0] == 0:
        raise HashvizError("no codes to project (0 rows)")
    x01 = unpack_bits01(codes)
    if method == "pca":
        return _pca(x01.astype(np.float32) * 2 - 1, seed)
    return _umap(x01.astype(bool) if metric == "hamming" else x01.astype(np.float32),
                 metric, n_neighbors, seed, min_dist, n_epochs)


def project_array(X: np.ndarray, method: str = "umap", seed: int = 0, n_neighbors: int = 15,
                  min_dist: float = 0.1, n_epochs: int | None = None) -> np.ndarray:
    """2-D map of a float array (n, ...) (pixels or continuous outputs; flattened per row): float32 (n, 2).

    "umap": Euclidean UMAP, seeded. "pca": sklearn PCA.
    """
    _check_method(method)
    X = np.asarray(X)
    if X.ndim < 2 or X.shape[0] == 0:
        raise HashvizError(f"expected an array with one row per item (n, ...), got shape {X.shape}")
    X = X.reshape(X.shape[0], -1).astype(np.float32, copy=False)
    if not np.isfinite(X).all():
        raise HashvizError("the array to project contains NaN or infinite values")
    if method == "pca":
        return _pca(X, seed)
    return _umap(X, "euclidean", n_neighbors, seed, min_dist, n_epochs)


def sample_rows(n_total: int, n_sample: int | None, seed: int = 0) -> np.ndarray:
    """Sorted int64 row ids: `n_sample` of range(n_total) without replacement (all when n_sample
    is None or >= n_total), drawn with numpy's default_rng(seed)."""
    n_total = int(n_total)
    if n_total < 0:
        raise HashvizError(f"n_total must be >= 0, got {n_total}")
    if n_sample is None or int(n_sample) >= n_total:
        return np.arange(n_total, dtype=np.int64)
    if int(n_sample) < 0:
        raise HashvizError(f"sample size must be >= 0, got {n_sample}")
    rows = np.random.default_rng(seed).choice(n_total, int(n_sample), replace=False)
    return np.sort(rows).astype(np.int64)


# --------------------------------------------------------------------------------------------
# disk cache


def projection_key(data: np.ndarray, method: str, sample_size: int | None, seed: int,
                   params: dict | None = None) -> str:
    """sha256 hex of the array bytes, shape and dtype, the method, sample size, seed and params."""
    data = np.ascontiguousarray(data)
    h = hashlib.sha256()
    meta = {"shape": list(data.shape), "dtype": data.dtype.str, "method": method,
            "sample_size": None if sample_size is None else int(sample_size), "seed": int(seed),
            "params": params or {}, "version": 1}
    h.update(json.dumps(meta, sort_keys=True, default=str).encode())
    h.update(b"\0")
    h.update(memoryview(data).cast("B") if data.size else b"")
    return h.hexdigest()


def projection_cache_path(data: np.ndarray, method: str, sample_size: int | None, seed: int,
                          cache_dir: str | os.PathLike, params: dict | None = None) -> Path:
    """Where `cached_projection` keeps (or will keep) this projection; `.exists()` says it is ready."""
    _check_method(method)
    key = projection_key(data, method, sample_size, seed, params)
    return Path(cache_dir) / f"projection-{method}-{key[:32]}.npy"


def load_cached_projection(path: str | os.PathLike, n_rows: int | None = None) -> np.ndarray | None:
    """The cached float32 (n, 2) array at `path`, or None when missing, unreadable or malformed."""
    try:
        xy = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if (not isinstance(xy, np.ndarray) or xy.ndim != 2 or xy.shape[1] != 2
            or (n_rows is not None and xy.shape[0] != n_rows)
            or not np.issubdtype(xy.dtype, np.floating) or not np.isfinite(xy).all()):
        return None
    return xy.astype(np.float32, copy=False)


def _save_atomic(path: Path, xy: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, np.ascontiguousarray(xy, dtype=np.float32), allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _default_compute(data: np.ndarray, method: str, seed: int, params: dict) -> np.ndarray:
    if data.dtype == np.uint8 and data.ndim == 2:
        return project_codes(data, method, seed=seed, **params)
    return project_array(data, method, seed=seed, **params)


def cached_projection(codes_or_array: np.ndarray, method: str = "umap", sample_size: int | None = 10_000,
                      seed: int = 0, cache_dir: str | os.PathLike = ".hashviz-cache",
                      compute: Callable[[np.ndarray], np.ndarray] | None = None,
                      progress: ProgressFn | None = None,
                      params: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Project a seeded row sample, reusing the disk cache: returns (xy float32 (m, 2), rows int64 (m,)).

    rows = sample_rows(n, sample_size, seed) are the global row ids of the projected points.
    compute(sample) -> (m, 2) does the work on a miss; by default packed uint8 codes go to
    `project_codes` and anything else to `project_array`, with `params` (e.g. n_neighbors) passed on.
    The cache key covers the array content, shape, dtype, method, sample size, seed and params
    (pass a distinguishing params entry when a custom `compute` differs in ways the key cannot see).
    A missing or corrupt cache file is (re)computed; the file is written atomically (tmp + os.replace).
    progress(fraction, message) is called before and after the computation.
    """
    _check_method(method)
    data = np.asarray(codes_or_array)
    if data.ndim < 1 or data.shape[0] == 0:
        raise HashvizError("nothing to project (0 rows)")
    params = dict(params or {})
    rows = sample_rows(data.shape[0], sample_size, seed)
    path = projection_cache_path(data, method, sample_size, seed, cache_dir, params)
    xy = load_cached_projection(path, rows.shape[0])
    if xy is not None:
        if progress:
            progress(1.0, f"{method.upper()} map loaded from cache")
        return xy, rows
    if progress:
        progress(0.0, f"computing the {method.upper()} map of {rows.shape[0]:,} points")
    sample = data[rows]
    if compute is None:
        xy = _default_compute(sample, method, seed, params)
    else:
        xy = compute(sample)
    xy = np.asarray(xy, dtype=np.float32)
    if xy.shape != (rows.shape[0], 2):
        raise HashvizError(f"projection returned shape {xy.shape}, expected ({rows.shape[0]}, 2)")
    try:
        _save_atomic(path, xy)
    except OSError:
        pass                                            # read-only cache dir: still return the result
    if progress:
        progress(1.0, f"{method.upper()} map ready")
    return xy, rows


# --------------------------------------------------------------------------------------------
# neighbour agreement




def neighbours_correct(codes: np.ndarray, labels: np.ndarray, k: int = 10, rows: np.ndarray | None = None,
                       chunk: int = 128) -> np.ndarray:
    """float64 share of each point's k nearest Hamming neighbours that have its label.

    Neighbours are searched among all `codes` excluding the point itself, ranked by Hamming distance
    ascending with ties broken by row index ascending (the project-wide ranking order). With `rows`,
    only those points are scored (still against all codes) and the result has len(rows) entries.
    Cost grows as len(rows) x n (timings: docs/recipes.md).
    NaN when there is no other point.
    """
    check_packed(codes)
    n = codes.shape[0]
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise HashvizError(f"labels must have one entry per code ({n}), got shape {labels.shape}")
    queries = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    if queries.ndim != 1 or (queries.size and (queries.min() < 0 or queries.max() >= n)):
        raise HashvizError("rows must be a 1-D array of row ids inside the codes")
    k = int(min(k, n - 1))
    out = np.full(queries.shape[0], np.nan)
    if k < 1 or queries.size == 0:
        return out
    index = HammingIndex(codes, kind="flat")
    chunk = max(1, int(chunk))
    for s in range(0, queries.shape[0], chunk):
        q = queries[s:s + chunk]
        _, nn = index.knn(codes[q], k + 1)
        own = nn == q[:, None]                              # never your own neighbour: drop it, or
        own[~own.any(axis=1), -1] = True                    # the (k+1)-th when it ranked beyond k
        nn = nn[~own].reshape(len(q), k)
        out[s:s + len(q)] = (labels[nn] == labels[q][:, None]).sum(axis=1) / k
    return out
