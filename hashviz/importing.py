"""Turn codes exported by other tools into a codes-only model directory, optionally with the list
files that name their images.

Codes: any {-1,+1} / {0,1} matrix (n, bits). DeepHash-pytorch saves `torch.sign(outputs)` as
float32, so an output of exactly 0 gives a 0 among the ±1; such entries are taken as -1 (bit 0).
Labels: integer (n,) or one-/multi-hot 0/1 (n, C).

DeepHash-pytorch save folders (`--deephash-dir`): `<dataset>-<bits>-<mAP>-trn_binary.npy`,
`-trn_label.npy`, `-tst_binary.npy`, `-tst_label.npy` (trn = database, tst = queries), or the older
`<dataset><mAP>-database_binary.npy`, `-database_label.npy`, `-test_binary.npy`, `-test_label.npy`.
The set with the highest mAP in its name wins. Its `.pt` weights are never opened.

List files (`--database-list`, `--query-list`): DeepHash-pytorch's format, one line per row in the
order of the codes: `<image path> <0/1> <0/1> ...` (the label vector). A relative path is taken
relative to `--image-root`, else to the list's folder. The model directory stores that root and
the relative paths (codes/image_paths.npy); it never copies an image.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hashviz.codes import pack_any
from hashviz.data.trusted_roots import trust_root
from hashviz.data.images import PATHS_FILE, encode_paths, paths_digest
from hashviz.errors import HashvizError
from hashviz.metrics import evaluate
from hashviz.model_checks import check_labels
from hashviz.zoo import _load_npy, save_model_dir

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


# ---------------------------------------------------------------- list files

@dataclass
class ImageList:
    """A parsed list file: paths (str, relative to `root` or absolute) and uint8 labels (n, C)."""

    file: Path
    root: Path
    paths: list[str]
    labels: np.ndarray


def read_image_list(file, image_root=None) -> ImageList:
    """Parse a DeepHash-pytorch list file; a bad line is refused naming the file and line."""
    file = Path(file)
    root = Path(image_root) if image_root else file.parent
    try:
        with open(file, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise HashvizError(f"cannot read list file {file}: {exc}") from None
    paths, bits, width = [], [], None
    for number, line in enumerate(lines, 1):
        parts = line.split()
        if not parts and number == len(lines) and paths:
            continue
        joined = "".join(parts[1:])
        if width is None:
            width = len(parts) - 1
        if width < 1 or len(parts) != width + 1 or len(joined) != width:
            _bad_line(file, number, line, width)
        paths.append(parts[0])
        bits.append(joined)
    if not paths:
        raise HashvizError(f"list file {file} is empty")
    flat = np.frombuffer("".join(bits).encode("utf-8", "replace"), dtype=np.uint8)
    if flat.size != len(paths) * width or ((flat != 48) & (flat != 49)).any():     # "0" / "1": checked at once
        bad = np.flatnonzero((flat != 48) & (flat != 49))
        row = int(bad[0]) // width if bad.size else 0
        _bad_line(file, row + 1, lines[row], width)
    labels = (flat - ord("0")).reshape(len(paths), width)
    return ImageList(file, root, paths, labels)


def _bad_line(file: Path, number: int, line: str, width: int | None):
    raise HashvizError(f"{file}, line {number}: expected '<image path>' and {width or 'some'} "
                       f"0/1 labels, got {line[:120]!r}")


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

def _labels(array: np.ndarray, what: str) -> np.ndarray:
    """int (n,) stays; one-hot (n, C) becomes int (n,); multi-hot stays (n, C) uint8."""
    if array.ndim == 1 and array.dtype.kind in "iu":
        return array.astype(np.int64)
    if array.ndim == 2 and array.dtype.kind in "iufb" and np.isin(array, (0, 1)).all():
        if (array.sum(1) == 1).all():
            return array.argmax(1).astype(np.int64)
        return array.astype(np.uint8)
    raise HashvizError(f"{what} must be integer (n,) labels or 0/1 one-hot/multi-hot (n, C), "
                       f"got {array.dtype} {array.shape}")


def _check_agree(array_labels: np.ndarray, listed: ImageList, what: str) -> None:
    """Label arrays and a list file's label vectors must say the same; else name the first line."""
    if array_labels.ndim == 1:
        if array_labels.max() >= listed.labels.shape[1]:
            raise HashvizError(f"{what} holds class {array_labels.max()} but {listed.file} has "
                               f"{listed.labels.shape[1]} label columns")
        as_hot = np.zeros_like(listed.labels)
        as_hot[np.arange(len(array_labels)), array_labels] = 1
    else:
        as_hot = array_labels
    if as_hot.shape != listed.labels.shape:
        raise HashvizError(f"{what} has {as_hot.shape[1]} classes but {listed.file} has "
                           f"{listed.labels.shape[1]} label columns")
    differ = np.flatnonzero((as_hot != listed.labels).any(1))
    if differ.size:
        row = int(differ[0])
        raise HashvizError(f"{listed.file}, line {row + 1}: labels {' '.join(map(str, listed.labels[row]))} "
                           f"disagree with row {row} of {what} ({differ.size} rows disagree)")


def _class_names(file, count: int) -> list[str]:
    try:
        names = [line.strip() for line in Path(file).read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise HashvizError(f"cannot read class names {file}: {exc}") from None
    if len(names) != count:
        raise HashvizError(f"{file} names {len(names)} classes; the labels have {count}")
    return names


# ---------------------------------------------------------------- the import

def _npy(path, what: str) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        state = "is a folder, not a .npy file" if path.is_dir() else "is not a regular file" if path.exists() else "does not exist"
        raise HashvizError(f"{what}: {path} {state}")
    return _load_npy(path)


def import_codes(database_codes=None, database_labels=None, query_codes=None, query_labels=None,
                 out: Path = None, *, deephash_dir=None, database_list=None, query_list=None,
                 image_root=None, class_names=None, method: str = "imported",
                 family: str = "imported") -> Path:
    """Write a codes-only model directory from exported arrays (explicit files win over those found
    in `deephash_dir`) and, optionally, the list files naming each row's image and labels."""
    files = find_deephash_arrays(deephash_dir) if deephash_dir else {}
    given = {"database_codes": database_codes, "database_labels": database_labels,
             "query_codes": query_codes, "query_labels": query_labels}
    files.update({k: Path(v) for k, v in given.items() if v is not None})
    if (database_list is None) != (query_list is None):
        raise HashvizError("--database-list and --query-list come together")
    lists = {}
    if database_list is not None:
        lists = {"database": read_image_list(database_list, image_root),
                 "query": read_image_list(query_list, image_root)}
    arrays = {}
    for part in ("database", "query"):
        key = f"{part}_codes"
        if key not in files:
            raise HashvizError(f"no {part} codes: give --{part}-codes or --deephash-dir")
        arrays[part] = pack_any(_npy(files[key], f"{part} codes"))
        listed = lists.get(part)
        if listed is not None and len(listed.paths) != len(arrays[part]):
            raise HashvizError(f"{listed.file} has {len(listed.paths)} lines but the {part} codes "
                               f"({files[key].name}) have {len(arrays[part])} rows")
        if f"{part}_labels" in files:
            labels = _labels(_npy(files[f"{part}_labels"], f"{part} labels"), files[f"{part}_labels"].name)
            if listed is not None:
                _check_agree(labels, listed, files[f"{part}_labels"].name)
        elif listed is not None:
            labels = _labels(listed.labels, listed.file.name)
        else:
            raise HashvizError(f"no {part} labels: give --{part}-labels, --deephash-dir or the list files")
        if len(labels) != len(arrays[part]):
            raise HashvizError(f"{part} labels have {len(labels)} rows, the {part} codes {len(arrays[part])}")
        check_labels(labels, (files.get(f"{part}_labels") or listed.file).name)   # no class count from a stray label
        arrays[f"{part}_labels"] = labels
    bits = arrays["database"].shape[1] * 8
    if arrays["query"].shape[1] * 8 != bits:
        raise HashvizError(f"query codes have {arrays['query'].shape[1] * 8} bits, database codes {bits}")
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
    if class_names is not None:
        config["class_names"] = _class_names(class_names, num_classes)
    if lists:
        root = Path(os.path.abspath(image_root or lists["database"].root))
        paths = _relative_to(root, lists["database"]) + _relative_to(root, lists["query"])
        n_db = len(arrays["database"])
        arrays["database_ids"] = np.arange(n_db, dtype=np.int64)
        arrays["query_ids"] = np.arange(n_db, n_db + len(arrays["query"]), dtype=np.int64)
        arrays[Path(PATHS_FILE).stem] = encoded = encode_paths(paths)
        config["images"] = {"root": str(root), "paths": PATHS_FILE, "digest": paths_digest(root, encoded), "database_list": str(lists["database"].file),
                            "query_list": str(lists["query"].file)}
        trust_root(root)        # the operator's own import: the app may show these images
    return save_model_dir(Path(out), config, arrays)


def _as_multi_hot(labels: np.ndarray, arrays: dict) -> np.ndarray:
    """int (n,) -> one-hot uint8 (n, C) with C the other side's class count (mixed one-/multi-hot)."""
    if labels.ndim == 2:
        return labels
    width = max(a.shape[1] for k, a in arrays.items() if k.endswith("_labels") and a.ndim == 2)
    return np.eye(width, dtype=np.uint8)[labels]
