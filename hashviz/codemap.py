"""The Code map's glue between a model directory and `hashviz.projection`.

What a map projects (`source`):

* "codes"   -- the database codes as the model's code space maps them (hashviz.code_display): binary
               codes with the Hamming metric (PCA of ±1 codes for the instant view); pq codes by their
               reconstructed vectors (concatenated codewords, Euclidean).
* "pixels"  -- the same sampled images' pixels (scaled to 0..1), Euclidean.
* "outputs" -- the network's continuous outputs u before the sign (model.outputs_sample). When the
               code map's sample rows all lie in model.outputs_sample_rows (the default: both are
               the seeded sample of 5,000 rows) the same points are projected.

Every map is (xy float32 (m, 2), rows int64 (m,)) where rows are database rows of the model, the ones
its code space draws: a binary model's most frequent distinct codes, each at its first row
(hashviz.distinct: sized by count, a selected code expands to its items with `code_members`), a pq
model's seeded sample of rows; the pixels and outputs maps beside it draw the same rows.

Disk cache: ``<models_root>/.cache/projections/`` (models_root = the model directory's parent;
discover() skips dot-folders), or ``$HASHVIZ_PROJECTION_CACHE`` when set. File names are content
hashes (codes / outputs bytes, method, sample size, seed, source and UMAP parameters), so a
retrained model never reuses a stale map, the cache survives restarts and every session and
process shares it; files are written atomically.

`map_or_start` computes a missing map on a hashviz.background.JobRunner (the fits themselves run one
at a time in hashviz.projection's UMAP process, whose first fit compiles numba code), so a page can
show PCA meanwhile and ask again; on a hashviz.map_jobs.MapJobs runner a session has one pending map at a time and the
server a bounded number. Nothing here imports streamlit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from hashviz.background import DONE, FAILED, Job, JobRunner
from hashviz.code_space import code_space
from hashviz.diagnostics import primary_labels
from hashviz.errors import HashvizError
from hashviz.labels import label_groups, label_text
from hashviz.map_jobs import MapJobs
from hashviz.projection import (ProgressFn, cached_projection, load_cached_projection, project_array,
                                projection_cache_path, sample_rows)
from hashviz.settings import PROJECTION_CACHE_ENV
from hashviz.zoo import class_names_of

__all__ = ["SOURCES", "DEFAULT_SAMPLE", "UMAP_PARAMS", "code_map_projection", "load_code_map",
           "code_map_cache_path", "projection_cache_dir", "map_or_start", "drawn_rows", "drawn_note", "code_members",
           "primary_labels", "color_values", "neighbour_scores", "thumbnail",
           "gallery", "row_choices", "available_sources", "colour_kinds", "map_title"]

SOURCES = ("codes", "pixels", "outputs")
DEFAULT_SAMPLE = 5000
# The most points one interactive UMAP request may project, so that no one map holds the shared UMAP
# process for long (timings: docs/recipes.md). PCA (instant) takes any number.
MAX_UMAP_POINTS = 20_000
# 200 epochs at every size (UMAP's own default above 10k points; below it, UMAP would run 500): a small
# map takes fewer epochs than UMAP's default (timings: docs/recipes.md); part of the cache key.
UMAP_PARAMS = {"n_epochs": 200}
CACHE_ENV = PROJECTION_CACHE_ENV        # named once, in hashviz.settings (hashviz serve sets it)
POINTS_HELP = "binary codes: the most frequent distinct codes; product-quantised codes: a seeded sample of items"


def projection_cache_dir(model) -> Path:
    """Where maps of `model` are cached: $HASHVIZ_PROJECTION_CACHE or <models_root>/.cache/projections."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path(model.path).parent / ".cache" / "projections"


# --------------------------------------------------------------------------------------------
# what a map projects


@dataclass
class _Plan:
    key_data: np.ndarray                       # the array whose content keys the cache
    sample_size: int | None                    # passed on to cached_projection
    row_ids: np.ndarray                        # key_data row -> database row
    params: dict
    compute: Callable[[np.ndarray], np.ndarray] | None


def _method_params(method: str) -> dict:
    return dict(UMAP_PARAMS) if method == "umap" else {}


def _plan(model, source: str, method: str, sample_size: int | None, seed: int, dataset=None) -> _Plan:
    if source not in SOURCES:
        raise HashvizError(f"map source must be one of {', '.join(SOURCES)}, got {source!r}")
    n = len(model.database_codes)
    if sample_size is not None and int(sample_size) < 1:
        raise HashvizError(f"sample size must be at least 1, got {sample_size}")
    sample_size = None if sample_size is None or int(sample_size) >= n else int(sample_size)   # one key for "all"
    params = _method_params(method)
    if source == "codes":
        space = code_space(model)
        data, cache_sample, rows, key = space.map_data(sample_size, seed, model.content_key)
        return _Plan(data, cache_sample, rows, {**params, **key},
                     lambda sample: space.project(sample, method, seed=seed, **params))
    if source == "pixels":
        if model.database_ids is None:
            raise HashvizError(f"{model.name} holds imported codes without image ids; no pixel map")
        if dataset is None:
            from hashviz.data import load_dataset
            dataset = load_dataset(model.dataset)
        ids = model.database_ids
        if ids.size and int(ids.max()) >= len(dataset.images):
            raise HashvizError(f"{model.name}: image ids point beyond the {dataset.name} dataset")

        def compute_pixels(sample_ids):
            pixels = np.asarray(dataset.images[sample_ids], dtype=np.float32) / 255.0
            return project_array(pixels, method, seed=seed, **params)
        # the code map's points; keyed by their image ids, so maps of the same images are shared
        rows = drawn_rows(model, sample_size, seed)
        return _Plan(np.asarray(ids, dtype=np.int64)[rows], None, rows,
                     {**params, "source": "pixels", "dataset": model.dataset}, compute_pixels)
    outputs, out_rows = model.outputs_sample, model.outputs_sample_rows
    if outputs is None or out_rows is None:
        raise HashvizError(f"{model.name} has no saved continuous outputs (codes/outputs_sample.npy)")
    wanted = drawn_rows(model, sample_size, seed)
    pos = np.minimum(np.searchsorted(out_rows, wanted), len(out_rows) - 1)

    def compute_outputs(sample):
        return project_array(sample, method, seed=seed, **params)
    out_params = {**params, "source": "outputs"}
    if np.all(np.diff(out_rows) > 0) and np.array_equal(out_rows[pos], wanted):
        # every sampled row has a saved output: project exactly the code map's points
        return _Plan(np.asarray(outputs)[pos], None, wanted, out_params, compute_outputs)
    return _Plan(np.asarray(outputs), sample_size, np.asarray(out_rows, dtype=np.int64), out_params,
                 compute_outputs)


def code_map_cache_path(model, method: str = "umap", sample_size: int | None = DEFAULT_SAMPLE, seed: int = 0,
                        source: str = "codes", cache_dir=None, dataset=None) -> Path:
    """The cache file of this map (`.exists()` says whether it is ready)."""
    plan = _plan(model, source, method, sample_size, seed, dataset)
    return projection_cache_path(plan.key_data, method, plan.sample_size, seed,
                                 cache_dir or projection_cache_dir(model), plan.params)


def code_map_projection(model, method: str = "umap", sample_size: int | None = DEFAULT_SAMPLE, seed: int = 0,
                        progress: ProgressFn | None = None, source: str = "codes", cache_dir=None,
                        dataset=None) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D map of a model's database (see the module docstring): (xy float32 (m, 2), database
    rows int64 (m,)). Reads the disk cache, computes and stores the map on a miss."""
    plan = _plan(model, source, method, sample_size, seed, dataset)
    xy, local = cached_projection(plan.key_data, method, plan.sample_size, seed,
                                  cache_dir or projection_cache_dir(model), compute=plan.compute,
                                  progress=progress, params=plan.params)
    return xy, plan.row_ids[local]


def load_code_map(model, method: str = "umap", sample_size: int | None = DEFAULT_SAMPLE, seed: int = 0,
                  source: str = "codes", cache_dir=None, dataset=None) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached map, or None when it is not computed yet (never computes)."""
    plan = _plan(model, source, method, sample_size, seed, dataset)
    local = sample_rows(plan.key_data.shape[0], plan.sample_size, seed)
    path = projection_cache_path(plan.key_data, method, plan.sample_size, seed,
                                 cache_dir or projection_cache_dir(model), plan.params)
    xy = load_cached_projection(path, local.shape[0])
    return None if xy is None else (xy, plan.row_ids[local])


def drawn_rows(model, sample_size: int | None, seed: int = 0) -> np.ndarray:
    """int64: the database rows a map draws: a binary model's `sample_size` most frequent distinct
    codes (each at its first row), a pq model's seeded sample of rows."""
    return code_space(model).map_rows(sample_size, seed, model.content_key)


def drawn_note(model, sample_size: int) -> tuple[str | None, Callable[[np.ndarray], np.ndarray] | None,
                                                 Callable[[np.ndarray], np.ndarray] | None]:
    """(what the codes map draws, in words; rows -> point sizes; rows -> items sharing each row's
    code) for a binary model (hashviz.distinct), else (None, None, None): a sample, one size each."""
    return code_space(model).points_note(sample_size, model.content_key)


def code_members(model, rows) -> np.ndarray:
    """int64: every database row whose code is the code of one of `rows` (binary models; code by code
    in the order of `rows`, ascending within a code); pq models: `rows` as they are."""
    return code_space(model).code_members(rows, model.content_key)


def available_sources(model) -> dict[str, str | None]:
    """Picker label -> source for the map beside the code map (only what this model has)."""
    out: dict[str, str | None] = {"nothing": None}
    if model.database_ids is not None and not model.config.get("images"):   # imports: files, no pixel array
        out["the same images' pixels"] = "pixels"
    if model.outputs_sample is not None and model.outputs_sample_rows is not None:
        out["the network's continuous outputs"] = "outputs"
    return out


def colour_kinds(model) -> dict[str, str]:
    """color_kind -> picker label (per-bit colouring where the codes have bits)."""
    kinds = {"label": "label", "correct": "right/wrong of its top-10 neighbours"}
    return kinds if code_space(model).no_bits_reason else {**kinds, "bit": "one bit"}


def map_title(model, source: str, method: str, n_points: int) -> str:
    """e.g. "UMAP of the codes (Hamming) · 5,000 points"."""
    name = method.upper()
    what = {"pixels": "the pixels", "outputs": "the continuous outputs u"}.get(source)
    if what is None:
        what = code_space(model).map_subject(method)
    return f"{name} of {what} · {n_points:,} points"


# --------------------------------------------------------------------------------------------
# background computation


def map_or_start(jobs: JobRunner, model, method: str = "umap", sample_size: int | None = DEFAULT_SAMPLE,
                 seed: int = 0, source: str = "codes", cache_dir=None, dataset=None,
                 owner: str | None = None) -> tuple[tuple[np.ndarray, np.ndarray] | None, Job | None]:
    """(map, None) when the map is cached or its job finished; (None, job) while it is computed in
    the background (started here when needed). A failed job raises its error (HashvizError as is)
    and is retried on the next call. On a MapJobs runner: the point count must be one it allows,
    and while `owner`'s earlier map is pending that job is returned instead of a new one (the page
    waits for it, then asks again); MapsBusy when the server queues no more maps."""
    if isinstance(jobs, MapJobs):
        jobs.check_size(sample_size, len(model.database_codes))
    if method == "umap" and (sample_size is None or sample_size > MAX_UMAP_POINTS) \
            and len(model.database_codes) > MAX_UMAP_POINTS:
        raise HashvizError(f"a UMAP map takes at most {MAX_UMAP_POINTS:,} points here (it grows to minutes "
                           "and holds a worker other users wait for); use PCA for more")
    path = code_map_cache_path(model, method, sample_size, seed, source, cache_dir, dataset)
    cached = load_code_map(model, method, sample_size, seed, source, cache_dir, dataset)
    if cached is not None:
        return cached, None
    key = str(path)
    job = jobs.get(key)
    if job is not None and job.state == DONE:
        return job.result, None                         # e.g. a read-only cache dir
    if job is not None and job.state == FAILED:
        jobs.forget(key)                                # reported once; the next call retries
        if isinstance(job.error, HashvizError):
            raise job.error
        raise HashvizError(f"computing the {method.upper()} map failed: {job.error}")
    if job is None:
        job = jobs.submit(key, lambda: code_map_projection(model, method, sample_size, seed, None, source,
                                                           cache_dir, dataset),
                          f"{method.upper()} map of {model.name} ({source}, {sample_size or 'all'} points)",
                          **({"owner": owner} if isinstance(jobs, MapJobs) else {}))
    return None, job


# --------------------------------------------------------------------------------------------
# colours, thumbnails


def neighbour_scores(model, rows: np.ndarray, k: int = 10) -> np.ndarray:
    """float64 (len(rows),): share of each point's k nearest neighbours *within the sample `rows`*
    that have its (primary) label. Binary codes: Hamming, ties by row. pq: Euclidean distance of the
    reconstructed vectors, ties by row."""
    rows = np.asarray(rows, dtype=np.int64)
    return code_space(model).sample_neighbour_scores(rows, primary_labels(model.database_labels)[rows], k)


def color_values(model, rows: np.ndarray, kind: str, bit: int = 0, k: int = 10,
                 group: int | None = None) -> np.ndarray | None:
    """Values for plots.code_map_figure's color_kind: "label" (int labels; multi-label data: with /
    without label `group`, or each item's first label, see hashviz.labels.label_groups), "correct"
    (share of top-k neighbours with the same label) or "bit" ({0,1} of one bit; binary codes only)."""
    rows = np.asarray(rows, dtype=np.int64)
    if kind == "label":
        return label_groups(model.database_labels[rows], group)
    if kind == "correct":
        return neighbour_scores(model, rows, k)
    if kind == "bit":
        return code_space(model).bit_column(rows, bit)
    raise HashvizError(f"colour by 'label', 'correct' or 'bit', got {kind!r}")


def thumbnail(image: np.ndarray, size: int = 84) -> np.ndarray:
    """uint8 image scaled up by an integer factor (nearest) to about `size` pixels; never scaled down."""
    image = np.asarray(image)
    f = max(1, int(size) // max(image.shape[0], image.shape[1]))
    return np.repeat(np.repeat(image, f, axis=0), f, axis=1)


def gallery(model, rows: Sequence[int], dataset=None, limit: int = 48, size: int = 84,
            images=None, part: str = "database") -> list[tuple[int, np.ndarray | None, str]]:
    """(row, thumbnail or None without images, caption "row r · class") of the first `limit` rows
    of the model's database (or query set: part="query"), in the given order. images: an image
    source (hashviz.data.images) indexed by the model's ids; by default the dataset's images."""
    if images is None and dataset is not None:
        images = dataset.images
    ids = model.database_ids if part == "database" else model.query_ids
    rows = [int(r) for r in list(rows)[:max(int(limit), 0)]]
    n = len(model.database_codes if part == "database" else model.query_codes)
    out = []
    for r in rows:
        if not 0 <= r < n:
            raise HashvizError(f"row {r} is not a {part} row of {model.name}")
        image = thumbnail(images[int(ids[r])], size) if images is not None and ids is not None else None
        out.append((r, image, _caption(model, r, dataset, part)))
    return out


def selection_table(model, rows: Sequence[int], class_names: Sequence[str] = ()):
    """Selected database rows as a table (the Code map's CSV): database_row, dataset_id (None for
    codes without ids), labels (class names, "+"-joined for multi-label items), image_path (the file
    an import names, else None)."""
    import pandas as pd
    from hashviz.neighbour_table import image_paths_of
    rows = [int(r) for r in rows]
    paths, ids = image_paths_of(model), model.database_ids
    return pd.DataFrame({
        "database_row": pd.array(rows, dtype="int64"),
        "dataset_id": pd.array([None if ids is None else int(ids[r]) for r in rows], dtype="Int64"),
        "labels": [label_text(model.database_labels[r], class_names) for r in rows],
        "image_path": [paths(r) if paths else None for r in rows],
    })


def row_choices(model, rows: Sequence[int], dataset=None) -> dict[int, str]:
    """database row -> "row r · class" for a picker (in the given order)."""
    return {int(r): _caption(model, int(r), dataset) for r in rows}


def _caption(model, row: int, dataset=None, part: str = "database") -> str:
    """'row r · class' ('query row r · ...' for queries; every label of a multi-label item, joined by '+')."""
    label = (model.database_labels if part == "database" else model.query_labels)[row]
    names = class_names_of(model, dataset) or []
    prefix = "row" if part == "database" else "query row"
    if np.ndim(label) == 0 and not 0 <= int(label) < len(names):
        return f"{prefix} {row} · class {int(label)}"
    return f"{prefix} {row} · " + label_text(label, names)
