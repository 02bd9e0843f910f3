"""What a model directory must hold: the schema of config.json (keys, types, stored metrics) and
the checks of its arrays (code widths, label ranges, image ids, pq codebooks). Pure checks on
values already read; hashviz.zoo reads the files. Every failure is a HashvizError saying what is
wrong.
"""

from __future__ import annotations

import numbers

import numpy as np

from hashviz.code_kinds import code_kind
from hashviz.errors import HashvizError
from hashviz.metrics import reported_metrics

CODE_FILES = ("database", "query", "database_labels", "query_labels")
# key -> allowed types; the rest of config.json is free-form but must be JSON.
REQUIRED_KEYS = {
    "method": str, "family": str, "bits": int, "code_type": str, "dataset": str, "protocol": str,
}
OPTIONAL_KEYS = {
    "paper": str, "seed": int, "hyper": dict, "regularizers": dict, "backbone": (str, type(None)),
    "train_seconds": (int, float), "history": list, "metrics": dict, "versions": dict,
    "num_classes": int, "class_names": list, "image_shape": list, "source": str, "pq": dict,
    "recipe": dict, "encode_seconds": (int, float), "width": int,
    "backbone_layout": int, "images": dict, "unseen_classes": list,
}




def check_config(config, source: str = "config.json") -> dict:
    """Schema check of a config dict: required keys, types, sane values."""
    if not isinstance(config, dict):
        raise HashvizError(f"{source} must hold a JSON object, not {type(config).__name__}")
    for key, kind in REQUIRED_KEYS.items():
        if key not in config:
            raise HashvizError(f"{source} lacks the key {key!r}")
        if not isinstance(config[key], kind) or isinstance(config[key], bool):
            raise HashvizError(f"{source}: {key!r} must be {kind.__name__}, "
                               f"got {type(config[key]).__name__} {config[key]!r}")
    for key, kind in OPTIONAL_KEYS.items():
        if key in config and not isinstance(config[key], kind):
            raise HashvizError(f"{source}: {key!r} has the wrong type ({type(config[key]).__name__})")
    bits = config["bits"]
    if bits <= 0 or bits % 8:
        raise HashvizError(f"{source}: bits must be a positive multiple of 8, got {bits}")
    code_kind(config["code_type"], source).check_config(config, source)
    if "num_classes" in config and not 1 <= config["num_classes"] <= MAX_CLASSES:
        raise HashvizError(f"{source}: num_classes must be 1..{MAX_CLASSES:,}, got {config['num_classes']}")
    held_out = config.get("unseen_classes", [])
    if not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c < MAX_CLASSES for c in held_out):
        raise HashvizError(f"{source}: unseen_classes must list class ids, got {held_out!r:.60}")
    check_metrics(config.get("metrics") or {}, source)
    return config


def check_arrays(config: dict, arrays: dict) -> None:
    kind = code_kind(config["code_type"])
    width = kind.code_width(config)
    for name in CODE_FILES:
        if name not in arrays:
            raise HashvizError(f"codes/{name}.npy is missing")
    for part in ("database", "query"):
        codes, labels = arrays[part], arrays[f"{part}_labels"]
        if codes.dtype != np.uint8 or codes.ndim != 2:
            raise HashvizError(f"codes/{part}.npy must be uint8 (n, {width}), got {codes.dtype} {codes.shape}")
        if codes.shape[1] != width:
            raise HashvizError(f"codes/{part}.npy has {codes.shape[1]} bytes per code; "
                               f"{config['bits']} bits need {width}")
        if len(codes) == 0:
            raise HashvizError(f"codes/{part}.npy is empty")
        check_labels(labels, f"codes/{part}_labels.npy")
        if len(labels) != len(codes):
            raise HashvizError(f"codes/{part}_labels.npy has {len(labels)} labels for {len(codes)} codes")
        ids = arrays.get(f"{part}_ids")
        if ids is not None and (ids.ndim != 1 or len(ids) != len(codes) or ids.dtype.kind not in "iu"):
            raise HashvizError(f"codes/{part}_ids.npy must be int (n,) with one id per code")
        if ids is not None and ids.size and int(ids.min()) < 0:
            raise HashvizError(f"codes/{part}_ids.npy holds a negative image id ({int(ids.min())})")
        kind.check_stored_codes(config, codes, part)
    if arrays["database_labels"].ndim != arrays["query_labels"].ndim:
        raise HashvizError("database and query labels differ in kind (single vs multi-label)")
    kind.check_kind_arrays(config, arrays)
    query_ap = arrays.get("query_ap")
    if query_ap is not None and (query_ap.shape != (len(arrays["query"]),) or query_ap.dtype.kind != "f"
                                 or not np.isfinite(query_ap).all()):
        raise HashvizError("codes/query_ap.npy must be finite float (n_queries,): each query's AP@all")
    sample, rows = arrays.get("outputs_sample"), arrays.get("outputs_sample_rows")
    if (sample is None) != (rows is None):
        raise HashvizError("codes/outputs_sample.npy and outputs_sample_rows.npy come together")
    if sample is not None:
        if sample.ndim != 2 or len(sample) != len(rows) or sample.dtype.kind != "f":
            raise HashvizError("codes/outputs_sample.npy must be float (n, d) matching its rows")
        if rows.size and (rows.min() < 0 or rows.max() >= len(arrays["database"])):
            raise HashvizError("codes/outputs_sample_rows.npy points outside the database")


MAX_ROWS = 50_000_000   # codes per file: 50x the million-item exports hashviz is built for


def check_headers(config: dict, headers: dict[str, tuple[tuple, np.dtype]]) -> None:
    """What the .npy headers alone tell ({name: (shape, dtype)}), before any data is read: codes
    are uint8 (n, width) with n <= MAX_ROWS, and labels and ids have one row per code."""
    width = code_kind(config["code_type"]).code_width(config)
    for part in ("database", "query"):
        if part not in headers:
            continue
        shape, dtype = headers[part]
        if dtype != np.uint8 or len(shape) != 2:
            raise HashvizError(f"codes/{part}.npy must be uint8 (n, {width}), got {dtype} {shape}")
        if shape[1] != width:
            raise HashvizError(f"codes/{part}.npy has {shape[1]} bytes per code; {config['bits']} bits need {width}")
        if shape[0] > MAX_ROWS:
            raise HashvizError(f"codes/{part}.npy holds {shape[0]:,} codes; hashviz takes at most {MAX_ROWS:,}")
        for extra, what in ((f"{part}_labels", "labels"), (f"{part}_ids", "ids")):
            if extra in headers and headers[extra][0][:1] != shape[:1]:
                rows = headers[extra][0][0] if headers[extra][0] else 0
                raise HashvizError(f"codes/{extra}.npy has {rows} {what} for {shape[0]} codes")


MIN_CLASS_ID_LIMIT = 1000   # class ids may skip numbers, but not run far past the classes present
MAX_CLASSES = 100_000       # per-class things (names, hash centres, confusion rows) stay bounded


def check_labels(labels: np.ndarray, what: str) -> None:
    """Class ids (n,): integers >= 0 below max(1000, 10 x the distinct labels), so that nothing
    sized per class (names, confusion matrices) can blow up; multi-hot (n, C): 0 and 1 only."""
    if labels.ndim not in (1, 2) or labels.dtype.kind not in ("iu" if labels.ndim == 1 else "iub"):
        raise HashvizError(f"{what} must be integer (n,) or multi-hot (n, C), got {labels.dtype} {labels.shape}")
    if not labels.size:
        return
    low, high = int(labels.min()), int(labels.max())
    if labels.ndim == 2:
        if low < 0 or high > 1:
            raise HashvizError(f"{what} is multi-hot (n, C) and must hold only 0 and 1, found {low if low < 0 else high}")
        return
    if low < 0:
        raise HashvizError(f"{what} holds a negative label ({low}); class ids start at 0")
    if high >= MIN_CLASS_ID_LIMIT:
        distinct = len(np.unique(labels))
        limit = max(MIN_CLASS_ID_LIMIT, 10 * distinct)
        if high >= limit:
            raise HashvizError(f"{what} holds label {high} among {distinct} distinct labels; class ids "
                               f"must be below {limit} (renumber them 0..{distinct - 1})")


METRIC_NUMBERS = tuple(m.key for m in reported_metrics())    # the schema is the one list of metrics
# The seen/unseen-class settings (hashviz.unseen): metrics.settings maps each to a metric dict.
SETTINGS = ("seen@seen", "seen@all", "unseen@unseen", "unseen@all")


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_k(key) -> bool:
    """A precision@k key: a positive int (in memory) or its digits (in JSON)."""
    return (isinstance(key, str) and key.isdigit() and int(key) > 0) or (_is_number(key) and key == int(key) > 0)


def check_metrics(metrics: dict, source: str) -> None:
    """The stored metrics' schema: numbers (NaN for n/a), precision@k as {"k": number}, a PR curve
    of equal-length number lists (or null)."""
    for key in METRIC_NUMBERS:
        if key in metrics and not _is_number(metrics[key]):
            raise HashvizError(f"{source}: metrics.{key} must be a number, got {metrics[key]!r:.40}")
    pk = metrics.get("precision_at_k", {})
    if not isinstance(pk, dict) or not all(
            _is_k(k) and _is_number(v) for k, v in pk.items()):
        raise HashvizError(f"{source}: metrics.precision_at_k must map k (\"10\") to a number, got {pk!r:.60}")
    curve = metrics.get("pr_curve")
    if curve is not None:
        lists = [curve.get(k) for k in ("precision", "recall")] if isinstance(curve, dict) else [None]
        if not all(isinstance(v, list) and all(map(_is_number, v)) and len(v) == len(lists[0]) for v in lists):
            raise HashvizError(f"{source}: metrics.pr_curve must hold equal-length number lists "
                               "'precision' and 'recall'")
    settings = metrics.get("settings")
    if settings is not None:
        if not isinstance(settings, dict) or not set(settings) <= set(SETTINGS) or \
                not all(isinstance(v, dict) for v in settings.values()):
            raise HashvizError(f"{source}: metrics.settings must map {', '.join(SETTINGS)} to metric objects")
        for name, inner in settings.items():
            check_metrics({k: v for k, v in inner.items() if k != "settings"}, f"{source} ({name})")


def check_ids_within(model, images) -> None:
    """The model's image ids against its dataset's images (their count is known only once the
    dataset is loaded; None: no images, nothing to check)."""
    n_images = 0 if images is None else len(images)
    for part, ids in (("database", model.database_ids), ("query", model.query_ids)):
        if images is not None and ids is not None and ids.size and int(ids.max()) >= n_images:
            raise HashvizError(f"{model.name}: codes/{part}_ids.npy points at image {int(ids.max())} but "
                               f"{model.dataset} has {n_images} images")

