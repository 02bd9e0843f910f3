"""Turn codes exported by other tools into a codes-only model directory, optionally with the list
files that name their images.

Codes: any {-1,+1} / {0,1} matrix (n, bits), bits <= 1024. DeepHash-pytorch saves
`torch.sign(outputs)` as float32, so an output of exactly 0 gives a 0 among the ±1; such entries
are taken as -1 (bit 0). A length that is not a whole number of bytes (DPSH's 12 bits) is padded
with constant bits, which change no distance; config.json records `exported_bits`.
Labels: integer (n,) or one-/multi-hot 0/1 (n, C).

DeepHash-pytorch save folders (`--deephash-dir`): `<dataset>-<bits>-<mAP>-trn_binary.npy`,
`-trn_label.npy`, `-tst_binary.npy`, `-tst_label.npy` (trn = database, tst = queries), or the older
`<dataset><mAP>-database_binary.npy`, `-database_label.npy`, `-test_binary.npy`, `-test_label.npy`.
The set with the highest mAP in its name wins. Its `.pt` weights are never opened.

List files (`--database-list`, `--query-list`): DeepHash-pytorch's format, one line per row in the
order of the codes: `<image path> <0/1> <0/1> ...` (the label vector), checked first by
hashviz.list_checks (the same checks as `hashviz check-lists`). A relative path is taken
relative to `--image-root`, else to the list's folder. The model directory stores that root and
the relative paths (codes/image_paths.npy + image_path_ends.npy); it never copies an image.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

import numpy as np

from hashviz.codes import MAX_BITS, pack_any
from hashviz.data.trusted_roots import trust_root
from hashviz.data.images import PATH_ENDS_FILE, PATHS_FILE, encode_paths, paths_digest
from hashviz.errors import HashvizError
from hashviz.list_checks import ImageList, ListProblems, check_lists, read_class_names, read_image_list
from hashviz.metrics import evaluate
from hashviz.model_checks import check_labels
from hashviz.zoo import _load_npy, save_model_dir

__all__ = ["ImageList", "find_deephash_arrays", "import_codes", "read_image_list", "MAX_BITS"]


_SAVED = re.compile(r"^(?P<stem>.*?)-?(?P<map>\d+(?:\.\d+)?(?:e-?\d+)?)-(?P<part>trn|database)_binary\.npy$")
_PARTS = {"trn": ("trn_binary", "trn_label", "tst_binary", "tst_label"),
          "database": ("database_binary", "database_label", "test_binary", "test_label")}


# ---------------------------------------------------------------- DeepHash-pytorch save folders

def find_deephash_arrays(folder) -> dict[str, Path]:
    """{database_codes, database_labels, query_codes, query_labels} -> files of the best (highest
    mAP) complete save set in `folder`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise HashvizError(f"--deephash-dir {folder} is not a folder")
    found = []
    for path in sorted(folder.iterdir()):
        match = _SAVED.match(path.name)
        if match is None:
            continue
        prefix = path.name[: -len(f"{match['part']}_binary.npy")]
        names = [prefix + f"{part}.npy" for part in _PARTS[match["part"]]]
        if all((folder / name).is_file() for name in names):
            found.append((float(match["map"]), path.stat().st_mtime, names))
    if not found:
        raise HashvizError(f"{folder} holds no DeepHash-pytorch save set (<dataset>-<bits>-<mAP>-trn_binary.npy "
                           "with trn_label, tst_binary and tst_label beside it)")
    names = max(found)[2]
    return dict(zip(("database_codes", "database_labels", "query_codes", "query_labels"),
                    (folder / n for n in names)))


def _save_claim(path: Path) -> dict | None:
    """What a DeepHash-pytorch save file's name says: its stem (dataset, bits) and the mAP it claims
    (None for another file name)."""
    match = _SAVED.match(path.name)
    return {"file": path.name, "stem": match["stem"], "claimed_map": float(match["map"])} if match else None


# ---------------------------------------------------------------- list files

def _relative_to(root: Path, images: ImageList) -> list[str]:
    """Paths of `images` relative to `root` (absolute where they lie outside it)."""
    if Path(os.path.abspath(images.root)) == root:       # the usual case: the lines stay as they are
        if not any(p.startswith(os.sep) for p in images.paths):
            return images.paths
        return [p if not p.startswith(os.sep) else _rel_or_abs(Path(p), root) for p in images.paths]
    return [_rel_or_abs(images.root / p, root) for p in images.paths]


def _rel_or_abs(path: Path, root: Path) -> str:
    path = Path(os.path.abspath(path))
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------- labels

def _labels(array: np.ndarray, what: str) -> tuple[np.ndarray, int | None]:
    """(labels, label columns): int (n,) stays (no columns); one-hot (n, C) becomes int (n,);
    multi-hot stays (n, C) uint8."""
    if array.ndim == 1 and array.dtype.kind in "iu":
        return array.astype(np.int64), None
    if array.ndim == 2 and array.dtype.kind in "iufb" and np.isin(array, (0, 1)).all():
        if (array.sum(1) == 1).all():
            return array.argmax(1).astype(np.int64), array.shape[1]
        return array.astype(np.uint8), array.shape[1]
    raise HashvizError(f"{what} must be integer (n,) labels or 0/1 one-hot/multi-hot (n, C), "
                       f"got {array.dtype} {array.shape}")


def _check_agree(array_labels: np.ndarray, listed: ImageList, what: str) -> None:
    """Label arrays and a list file's label vectors must say the same; else name the first line."""
    if len(array_labels) != len(listed.labels):
        raise HashvizError(f"{what} has {len(array_labels)} rows but {listed.file} has {len(listed.labels)} lines")
    width = listed.labels.shape[1]
    if array_labels.ndim == 1:
        if array_labels.max() >= width:
            raise HashvizError(f"{what} holds class {array_labels.max()} but {listed.file} has {width} label columns")
        as_hot = np.eye(width, dtype=listed.labels.dtype)[array_labels]
    else:
        as_hot = array_labels
    if as_hot.shape != listed.labels.shape:
        raise HashvizError(f"{what} has {as_hot.shape[1]} classes but {listed.file} has {width} label columns")
    differ = np.flatnonzero((as_hot != listed.labels).any(1))
    if differ.size:
        row = int(differ[0])
        raise HashvizError(f"{listed.file}, line {row + 1}: labels {' '.join(map(str, listed.labels[row]))} "
                           f"disagree with row {row} of {what} ({differ.size} rows disagree)")


def _check_label_widths(found: dict[str, tuple[np.ndarray, int | None, str]]) -> None:
    """Both sides' labels must speak of the same classes: equal column counts, and class ids of a
    single-label side below the other side's columns."""
    (db, db_width, db_name), (q, q_width, q_name) = found["database"], found["query"]
    if db_width is not None and q_width is not None and db_width != q_width:
        raise HashvizError(f"the database labels ({db_name}) have {db_width} columns, the query labels "
                           f"({q_name}) {q_width}: they must name the same classes")
    for (ids, name), (hot, width, other) in (((db, db_name), found["query"]), ((q, q_name), found["database"])):
        if ids.ndim == 1 and hot.ndim == 2 and ids.max() >= width:
            raise HashvizError(f"{name} holds class {int(ids.max())} but {other} has {width} label columns")


def _codes(path: Path, what: str) -> tuple[np.ndarray, int]:
    """(packed uint8 codes, bits as exported): a length that is not a whole number of bytes
    (DPSH's 12 bits) is padded with constant 0 bits, which leave every Hamming distance unchanged."""
    array = _npy(path, what)
    if array.ndim == 2 and array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))
        raise HashvizError(f"{what} ({path.name}) hold {len(bad):,} NaN or infinite value(s), the first at row "
                           f"{bad[0][0]}, bit {bad[0][1]}; codes must be -1/+1 or 0/1")
    bits = array.shape[1] if array.ndim == 2 else 0
    if bits > MAX_BITS:
        raise HashvizError(f"{what} ({path.name}) have {bits} bits; hashviz takes codes of at most {MAX_BITS} "
                           f"bits (as training does)")
    if bits % 8:
        array = np.concatenate([array, np.zeros((len(array), 8 - bits % 8), dtype=array.dtype)], axis=1)
    return pack_any(array), bits


def _npy(path, what: str) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        state = "is a folder, not a .npy file" if path.is_dir() else "is not a regular file" if path.exists() else "does not exist"
        raise HashvizError(f"{what}: {path} {state}")
    return _load_npy(path)


# ---------------------------------------------------------------- the import

def import_codes(database_codes=None, database_labels=None, query_codes=None, query_labels=None,
                 out: Path = None, *, deephash_dir=None, database_list=None, query_list=None,
                 image_root=None, class_names=None, method: str = "imported",
                 family: str = "imported", warn: Callable[[str], None] | None = None) -> Path:
    """Write a codes-only model directory from exported arrays (explicit files win over those found
    in `deephash_dir`) and, optionally, the list files naming each row's image and labels. The list
    files are checked first (hashviz.list_checks): what would make the import wrong raises
    ListProblems; the rest, and any padding of the codes, is said through `warn` (one line a call)."""
    say = warn or (lambda line: None)
    files = find_deephash_arrays(deephash_dir) if deephash_dir else {}
    given = {"database_codes": database_codes, "database_labels": database_labels,
             "query_codes": query_codes, "query_labels": query_labels}
    files.update({k: Path(v) for k, v in given.items() if v is not None})
    if (database_list is None) != (query_list is None):
        raise HashvizError("--database-list and --query-list come together")
    lists = {}
    if database_list is not None:
        report = check_lists([database_list, query_list], image_root, class_names)
        if report.refusing:
            raise ListProblems(report)
        if report.has_problems or report.notes:
            for line in report.summary():
                say(line)
        lists = dict(zip(("database", "query"), report.lists))
    arrays, exported_bits, found = {}, {}, {}
    for part in ("database", "query"):
        key = f"{part}_codes"
        if key not in files:
            raise HashvizError(f"no {part} codes: give --{part}-codes or --deephash-dir")
        arrays[part], exported_bits[part] = _codes(files[key], f"{part} codes")
        listed = lists.get(part)
        if listed is not None and len(listed.paths) != len(arrays[part]):
            raise HashvizError(f"{listed.file} has {len(listed.paths)} lines but the {part} codes "
                               f"({files[key].name}) have {len(arrays[part])} rows")
        if f"{part}_labels" in files:
            name = files[f"{part}_labels"].name
            labels, width = _labels(_npy(files[f"{part}_labels"], f"{part} labels"), name)
            if listed is not None:
                _check_agree(labels, listed, name)
        elif listed is not None:
            name = listed.file.name
            labels, width = _labels(listed.labels, name)
        else:
            raise HashvizError(f"no {part} labels: give --{part}-labels, --deephash-dir or the list files")
        if len(labels) != len(arrays[part]):
            raise HashvizError(f"{part} labels have {len(labels)} rows, the {part} codes {len(arrays[part])}")
        check_labels(labels, name)      # no class count from a stray label
        arrays[f"{part}_labels"], found[part] = labels, (labels, width, name)
    if exported_bits["query"] != exported_bits["database"]:
        raise HashvizError(f"query codes have {exported_bits['query']} bits, database codes {exported_bits['database']}")
    _check_label_widths(found)
    bits = arrays["database"].shape[1] * 8
    if bits != exported_bits["database"]:
        say(f"note: {exported_bits['database']}-bit codes padded with {bits - exported_bits['database']} constant "
            f"bits to {bits} (whole bytes); Hamming distances, rankings and mAP are unchanged")
    if arrays["database_labels"].ndim != arrays["query_labels"].ndim:       # one-hot vs multi-hot sides
        arrays = {**arrays, **{k: _as_multi_hot(arrays[k], arrays) for k in ("database_labels", "query_labels")}}
    db_labels = arrays["database_labels"]
    num_classes = int(max(db_labels.max(), arrays["query_labels"].max()) + 1) if db_labels.ndim == 1 \
        else int(db_labels.shape[1])
    metrics, arrays["query_ap"] = evaluate(arrays["query"], arrays["database"], arrays["query_labels"], db_labels,
                                           per_query=True)     # stored: the failure finder reads it
    relevance = "same label" if db_labels.ndim == 1 else "relevant = shares at least one label"
    metrics["protocol"] = (f"imported codes: {len(arrays['query'])} queries against "
                           f"{len(arrays['database'])} database items ({relevance})")
    config = {"method": method, "family": family, "paper": "", "bits": bits, "code_type": "binary",
              "dataset": "imported", "protocol": "imported", "source": "imported",
              "metrics": metrics, "num_classes": num_classes}
    if bits != exported_bits["database"]:
        config["exported_bits"] = exported_bits["database"]
    if claim := _save_claim(files["database_codes"]):   # the protocol card shows it beside our mAP
        config["deephash_save"] = claim
    if class_names is not None:
        config["class_names"] = read_class_names(class_names, num_classes)
    if lists:
        root = Path(os.path.abspath(image_root or lists["database"].root))
        paths = _relative_to(root, lists["database"]) + _relative_to(root, lists["query"])
        n_db = len(arrays["database"])
        arrays["database_ids"] = np.arange(n_db, dtype=np.int64)
        arrays["query_ids"] = np.arange(n_db, n_db + len(arrays["query"]), dtype=np.int64)
        blob, ends = encode_paths(paths)
        arrays[Path(PATHS_FILE).stem], arrays[Path(PATH_ENDS_FILE).stem] = blob, ends
        config["images"] = {"root": str(root), "paths": PATHS_FILE, "path_ends": PATH_ENDS_FILE,
                            "digest": paths_digest(root, blob, ends), "database_list": str(lists["database"].file),
                            "query_list": str(lists["query"].file)}
        trust_root(root)        # the operator's own import: the app may show these images
    return save_model_dir(Path(out), config, arrays)


def _as_multi_hot(labels: np.ndarray, arrays: dict) -> np.ndarray:
    """int (n,) -> one-hot uint8 (n, C) with C the other side's class count (mixed one-/multi-hot;
    _check_label_widths made sure every id is below C)."""
    if labels.ndim == 2:
        return labels
    width = max(a.shape[1] for k, a in arrays.items() if k.endswith("_labels") and a.ndim == 2)
    return np.eye(width, dtype=np.uint8)[labels]
