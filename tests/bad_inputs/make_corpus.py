"""Write the bad-input corpus: broken model directories, hostile uploads, damaged datasets.

    python tests/bad_inputs/make_corpus.py OUTDIR [--source MODELS_ROOT]

MODELS_ROOT must hold the tiny digits models dpsh-16 and dpq-16 (tests/conftest.py's tiny zoo);
without --source the two are trained first (a minute or so). Every case starts from a copy of a
real model and breaks one thing, so each case tests exactly one check. The output is
deterministic for a given OUTDIR and source: no clock, no unseeded randomness (the pickle payloads
name a marker file inside OUTDIR, so that path is part of the content).

Layout of OUTDIR (tests/test_bad_inputs.py reads CASES from this module):

    models/            a models root: valid-dpsh-16 (a valid control) + one directory per model case
                       + link-outside, a symlink to ../outside/dpsh-16
    outside/dpsh-16    a valid model outside the models root
    uploads/           one file per upload case
    data/<case>/       a $HASHVIZ_DATA (or image folder) per data case
    search/            query arrays of the search cases
    train/             what the training cases need (not-a-dir: a regular file used as a parent)
    cases.json         the manifest: id, kind, path, what is expected

Nothing here is ever unpickled: the pickle payloads are written with pickle.dumps only.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import pickle
import shutil
import struct
import sys
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

MARKER = "PWNED-pickle-payload-ran"      # created by the payloads if anything ever unpickles them
VALID = "valid-dpsh-16"


@dataclass(frozen=True)
class Case:
    """One bad input. kind: model, model-loads (a model dir that loads: what is wrong shows only
    where it is used, e.g. ids beyond its dataset), encoder (a model dir that discovery lists, as it
    reads only the weights' header, whose weights are refused when its encoder is first loaded),
    import (files for import-codes), train-arg (`hashviz train` arguments), zoo-cmd (`hashviz zoo`
    commands), upload, data, search or train. expect: a regex that the
    hashviz message must match (for accepted uploads: a regex of the notes saying what was done).
    outcome: 'error' (refused with a HashvizError) or 'handled' (accepted and converted, or
    clipped, with no error)."""

    id: str
    kind: str
    expect: str
    what: str
    outcome: str = "error"
    extra: dict = field(default_factory=dict)


CASES = [
    # ---------------------------------------------------------------- model directories
    Case("config-missing", "model", r"config\.json is missing", "config.json deleted"),
    Case("config-not-json", "model", r"config\.json is not valid JSON", "config.json is not JSON"),
    Case("config-not-object", "model", r"must hold a JSON object", "config.json is a JSON list"),
    Case("config-missing-key", "model", r"lacks the key 'method'", "config.json has no 'method'"),
    Case("config-wrong-type", "model", r"'bits' must be int, got str", "bits is the string \"16\""),
    Case("config-unknown-method", "encoder", r"unknown method 'nosuchhash'", "method is not registered"),
    Case("config-bits-not-multiple-of-8", "model", r"bits must be a positive multiple of 8, got 12",
         "bits 12"),
    Case("config-bits-vs-codes", "model", r"2 bytes per code; 32 bits need 4",
         "config says 32 bits, codes are 16-bit"),
    Case("config-bits-vs-weights", "encoder", r"tensor net\.head\.weight has shape \(16, 256\), 32 bits need",
         "config and codes say 32 bits, weights are a 16-bit network"),
    Case("config-huge-network", "encoder", r"weights do not match|has shape",
         "config asks for a network of width 40000 (tens of GB if it were built)"),
    Case("weights-missing", "model", r"weights\.safetensors is missing", "weights file deleted"),
    Case("weights-truncated", "model", r"weights\.safetensors is unreadable or truncated",
         "weights file cut in half"),
    Case("weights-renamed-tensor", "encoder", r"weights do not match .*missing \['net\.head\.weight'\]",
         "tensor net.head.weight renamed"),
    Case("weights-reshaped-tensor", "encoder", r"tensor net\.head\.weight has shape \(32, 128\)",
         "tensor net.head.weight reshaped"),
    Case("weights-nan", "encoder", r"tensor net\.head\.weight holds NaN", "a NaN in net.head.weight"),
    Case("weights-is-a-pickle", "model", r"weights\.safetensors is unreadable",
         "weights.safetensors holds a code-running pickle"),
    Case("codes-missing", "model", r"codes/query\.npy is missing", "codes/query.npy deleted"),
    Case("codes-not-npy", "model", r"database\.npy is not a valid \.npy file \(no NumPy header\)",
         "codes/database.npy is text, not .npy"),
    Case("codes-wrong-dtype", "model", r"database\.npy must be uint8 .*int64", "database codes int64"),
    Case("codes-wrong-shape", "model", r"database\.npy must be uint8 .*\(\d+,\)", "database codes 1-D"),
    Case("codes-wrong-width", "model", r"database\.npy has 3 bytes per code; 16 bits need 2",
         "database codes 3 bytes wide"),
    Case("codes-wrong-count", "model", r"query_labels\.npy has 100 labels for 95 codes",
         "5 query codes dropped"),
    Case("labels-wrong-length", "model", r"database_labels\.npy has \d+ labels for \d+ codes",
         "database labels one short"),
    Case("labels-float", "model", r"database_labels\.npy must be integer", "database labels float"),
    Case("codes-pickled-objects", "model", r"holds Python objects \(pickled\); refusing",
         "codes/database.npy is an object array whose pickle runs code"),
    Case("pickle-pt-file", "model", r"contains model\.pt: pickle-format files are never loaded",
         "a model.pt carrying a code-running pickle"),
    Case("pickle-pkl-file", "model", r"contains extra\.pkl: pickle-format files are never loaded",
         "a codes/extra.pkl carrying a code-running pickle"),
    Case("link-outside", "model", r"points outside the models root; refused",
         "symlink to a (valid) model outside the models root"),
    Case("pq-codes-beyond-k", "model", r"codes/database\.npy holds codeword indices beyond K",
         "config says pq K=16, the codes hold indices up to 255",
         extra={"source": "dpq-16"}),
    Case("pq-codebooks-nan", "model", r"codebooks or query vectors hold NaN", "a NaN in the pq codebooks",
         extra={"source": "dpq-16"}),
    # issue 19, finding 1: entries that raised something other than HashvizError
    Case("config-deeply-nested", "model", r"config\.json nests too deeply",
         "config.json is `[` nested 100,000 deep (RecursionError in json)"),
    Case("codes-header-huge-shape", "model",
         r"database\.npy is damaged: its header claims shape \(1000000000000, 2\)",
         "codes/database.npy's header claims shape (10**12, 2) (MemoryError in np.load)"),
    Case("link-loop", "model", r"link-loop is a symbolic link that loops",
         "symlink loop link-loop -> .link-loop-b -> link-loop (RuntimeError in resolve)"),
    # issue 19, finding 2: values of the right type but out of range, stored metrics off-schema
    Case("ids-negative", "model", r"database_ids\.npy holds a negative image id \(-1\)",
         "a database image id of -1 (wrong thumbnails, no error)"),
    Case("labels-negative", "model", r"database_labels\.npy holds a negative label \(-1\)",
         "a database label of -1 (bincount crashed; mAP silently 0)"),
    Case("labels-bool-1d", "model", r"database_labels\.npy must be integer .*bool",
         "1-D bool labels (Retrieval crashed)"),
    Case("labels-multi-hot-255", "model", r"database_labels\.npy is multi-hot .* only 0 and 1, found 255",
         "multi-hot labels holding 255 (Retrieval crashed)"),
    Case("metrics-precision-key", "model", r"metrics\.precision_at_k must map k",
         "metrics.precision_at_k = {\"ten\": 0.5} (Evaluate crashed for the whole root)"),
    Case("metrics-map-string", "model", r"metrics\.map_all must be a number, got 'high'",
         "metrics.map_all = \"high\" (eval traceback)"),
    Case("metrics-map-null", "model", r"metrics\.map_all must be a number, got None",
         "metrics.map_all = null (eval traceback)"),
    Case("ids-beyond-dataset", "model-loads", r"database_ids\.npy points at image 1000000000 but digits has \d+ images",
         "a database image id of 10**9: the model loads (the dataset's size is known only once it is "
         "loaded); Retrieval warns and shows no thumbnails (it raised IndexError)", outcome="handled"),
    # issue 19, finding 5: labels far out of range (one class name per possible class)
    Case("labels-huge", "model", r"database_labels\.npy holds label 10000000 among 11 distinct labels; "
         r"class ids must be below 1000", "one database label of 10**7 (server memory 1.0 -> 3.2 GB)"),
    Case("config-num-classes-huge", "model", r"num_classes must be 1\.\.100,000, got 1000000000001",
         "config.json num_classes 10**12 + 1 (what import-codes wrote for a label of 10**12)"),
    Case("import-label-huge", "import", r"dbl\.npy holds label 1000000000000 among 6 distinct labels; class ids must be below 1000",
         "import-codes with one database label of 10**12 (wrote num_classes: 1000000000001)"),
    Case("import-label-negative", "import", r"ql\.npy holds a negative label \(-3\); class ids start at 0",
         "import-codes with a query label of -3 (wrote num_classes: 0)"),
    # issue 19, finding 7: `hashviz train` arguments, each refused up front in one line
    *[Case(f"train-arg-{cid}", "train-arg", expect, f"hashviz train {' '.join(args)}", extra={"args": list(args)})
      for cid, args, expect in (
          ("lr-negative", ("--method", "dpsh", "--lr", "-1"), r"--lr must be a positive number, got -1"),
          ("lr-nan", ("--method", "dpsh", "--lr", "nan"), r"--lr must be a positive number, got nan"),
          ("seed-negative", ("--method", "lsh", "--seed", "-1"), r"--seed must be 0\.\.4294967295, got -1"),
          ("seed-huge", ("--method", "lsh", "--seed", "99999999999999999999"), r"--seed must be 0\.\.4294967295"),
          ("hyper-wrong-type", ("--method", "dpsh", "--hyper", 'eta="abc"'), r"--hyper eta='abc' must be float like its default 0\.2"),
          ("hyper-unknown", ("--method", "dpsh", "--hyper", "nosuch=1"), r"--hyper nosuch is not a dpsh hyper-parameter; known: eta"),
          ("max-train-zero-itq", ("--method", "itq", "--max-train", "0"), r"--max-train must be >= 16 \(training images for 16 bits\)"),
          ("max-train-zero-dpsh", ("--method", "dpsh", "--max-train", "0"), r"--max-train must be >= 2"),
          ("epochs-zero", ("--method", "dpsh", "--epochs", "0"), r"--epochs must be >= 1 .*got 0"),
          ("epochs-negative", ("--method", "dpsh", "--epochs", "-1"), r"--epochs must be >= 1 .*got -1"),
          ("batch-size-negative", ("--method", "dpsh", "--batch-size", "-5"), r"--batch-size must be >= 2, got -5"),
          ("reg-on-shallow", ("--method", "lsh", "--reg", "balance=0.1"), r"--reg applies to deep methods only; lsh is"),
      )],
    # issue 19, finding 8: `zoo` commands (TMP: an empty folder of the test's)
    Case("zoo-results-out-is-a-folder", "zoo-cmd", r"--out .*TMP must name a markdown file, not a folder",
         "zoo results --out <an existing folder> (IsADirectoryError after all the training, a stray .tmp)",
         extra={"args": ["zoo", "results", "--root", "TMP/models", "--methods", "lsh", "--bits", "16",
                         "--no-ablation", "--out", "TMP"]}),
    Case("zoo-results-unknown-method", "zoo-cmd", r"--methods: unknown 'nosuch'; known: .*dpsh",
         "zoo results --methods nosuch (started training)",
         extra={"args": ["zoo", "results", "--root", "TMP/models", "--methods", "nosuch", "--out", "TMP/r.md"]}),
    Case("zoo-results-seeds-zero", "zoo-cmd", r"--seeds must be at least 1, got 0",
         "zoo results --seeds 0 (issue 16: a table of no seeds)",
         extra={"args": ["zoo", "results", "--root", "TMP/models", "--seeds", "0", "--out", "TMP/r.md"]}),
    Case("zoo-build-unknown-entry", "zoo-cmd", r"--only: unknown 'nosuch'; known: ",
         "zoo build --only nosuch (reported 0 model(s) built, exit 0)",
         extra={"args": ["zoo", "build", "--root", "TMP/models", "--only", "nosuch", "--no-projections"]}),
    # issue 19, finding 11: markdown in folder names is shown as text (no link, no fetched image)
    Case("[click me](https:example.invalid)", "model", r"config\.json is missing",
         "an invalid folder named as a markdown link (it became a link in the sidebar)"),
    Case("![t](https:example.invalid)", "model", r"config\.json is missing",
         "an invalid folder named as a markdown image (the browser fetched it)"),
    # ---------------------------------------------------------------- uploads
    Case("upload-not-an-image", "upload", r"not a PNG or JPEG image", "text file named .png",
         extra={"file": "not-an-image.png"}),
    Case("upload-zero-bytes", "upload", r"empty \(0 bytes\)", "0-byte file", extra={"file": "empty.png"}),
    Case("upload-truncated-png", "upload", r"truncated or damaged", "PNG cut in half",
         extra={"file": "truncated.png"}),
    Case("upload-gif", "upload", r"is a GIF image; upload a PNG or JPEG", "a GIF", extra={"file": "anim.gif"}),
    Case("upload-16-bit", "upload", r"scaled I;16\w* values", "16-bit greyscale PNG", outcome="handled",
         extra={"file": "grey16.png"}),
    Case("upload-cmyk", "upload", r"converted CMYK", "CMYK JPEG", outcome="handled", extra={"file": "cmyk.jpg"}),
    Case("upload-alpha", "upload", r"flattened the transparency", "RGBA PNG with a transparent background",
         outcome="handled", extra={"file": "alpha.png"}),
    Case("upload-10000x10000", "upload", r"too many pixels|megapixels", "a 10000x10000 PNG (100 MP)",
         extra={"file": "huge-10000x10000.png"}),
    Case("upload-16-bit-6324x6324", "upload", r"6324×6324 = 40 megapixels; the limit is 16 MP",
         "the hostile test's 78 KB 16-bit greyscale PNG of 6324x6324 (issue 19 #4: +990 MB, 5-8 s; now "
         "over the lower cap, refused from the header)", extra={"file": "grey16-6324x6324.png"}),
    Case("upload-path-separators", "upload", r"resized", "a valid PNG whose name is ../../outside/evil/..\\x.png",
         outcome="handled", extra={"file": "plain.png", "name": "../../outside/evil/..\\x.png"}),
    # ---------------------------------------------------------------- data
    Case("data-folder-missing", "data", r"image folder .*no-such-folder does not exist",
         "dataset folder:<missing dir>", extra={"dataset": "folder"}),
    Case("data-mnist-missing", "data", r"MNIST not found in .*data-mnist-missing",
         "$HASHVIZ_DATA without MNIST, offline", extra={"dataset": "mnist"}),
    Case("data-idx-gz-truncated", "data", r"cannot read IDX file .*train-images-idx3-ubyte\.gz",
         "gzipped IDX images cut short", extra={"dataset": "fashion-mnist"}),
    Case("data-idx-raw-truncated", "data", r"IDX file .*train-images-idx3-ubyte is truncated or corrupt",
         "raw IDX images cut short", extra={"dataset": "fashion-mnist"}),
    Case("data-idx-not-idx", "data", r"t10k-labels-idx1-ubyte is not an unsigned-byte IDX file",
         "IDX labels with a wrong magic number", extra={"dataset": "fashion-mnist"}),
    Case("data-idx-count-mismatch", "data", r"train-images-idx3-ubyte\.gz and train-labels-idx1-ubyte\.gz do not match",
         "19 labels for 20 images", extra={"dataset": "fashion-mnist"}),
    Case("data-folder-broken-image", "data", r"image folder: cannot read .*broken\.png",
         "an image folder holding a damaged PNG", extra={"dataset": "folder"}),
    # ---------------------------------------------------------------- search
    Case("search-wrong-bits", "search", r"query codes have 32 bits but the index holds 16-bit codes",
         "a 32-bit query against 16-bit codes"),
    Case("search-pq-wrong-dim", "search", r"query vectors must be \(nq, 8\) = \(nq, M \* d_sub\), got shape \(1, 5\)",
         "a pq query vector of the wrong length"),
    Case("search-k-too-large", "search", r"", "k = 10**6 on a small database (clipped to the database)",
         outcome="handled"),
    Case("search-k-zero", "search", r"k must be >= 1", "k = 0"),
    Case("search-radius-negative", "search", r"radius must be >= 0", "radius -1"),
    # ---------------------------------------------------------------- training
    Case("train-killed-training", "train", r"", "SIGKILL while training (from outside)", outcome="handled"),
    Case("train-killed-encoding", "train", r"", "SIGKILL while encoding the database", outcome="handled"),
    Case("train-killed-saving", "train", r"", "SIGKILL after 3 of the files were written", outcome="handled"),
    Case("train-killed-renaming", "train", r"", "SIGKILL just before the final rename", outcome="handled"),
    Case("train-disk-full", "train", r"No space left on device \(nothing was written\)",
         "ENOSPC while writing the codes"),
    Case("train-read-only-root", "train", r"could not save model .*Read-only file system",
         "EROFS on the final rename"),
    Case("train-parent-is-a-file", "train", r"cannot write to .*not-a-dir", "--out under a regular file"),
    Case("train-non-finite-loss", "train", r"loss became (nan|inf)", "learning rate 1e30"),
    Case("train-overwrite-models-root", "train",
         r"is not a model directory \(it holds keep, notes\.txt, other\); --overwrite replaces only a model",
         "--overwrite --out ROOT where ROOT holds two models and a notes file (issue 19 #3: "
         "ROOT became a single model)"),
]

CASES_BY_ID = {c.id: c for c in CASES}


class Payload:
    """Unpickling this runs a shell command that creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


def payload_bytes(marker: Path) -> bytes:
    return pickle.dumps(Payload(marker), protocol=2)


# ---------------------------------------------------------------- helpers

def _copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def _config(path: Path) -> dict:
    return json.loads((path / "config.json").read_text())


def _write_config(path: Path, config) -> None:
    (path / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))


def _codes(path: Path, name: str) -> np.ndarray:
    return np.load(path / "codes" / f"{name}.npy", allow_pickle=False)


def _save_codes(path: Path, name: str, array: np.ndarray) -> None:
    np.save(path / "codes" / f"{name}.npy", array, allow_pickle=False)


def _weights(path: Path) -> dict:
    from safetensors.numpy import load_file
    return load_file(str(path / "weights.safetensors"))


def _save_weights(path: Path, weights: dict) -> None:
    from safetensors.numpy import save_file
    save_file({k: np.array(v, order="C", copy=True) for k, v in sorted(weights.items())},  # keeps 0-d tensors 0-d
              str(path / "weights.safetensors"))


def _npy_with_header(path: Path, shape: tuple) -> None:
    """Keep the data of a .npy file, replace its header's shape (a lie about its size)."""
    array = np.load(path, allow_pickle=False)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": np.lib.format.dtype_to_descr(array.dtype),
                                               "fortran_order": False, "shape": shape})
    path.write_bytes(buf.getvalue() + array.tobytes())


def _png(array: np.ndarray, **params) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", **params)
    return buf.getvalue()


def _huge_png(width: int, height: int, depth: int = 8) -> bytes:
    """A valid all-black greyscale PNG of width x height (8 or 16 bits a pixel), written row by
    row (little memory)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    comp = zlib.compressobj(9)
    row = b"\x00" * (width * depth // 8 + 1)
    parts = []
    for _ in range(height):
        parts.append(comp.compress(row))
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, depth, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def _idx(array: np.ndarray) -> bytes:
    array = np.asarray(array, dtype=np.uint8)
    return bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape) + array.tobytes()


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


# ---------------------------------------------------------------- model cases

def _model_case(case: Case, src: Path, models: Path, out: Path, marker: Path) -> Path:
    d = models / case.id
    if case.id == "link-outside":
        d.symlink_to(Path("..") / "outside" / "dpsh-16", target_is_directory=True)
        return d
    if case.id == "link-loop":                      # the hidden half is skipped by discover()
        d.symlink_to(".link-loop-b")
        (models / ".link-loop-b").symlink_to("link-loop")
        return d
    _copy_model(src, d)
    cfg = _config(d)
    cid = case.id
    if cid == "config-missing" or cid.startswith(("[", "![")):
        (d / "config.json").unlink()
    elif cid == "config-not-json":
        (d / "config.json").write_text('{"method": "dpsh", "bits": 16,,, this is not JSON')
    elif cid == "config-not-object":
        (d / "config.json").write_text("[1, 2, 3]")
    elif cid == "config-missing-key":
        del cfg["method"]
        _write_config(d, cfg)
    elif cid == "config-wrong-type":
        _write_config(d, {**cfg, "bits": "16"})
    elif cid == "config-unknown-method":
        _write_config(d, {**cfg, "method": "nosuchhash"})
    elif cid == "config-bits-not-multiple-of-8":
        _write_config(d, {**cfg, "bits": 12})
    elif cid == "config-bits-vs-codes":
        _write_config(d, {**cfg, "bits": 32})
    elif cid == "config-bits-vs-weights":
        _write_config(d, {**cfg, "bits": 32})
        for name in ("database", "query"):
            codes = _codes(d, name)
            _save_codes(d, name, np.concatenate([codes, np.zeros_like(codes)], axis=1))
    elif cid == "config-huge-network":
        _write_config(d, {**cfg, "width": 40000})
    elif cid == "weights-missing":
        (d / "weights.safetensors").unlink()
    elif cid == "weights-truncated":
        data = (d / "weights.safetensors").read_bytes()
        (d / "weights.safetensors").write_bytes(data[: len(data) // 2])
    elif cid == "weights-renamed-tensor":
        w = _weights(d)
        w["net.head.weights"] = w.pop("net.head.weight")
        _save_weights(d, w)
    elif cid == "weights-reshaped-tensor":
        w = _weights(d)
        w["net.head.weight"] = w["net.head.weight"].reshape(32, -1)
        _save_weights(d, w)
    elif cid == "weights-nan":
        w = _weights(d)
        w["net.head.weight"] = w["net.head.weight"].copy()
        w["net.head.weight"][0, 0] = np.nan
        _save_weights(d, w)
    elif cid == "weights-is-a-pickle":
        (d / "weights.safetensors").write_bytes(payload_bytes(marker))
    elif cid == "codes-missing":
        (d / "codes" / "query.npy").unlink()
    elif cid == "codes-not-npy":
        (d / "codes" / "database.npy").write_bytes(b"this is not an npy file\n" * 20)
    elif cid == "codes-wrong-dtype":
        _save_codes(d, "database", _codes(d, "database").astype(np.int64))
    elif cid == "codes-wrong-shape":
        _save_codes(d, "database", _codes(d, "database").ravel())
    elif cid == "codes-wrong-width":
        codes = _codes(d, "database")
        _save_codes(d, "database", np.concatenate([codes, codes[:, :1]], axis=1))
    elif cid == "codes-wrong-count":
        _save_codes(d, "query", _codes(d, "query")[:-5])
    elif cid == "labels-wrong-length":
        _save_codes(d, "database_labels", _codes(d, "database_labels")[:-1])
    elif cid == "labels-float":
        _save_codes(d, "database_labels", _codes(d, "database_labels").astype(np.float32) + 0.5)
    elif cid == "codes-pickled-objects":
        objects = np.empty(1, dtype=object)
        objects[0] = Payload(marker)
        np.save(d / "codes" / "database.npy", objects, allow_pickle=True)
    elif cid == "pickle-pt-file":
        (d / "model.pt").write_bytes(payload_bytes(marker))
    elif cid == "pickle-pkl-file":
        (d / "codes" / "extra.pkl").write_bytes(payload_bytes(marker))
    elif cid == "config-deeply-nested":
        (d / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    elif cid == "codes-header-huge-shape":
        _npy_with_header(d / "codes" / "database.npy", (10 ** 12, 2))
    elif cid in ("ids-negative", "ids-beyond-dataset"):
        ids = _codes(d, "database_ids").copy()
        ids[3] = -1 if cid == "ids-negative" else 10 ** 9
        _save_codes(d, "database_ids", ids)
    elif cid == "labels-negative":
        labels = _codes(d, "database_labels").copy()
        labels[5] = -1
        _save_codes(d, "database_labels", labels)
    elif cid == "labels-bool-1d":
        _save_codes(d, "database_labels", _codes(d, "database_labels") > 4)
    elif cid == "labels-multi-hot-255":
        for part in ("database", "query"):
            labels = _codes(d, f"{part}_labels")
            hot = np.zeros((len(labels), 10), np.uint8)
            hot[np.arange(len(labels)), labels] = 255 if part == "database" else 1
            _save_codes(d, f"{part}_labels", hot)
    elif cid == "metrics-precision-key":
        _write_config(d, {**cfg, "metrics": {**cfg["metrics"], "precision_at_k": {"ten": 0.5}}})
    elif cid in ("metrics-map-string", "metrics-map-null"):
        _write_config(d, {**cfg, "metrics": {**cfg["metrics"], "map_all": "high" if cid.endswith("string") else None}})
    elif cid == "labels-huge":
        labels = _codes(d, "database_labels").copy()
        labels[7] = 10 ** 7
        _save_codes(d, "database_labels", labels)
    elif cid == "config-num-classes-huge":
        _write_config(d, {**cfg, "num_classes": 10 ** 12 + 1})
    elif cid == "pq-codes-beyond-k":
        _write_config(d, {**cfg, "pq": {**cfg["pq"], "K": 16}})
    elif cid == "pq-codebooks-nan":
        books = _codes(d, "codebooks").copy()
        books[0, 0, 0] = np.nan
        _save_codes(d, "codebooks", books)
    else:  # pragma: no cover - a case without a writer is a bug in this file
        raise ValueError(f"no writer for model case {cid}")
    return d


# ---------------------------------------------------------------- upload cases

def _upload_files(uploads: Path) -> None:
    from PIL import Image
    rng = np.random.default_rng(0)
    digit = np.zeros((64, 64), np.uint8)
    digit[10:54, 28:36] = 255
    (uploads / "not-an-image.png").write_text("this is a text file, not a picture\n")
    (uploads / "empty.png").write_bytes(b"")
    noisy = _png(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    (uploads / "truncated.png").write_bytes(noisy[: len(noisy) // 2])
    buf = io.BytesIO()
    Image.fromarray(digit).save(buf, format="GIF")
    (uploads / "anim.gif").write_bytes(buf.getvalue())
    grey16 = (digit.astype(np.uint16) * 257).astype(np.uint16)
    buf = io.BytesIO()
    Image.fromarray(grey16).save(buf, format="PNG")                # mode I;16
    (uploads / "grey16.png").write_bytes(buf.getvalue())
    buf = io.BytesIO()
    Image.fromarray(np.stack([255 - digit] * 3, axis=-1)).convert("CMYK").save(buf, format="JPEG", quality=95)
    (uploads / "cmyk.jpg").write_bytes(buf.getvalue())
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., :3] = 20
    rgba[..., 3] = np.where(digit > 0, 255, 0)
    (uploads / "alpha.png").write_bytes(_png(rgba))
    (uploads / "huge-10000x10000.png").write_bytes(_huge_png(10000, 10000))
    (uploads / "grey16-6324x6324.png").write_bytes(_huge_png(6324, 6324, depth=16))
    (uploads / "plain.png").write_bytes(_png(digit))


# ---------------------------------------------------------------- data cases

def _fake_idx_dir(directory: Path, gz: bool) -> dict[str, Path]:
    rng = np.random.default_rng(1)
    directory.mkdir(parents=True)
    files = {}
    for part, n in (("train", 20), ("t10k", 10)):
        for kind, array in (("images-idx3", rng.integers(0, 256, (n, 28, 28))),
                            ("labels-idx1", rng.integers(0, 10, n))):
            name = f"{part}-{kind}-ubyte"
            data = _idx(array)
            path = directory / (name + (".gz" if gz else ""))
            path.write_bytes(_gzip(data) if gz else data)
            files[name] = path
    return files


def _data_case(case: Case, data: Path) -> Path:
    d = data / case.id
    cid = case.id
    if cid == "data-folder-missing":
        d.mkdir(parents=True)                         # the folder inside it, no-such-folder, is absent
    elif cid == "data-mnist-missing":
        d.mkdir(parents=True)                         # an empty $HASHVIZ_DATA
    elif cid == "data-idx-gz-truncated":
        files = _fake_idx_dir(d / "fashion-mnist", gz=True)
        raw = files["train-images-idx3-ubyte"].read_bytes()
        files["train-images-idx3-ubyte"].write_bytes(raw[: len(raw) // 2])
    elif cid == "data-idx-raw-truncated":
        files = _fake_idx_dir(d / "fashion-mnist", gz=False)
        raw = files["train-images-idx3-ubyte"].read_bytes()
        files["train-images-idx3-ubyte"].write_bytes(raw[:-100])
    elif cid == "data-idx-not-idx":
        files = _fake_idx_dir(d / "fashion-mnist", gz=False)
        files["t10k-labels-idx1-ubyte"].write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 12)
    elif cid == "data-idx-count-mismatch":
        files = _fake_idx_dir(d / "fashion-mnist", gz=True)
        labels = np.random.default_rng(2).integers(0, 10, 19)
        files["train-labels-idx1-ubyte"].write_bytes(_gzip(_idx(labels)))
    elif cid == "data-folder-broken-image":
        digit = np.zeros((8, 8), np.uint8)
        digit[1:7, 3:5] = 255
        for cls in ("a", "b"):
            (d / "images" / cls).mkdir(parents=True)
            (d / "images" / cls / "good.png").write_bytes(_png(digit))
        good = _png(digit)
        (d / "images" / "b" / "broken.png").write_bytes(good[: len(good) // 2])
    else:  # pragma: no cover
        raise ValueError(f"no writer for data case {cid}")
    return d


def dataset_name(case: Case, corpus: Path) -> str:
    """The dataset name a data case loads (folder cases point into the corpus)."""
    d = corpus / "data" / case.id
    if case.id == "data-folder-missing":
        return f"folder:{d / 'no-such-folder'}"
    if case.id == "data-folder-broken-image":
        return f"folder:{d / 'images'}"
    return case.extra["dataset"]


# ---------------------------------------------------------------- import-codes inputs

def _import_case(case: Case, folder: Path) -> Path:
    """db/q codes in {-1, +1} (n, 16) and int labels 0..4 (DeepHash-pytorch style), one label broken."""
    rng = np.random.default_rng(4)
    d = folder / case.id
    d.mkdir(parents=True)
    arrays = {"db": rng.choice([-1, 1], (60, 16)).astype(np.float32), "q": rng.choice([-1, 1], (12, 16)).astype(np.float32),
              "dbl": np.arange(60) % 5, "ql": np.arange(12) % 5}
    if case.id == "import-label-huge":
        arrays["dbl"][9] = 10 ** 12
    elif case.id == "import-label-negative":
        arrays["ql"][2] = -3
    for name, array in arrays.items():
        np.save(d / f"{name}.npy", array, allow_pickle=False)
    return d


# ---------------------------------------------------------------- search and training inputs

def _search_files(search: Path) -> None:
    rng = np.random.default_rng(3)
    np.save(search / "database-16bit.npy", rng.integers(0, 256, (50, 2), dtype=np.uint8), allow_pickle=False)
    np.save(search / "query-32bit.npy", rng.integers(0, 256, (3, 4), dtype=np.uint8), allow_pickle=False)
    np.save(search / "query-16bit.npy", rng.integers(0, 256, (3, 2), dtype=np.uint8), allow_pickle=False)


# ---------------------------------------------------------------- main

def make_corpus(out: Path, source: Path) -> Path:
    """Write the corpus into `out` (created; must not exist or be empty) from the models in `source`."""
    out, source = Path(out).resolve(), Path(source).resolve()
    for name in ("dpsh-16", "dpq-16"):
        if not (source / name / "config.json").is_file():
            raise SystemExit(f"make_corpus: {source} lacks the tiny model {name} (see tests/conftest.py)")
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"make_corpus: {out} is not empty")
    marker = out / MARKER
    models, outside, uploads, data, search, train = (out / n for n in
                                                      ("models", "outside", "uploads", "data", "search", "train"))
    for d in (models, outside, uploads, data, search, train):
        d.mkdir(parents=True)
    _copy_model(source / "dpsh-16", models / VALID)
    _copy_model(source / "dpsh-16", outside / "dpsh-16")
    manifest = []
    for case in CASES:
        if case.kind in ("model", "model-loads", "encoder"):
            path = _model_case(case, source / case.extra.get("source", "dpsh-16"), models, out, marker)
        elif case.kind == "data":
            path = _data_case(case, data)
        elif case.kind == "upload":
            path = uploads / case.extra["file"]
        elif case.kind in ("train-arg", "zoo-cmd"):
            path = train
        elif case.kind == "import":
            path = _import_case(case, out / "import")
        elif case.kind == "search":
            path = search
        else:
            path = train
        manifest.append({**asdict(case), "path": str(path.relative_to(out))})
    _upload_files(uploads)
    _search_files(search)
    (train / "not-a-dir").write_text("a regular file: nothing can be created under it\n")
    (out / "cases.json").write_text(json.dumps({"marker": MARKER, "cases": manifest}, indent=2))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir")
    parser.add_argument("--source", default=None, help="a models root with dpsh-16 and dpq-16 "
                        "(default: train them into a temporary directory first)")
    args = parser.parse_args(argv)
    if args.source:
        make_corpus(Path(args.outdir), Path(args.source))
    else:
        import tempfile
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from conftest import TINY_ZOO, build_tiny_zoo
        with tempfile.TemporaryDirectory() as tmp:
            build_tiny_zoo(Path(tmp), {k: TINY_ZOO[k] for k in ("dpsh-16", "dpq-16")})
            make_corpus(Path(args.outdir), Path(tmp))
    print(f"wrote {len(CASES)} bad-input cases to {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
