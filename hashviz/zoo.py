"""Model directories: the contract between training and the app.

    <dir>/config.json          method, family, paper, bits, code_type, dataset, protocol, seed,
                               hyper-parameters, backbone, train_seconds, history, metrics, versions
    <dir>/weights.safetensors  network (+ loss-owned parameters) or shallow projection weights
    <dir>/codes/database.npy, codes/query.npy                 uint8 (n, bits/8) (pq: (n, M) indices)
    <dir>/codes/database_labels.npy, codes/query_labels.npy   int64 (n,) or multi-hot (n, C)
    <dir>/codes/database_ids.npy, codes/query_ids.npy         dataset image indices (absent for
                                                              imported codes)
    <dir>/codes/outputs_sample.npy, outputs_sample_rows.npy   a sample of continuous outputs u
                                                              (float16) and their database rows
    <dir>/codes/query_ap.npy                                  each query's AP@all (imports store it:
                                                              a million-item failure finder reads it)
    <dir>/codes/query_vectors.npy, codes/codebooks.npy        pq models only: query embeddings
                                                              (n_q, M*d_sub) and codebooks (M, K, d_sub)

Saving is atomic (write a hidden temporary directory, then rename), so a killed run leaves no
half model that looks valid. Loading validates the config and the codes and reads only the
weights' header (their conformance to the method is checked when an encoder is loaded:
hashviz.encoders); HashvizError says what is wrong. Nothing is unpickled: JSON, safetensors and
np.load(allow_pickle=False) only.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hashviz.encoders import WEIGHTS, read_weights_header
from hashviz.errors import HashvizError
from hashviz.model_checks import (CODE_FILES, check_arrays, check_config, check_headers,  # noqa: F401
                                  check_ids_within)   # check_ids_within: for pages

CONFIG = "config.json"
OPTIONAL_CODE_FILES = ("database_ids", "query_ids", "outputs_sample", "outputs_sample_rows",
                       "query_vectors", "codebooks", "query_ap")
PICKLE_SUFFIXES = {".pt", ".pt2", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib"}   # .pt2: torch.export.save pickles its weights


@dataclass(eq=False)
class ModelDir:
    """A validated model directory with its codes loaded (they are small: bytes per image)."""

    path: Path
    config: dict
    arrays: dict = field(repr=False)

    name = property(lambda self: self.path.name)
    method = property(lambda self: self.config["method"])
    family = property(lambda self: self.config["family"])
    bits = property(lambda self: self.config["bits"])
    code_type = property(lambda self: self.config["code_type"])
    dataset = property(lambda self: self.config["dataset"])
    protocol = property(lambda self: self.config["protocol"])
    database_codes = property(lambda self: self.arrays["database"])
    query_codes = property(lambda self: self.arrays["query"])
    database_labels = property(lambda self: self.arrays["database_labels"])
    query_labels = property(lambda self: self.arrays["query_labels"])
    database_ids = property(lambda self: self.arrays.get("database_ids"))
    query_ids = property(lambda self: self.arrays.get("query_ids"))
    outputs_sample = property(lambda self: self.arrays.get("outputs_sample"))
    outputs_sample_rows = property(lambda self: self.arrays.get("outputs_sample_rows"))
    query_vectors = property(lambda self: self.arrays.get("query_vectors"))
    codebooks = property(lambda self: self.arrays.get("codebooks"))

    @property
    def has_weights(self) -> bool:
        return (self.path / WEIGHTS).is_file()

    @property
    def has_images(self) -> bool:
        """Whether rows map to dataset images (imported codes carry no images)."""
        return self.database_ids is not None and self.query_ids is not None

    @property
    def metrics(self) -> dict:
        return self.config.get("metrics") or {}

    @property
    def label(self) -> str:
        """Short human label: 'csq · 32 bits · mAP 0.852'."""
        value = self.metrics.get("map_all")
        score = f" · mAP {value:.3f}" if isinstance(value, (int, float)) else ""
        return f"{self.name} ({self.method}, {self.bits} bits{score})"

    @property
    def content_key(self) -> str:
        """Changes whenever the directory is rewritten (cache key for derived data)."""
        return content_key(self.path)


def content_key(path: Path) -> str:
    """The stat fingerprint of a model directory's config and codes (OSError if one is missing)."""
    stats = [(path / CONFIG).stat()] + [(path / "codes" / f"{n}.npy").stat() for n in CODE_FILES]
    return f"{path.resolve()}:" + ":".join(f"{s.st_mtime_ns}-{s.st_size}" for s in stats)


def class_names_of(model: ModelDir, dataset=None) -> list[str]:
    """The model's class names: its config's, else the dataset's, else '0', '1', ... (the one rule for
    every page; names that do not cover every label are not used)."""
    labels = model.database_labels
    count = labels.shape[1] if labels.ndim == 2 else int(max(labels.max(), model.query_labels.max())) + 1
    for names in (model.config.get("class_names"), dataset.class_names if dataset is not None else None):
        if names is not None and len(names) >= count:
            return [str(n) for n in names]
    return [str(i) for i in range(count)]


# ---------------------------------------------------------------- saving

def save_model_dir(out: Path, config: dict, arrays: dict[str, np.ndarray],
                   weights: dict | None = None, overwrite: bool = False) -> Path:
    """Write a model directory atomically; returns its path. Validates what it writes first."""
    out = Path(out)
    check_config(config, source="config to save")
    check_arrays(config, arrays)
    check_can_write(out, overwrite)
    with interrupts_deferred():
        return _save(out, config, arrays, weights)


def _save(out: Path, config: dict, arrays: dict, weights: dict | None) -> Path:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(out.parent, out.name)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{out.name}-", dir=out.parent))
        os.chmod(tmp, 0o777 & ~_umask())    # mkdtemp's 0700 hid models from a server run as another user
    except OSError as exc:
        raise HashvizError(f"cannot write to {out.parent}: {exc.strerror or exc}") from None
    try:
        (tmp / "codes").mkdir()
        for name, array in arrays.items():
            np.save(tmp / "codes" / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        if weights:
            from safetensors.numpy import save_file
            save_file({k: np.array(v, order="C", copy=True) for k, v in weights.items()}, str(tmp / WEIGHTS))
        (tmp / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True, default=_json_default))
        for file in (tmp / "codes", *tmp.rglob("*")):
            os.chmod(file, (0o777 if file.is_dir() else 0o666) & ~_umask())   # safetensors writes 0600
        _fsync_tree(tmp)
        _replace_dir(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise HashvizError(f"could not save model to {out}: {exc.strerror or exc} "
                           "(nothing was written)") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


@contextlib.contextmanager
def interrupts_deferred():
    """Hold a Ctrl-C that arrives during a save until the save (or its cleanup) is over, then raise
    it, so a second Ctrl-C cannot break the cleanup and leave a .tmp-* folder behind.
    Only the main thread receives signals; elsewhere (the Train page's worker) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(1))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(signal.SIGINT, None)       # the default handler raises KeyboardInterrupt
        elif caught and previous == signal.SIG_DFL:
            raise KeyboardInterrupt


MODEL_ENTRIES = {CONFIG, WEIGHTS, "codes"}


def check_can_write(out: Path, overwrite: bool) -> None:
    """A new model may go to `out` when nothing is there, or with overwrite when `out` is a model
    directory (config.json and only a model's files) or an empty folder: overwrite must never
    delete a models root, a notes file or anything else --out names by mistake."""
    out = Path(out)
    if not (out.exists() or out.is_symlink()):
        return
    if not overwrite:
        raise HashvizError(f"{out} already exists; choose another --out or remove it first")
    if out.is_symlink() or not out.is_dir():
        raise HashvizError(f"{out} is not a model directory (a {'link' if out.is_symlink() else 'file'}); "
                           "--overwrite replaces only a model directory: choose another --out")
    names = {p.name for p in out.iterdir()}
    if names and (CONFIG not in names or names - MODEL_ENTRIES):
        found = sorted(names - MODEL_ENTRIES)[:3] or ["no config.json"]
        raise HashvizError(f"{out} is not a model directory (it holds {', '.join(found)}); --overwrite "
                           "replaces only a model directory: choose another --out")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


STALE_TMP_SECONDS = 3600


def _remove_stale_temporaries(parent: Path, name: str) -> None:
    """Remove the .tmp-<name>-XXXXXXXX directories (tempfile.mkdtemp's names) that killed saves of
    <name> left in parent more than an hour ago; a live save finishes its directory in seconds.
    discover() ignores them anyway; nothing else is touched."""
    pattern = re.compile(rf"\.tmp-{re.escape(name)}-[a-z0-9_]{{8}}")
    try:
        entries = [p for p in parent.iterdir() if pattern.fullmatch(p.name)]
    except OSError:
        return
    for path in entries:
        try:
            if path.is_dir() and not path.is_symlink() and time.time() - path.stat().st_mtime > STALE_TMP_SECONDS:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _fsync_tree(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())


def _replace_dir(tmp: Path, out: Path) -> None:
    """Rename tmp onto out; an existing out is moved aside first and removed after."""
    old = None
    if out.exists():
        old = out.with_name(f".old-{out.name}-{uuid.uuid4().hex[:8]}")
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------- loading and validation

MAX_CONFIG_BYTES = 16 * 2**20   # a real config.json (history, PR curve) is tens of KB


def read_config(path: Path) -> dict:
    file = Path(path) / CONFIG
    if not file.is_file():
        raise HashvizError(f"{path}: config.json is missing")
    try:
        if file.stat().st_size > MAX_CONFIG_BYTES:
            raise HashvizError(f"{path}: config.json is larger than {MAX_CONFIG_BYTES // 2**20} MB; "
                               "a model's config is a few KB")
        config = json.loads(file.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HashvizError(f"{path}: config.json is not valid JSON ({exc})") from None
    except RecursionError:   # json recurses once per nesting level: [[[[... 100,000 deep
        raise HashvizError(f"{path}: config.json nests too deeply to be a model config") from None
    except OSError as exc:
        raise HashvizError(f"{path}: config.json cannot be read ({exc.strerror or exc})") from None
    return check_config(config, source=f"{path.name}/config.json")


def _npy_header(f, path: Path) -> tuple[tuple, np.dtype]:
    """Shape and dtype from a .npy header, checked against the file's size before any data is
    read: a header may claim (10**12, 2) in a file of a few bytes."""
    if f.read(6) != b"\x93NUMPY":   # np.load takes any non-.npy file for a pickle: say what it is
        raise HashvizError(f"{path.name} is not a valid .npy file (no NumPy header)")
    f.seek(0)
    version = np.lib.format.read_magic(f)
    reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in reader:
        raise HashvizError(f"{path.name} is a .npy file of unsupported version {version}")
    shape, _fortran, dtype = reader[version](f, max_header_size=10_000)
    if dtype.hasobject:
        raise HashvizError(f"{path.name} holds Python objects (pickled); refusing to load it")
    claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    held = os.fstat(f.fileno()).st_size - f.tell()
    if claimed != held:
        raise HashvizError(f"{path.name} is damaged: its header claims shape {shape} of {dtype} "
                           f"({claimed:,} bytes) but the file holds {held:,} bytes of data")
    return shape, dtype


def _load_npy(path: Path, header_only: bool = False):
    """The array of a .npy file (header_only: its (shape, dtype), nothing else read)."""
    try:
        with open(path, "rb") as f:
            header = _npy_header(f, path)
            if header_only:
                return header
            f.seek(0)
            return np.load(f, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise HashvizError(f"{path.name} holds Python objects (pickled); refusing to load it") from None
        raise HashvizError(f"{path.name} is not a valid .npy file ({exc})") from None
    except (OSError, EOFError, SyntaxError) as exc:
        raise HashvizError(f"{path.name} cannot be read ({exc})") from None


def load_model_dir(path, root: Path | None = None) -> ModelDir:
    """Load and validate a model directory; HashvizError says what is wrong."""
    path = Path(path)
    try:
        if path.is_symlink():
            path.resolve(strict=True)
    except (RuntimeError, OSError):   # RuntimeError: a loop (Python < 3.13); OSError: dangling, ELOOP
        raise HashvizError(f"{path.name} is a symbolic link that loops or points nowhere; refused") from None
    if root is not None and not _inside(path, root):
        raise HashvizError(f"{path.name} is a link that points outside the models root; refused")
    if not path.is_dir():
        raise HashvizError(f"{path} is not a model directory")
    pickles = sorted(p.name for p in _model_files(path) if p.suffix.lower() in PICKLE_SUFFIXES)
    if pickles:
        raise HashvizError(f"{path.name} contains {', '.join(pickles)}: pickle-format files are "
                           "never loaded by hashviz (they can run code); remove them")
    config = read_config(path)
    config.setdefault("paper", "")
    files = {name: path / "codes" / f"{name}.npy" for name in CODE_FILES + OPTIONAL_CODE_FILES}
    files = {name: file for name, file in files.items() if file.is_file()}
    try:   # headers first: a sparse 4 GB file of the wrong width is refused before it is read
        check_headers(config, {name: _load_npy(file, header_only=True) for name, file in files.items()})
        arrays = {name: _load_npy(file) for name, file in files.items()}
        check_arrays(config, arrays)
    except HashvizError as exc:
        raise HashvizError(f"{path.name}: {exc}") from None
    if (path / WEIGHTS).is_file():   # the header only: conformance to the method is load_encoder's
        read_weights_header(path)
    elif config.get("source") != "imported":
        raise HashvizError(f"{path.name}: weights.safetensors is missing")
    for array in arrays.values():
        array.setflags(write=False)
    return ModelDir(path, config, arrays)


def _inside(path: Path, root: Path) -> bool:
    try:
        Path(path).resolve().relative_to(Path(root).resolve())
        return True
    except ValueError:
        return False


def _model_files(path: Path) -> list[Path]:
    """The two levels a model directory has (its files and codes/): never a walk of the tree below,
    which for a mistaken path such as / would be the whole filesystem."""
    found = []
    for folder in (path, path / "codes"):
        try:
            found += list(itertools.islice(folder.iterdir(), MAX_ROOT_ENTRIES))
        except OSError:
            continue
    return found


MAX_ROOT_ENTRIES = 2000   # entries of a models root (or of one model dir level) looked at


def looks_like_model(path: Path) -> bool:
    """What discover() reports on: a folder holding any of a model's files, or a link (checked
    for where it points). Other folders of the root (data, notes, /usr) are left alone."""
    try:
        return path.is_symlink() or (path.is_dir() and any((path / n).exists() for n in (CONFIG, WEIGHTS, "codes")))
    except OSError:
        return True


def discover(models_root, reuse: dict[str, ModelDir] | None = None) -> tuple[list[ModelDir], list[tuple[Path, str]]]:
    """Valid model directories under models_root (sorted by name) and invalid ones with a reason;
    one level deep, at most MAX_ROOT_ENTRIES entries, folders that are no model at all skipped.
    reuse: models of an earlier discovery, by name, known to be unchanged (same `content_key`):
    taken as they are, not read again, so a listing kept across changes of the root holds one
    copy of each model's arrays. HashvizError when the root cannot be listed."""
    root = Path(models_root)
    if not root.is_dir():
        return [], []
    valid, invalid = [], []
    for path in sorted(root_entries(root)):
        if path.name.startswith(".") or not looks_like_model(path):
            continue
        try:
            known = (reuse or {}).get(path.name)
            valid.append(known if known is not None and known.path == path else load_model_dir(path, root=root))
        except HashvizError as exc:
            invalid.append((path, str(exc)))
        except Exception as exc:   # noqa: BLE001 - one bad entry must never hide the others
            invalid.append((path, f"{path.name} cannot be read ({type(exc).__name__}: {exc})"[:500]))
    return valid, invalid


def root_entries(root: Path) -> list[Path]:
    """The first MAX_ROOT_ENTRIES entries of a models root (HashvizError if it cannot be listed)."""
    try:
        return list(itertools.islice(root.iterdir(), MAX_ROOT_ENTRIES))
    except OSError as exc:   # e.g. a root the server's user may not read
        raise HashvizError(f"cannot read the models root {root}: {exc.strerror or exc}") from None


def root_signature(models_root) -> tuple:
    """Cheap fingerprint of a models root: changes when a model dir is added, removed or rewritten.
    HashvizError when the root cannot be listed."""
    root = Path(models_root)
    if not root.is_dir():
        return ()
    entries = []
    for path in sorted(root_entries(root)):
        if path.name.startswith("."):
            continue
        config = path / CONFIG
        try:
            stat = config.stat()
            entries.append((path.name, stat.st_mtime_ns, stat.st_size))
        except OSError:
            entries.append((path.name, 0, 0))
    return tuple(entries)
