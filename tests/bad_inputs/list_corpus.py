"""Write the list-file and image part of the bad-input corpus: DeepHash-pytorch list files with
every problem `hashviz check-lists` names, arrays that import-codes must refuse in one line (or
accept and convert), and image files that must become placeholders or decode as uploads do.

    python tests/bad_inputs/list_corpus.py OUTDIR

Deterministic: fixed arrays and seeded generators, no clock. tests/test_bad_lists.py reads
LIST_CASES; each case is a folder OUTDIR/<id> holding what import-codes is given (db.npy, q.npy,
optionally dbl.npy / ql.npy, database.txt, test.txt, names.txt, images/).
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import sys
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

N_DB, N_Q, BITS, WIDTH = 12, 4, 16, 4
NAMES = ("person", "dog", "car", "tree")


@dataclass(frozen=True)
class ListCase:
    """kind: lists (check-lists and import-codes on list files), import (import-codes arrays),
    image (one file read as a list's thumbnail). outcome: error (one clear line), handled
    (accepted: converted, padded, shown as a placeholder)."""

    id: str
    kind: str
    expect: str
    what: str
    outcome: str = "error"
    extra: dict = field(default_factory=dict)


LIST_CASES = [
    # issue 26 item 4: one fixture with every kind of problem
    ListCase("lists-every-problem", "lists", r"label widths that differ: \d+ at database\.txt",
             "database.txt (BOM, width 4) with a missing image, an unreadable one, an all-zero row, a "
             "duplicate, a path outside the root, a control character, a 5,000-byte path and a malformed "
             "line; test.txt of width 5; names.txt naming 4 classes"),
    ListCase("lists-warnings-only", "lists", r"missing images: 1 at database\.txt:3", "a missing image, an "
             "all-zero row, a duplicate and a path outside the root: imported with the summary as warnings",
             outcome="handled"),
    # issue 28 #4, #14, #18
    ListCase("list-path-nul", "lists", r"control characters in the path: 1 at database\.txt:3",
             "a NUL inside a list path (it was accepted and crashed every page showing the row)"),
    ListCase("list-path-5000-bytes", "lists", r"paths longer than 4096 bytes: 1 at database\.txt:2 \(database\.txt, line 2: 5,000 bytes\)",
             "a 5,000-byte path (every row of image_paths.npy became 5,000 bytes wide)"),
    ListCase("list-path-u0085", "lists", r"control characters in the path: 1 at database\.txt:2",
             "U+0085 inside a path (str.splitlines split the line there: wrong line numbers, wrong rows)"),
    ListCase("list-onehot-vs-narrow-multihot", "lists",
             r"label widths that differ: \d at database\.txt[^(]*\(label columns: database\.txt has 6, test\.txt has 4\)",
             "a one-hot database list of 6 classes beside a multi-hot query list of 4 (IndexError)"),
    ListCase("list-bom", "lists", r"byte-order mark", "list and class names starting with a UTF-8 BOM (row 0's "
             "path began with U+FEFF; the first class name kept it)", outcome="handled"),
    ListCase("list-paths-stored-compactly", "lists", r"", "300 rows, one path of 4,000 bytes (stored 300 x 4,000 "
             "bytes wide)", outcome="handled"),
    # issue 28 #7, #8, #19: import-codes arrays
    ListCase("import-labels-longer", "import", r"dbl\.npy has 13 rows but .*database\.txt has 12 lines",
             "13 labels for 12 codes and 12 list lines (IndexError)"),
    ListCase("import-labels-shorter", "import", r"dbl\.npy has 11 rows but .*database\.txt has 12 lines",
             "11 labels for 12 list lines (reported a disagreement at line 12)"),
    ListCase("import-onehot-vs-narrow-multihot", "import",
             r"database labels \(dbl\.npy\) have 6 columns, the query labels \(ql\.npy\) 4",
             "one-hot database labels of 6 classes beside multi-hot query labels of 4 (IndexError)"),
    ListCase("import-class-beyond-multihot", "import", r"dbl\.npy holds class 6 but ql\.npy has 4 label columns",
             "integer database labels up to 6 beside multi-hot query labels of 4 (IndexError)"),
    ListCase("import-4096-bits", "import", r"have 4096 bits; hashviz takes codes of at most 1024 bits",
             "4,096-bit codes (Diagnostics failed with MessageSizeError, +1.5 GB)"),
    ListCase("import-nan-among-signs", "import", r"hold 1 NaN or infinite value\(s\), the first at row 3, bit 5",
             "one NaN among ±1 codes (named -1 as invalid too)"),
    ListCase("import-12-bit", "import", r"12-bit codes padded with 4 constant bits to 16",
             "DPSH's 12-bit codes (refused: not a multiple of 8)", outcome="handled"),
    # issue 28 #5, #13, #17: image files a list names
    ListCase("image-dds-damaged", "image", r"unreadable", "a damaged DDS file (NotImplementedError crashed the page)",
             outcome="handled", extra={"file": "damaged.dds"}),
    ListCase("image-pcx", "image", r"unreadable", "a valid PCX file: not a format datasets use, not opened",
             outcome="handled", extra={"file": "valid.pcx"}),
    ListCase("image-169-megapixels", "image", r"too large", "a 13000x13000 PNG (169 MP in a few hundred KB: "
             "+480 MB and 1 s a tile)", outcome="handled", extra={"file": "huge-13000x13000.png"}),
    ListCase("image-16-bit-gradient", "image", r"", "a 16-bit grey gradient (turned white)",
             outcome="handled", extra={"file": "gradient16.png"}),
    ListCase("image-alpha-square", "image", r"", "a black square on a transparent background (turned all black)",
             outcome="handled", extra={"file": "alpha-square.png"}),
]

CASES_BY_ID = {c.id: c for c in LIST_CASES}


# ---------------------------------------------------------------- helpers

def _png(array: np.ndarray) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _huge_png(width: int, height: int) -> bytes:
    """A valid all-black 8-bit greyscale PNG, written row by row (little memory)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    comp = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    parts = [comp.compress(row) for _ in range(height)] + [comp.flush()]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def _labels(n: int, offset: int = 0) -> np.ndarray:
    """Multi-hot (n, WIDTH): row i has class (i + offset) % WIDTH, every third row a second one."""
    hot = np.eye(WIDTH, dtype=np.uint8)[(np.arange(n) + offset) % WIDTH]
    hot[::3, (np.arange(0, n, 3) + offset + 1) % WIDTH] = 1
    return hot


def _codes(labels: np.ndarray, bits: int, seed: int) -> np.ndarray:
    """±1 float32 codes near per-class prototypes (as DeepHash-pytorch saves torch.sign)."""
    rng = np.random.default_rng(seed)
    prototypes = rng.choice([-1.0, 1.0], size=(WIDTH, bits))
    codes = np.sign(labels.astype(np.float32) @ prototypes + 0.5)
    codes[rng.random(codes.shape) < 0.1] *= -1
    return codes.astype(np.float32)


def _line(path: str, hot) -> str:
    return path + " " + " ".join(str(int(v)) for v in hot)


def _export(d: Path, n_db: int = N_DB, n_q: int = N_Q, bits: int = BITS, lists: bool = True) -> dict:
    """codes (db.npy, q.npy), list files with one PNG per row under images/, names.txt."""
    (d / "images").mkdir(parents=True)
    labels = {"database": _labels(n_db), "query": _labels(n_q, 1)}
    lines = {}
    for part, tag in (("database", "db"), ("query", "q")):
        lines[part] = []
        for i, hot in enumerate(labels[part]):
            name = f"images/{tag}_{i}.png"
            (d / name).write_bytes(_png(np.full((6, 8), 40 + 50 * int(np.argmax(hot)), np.uint8)))
            lines[part].append(_line(name, hot))
    both = _codes(np.concatenate([labels["database"], labels["query"]]), bits, seed=7)
    np.save(d / "db.npy", both[:n_db], allow_pickle=False)
    np.save(d / "q.npy", both[n_db:], allow_pickle=False)
    if lists:
        _write_lists(d, lines)
    (d / "names.txt").write_text("\n".join(NAMES) + "\n", encoding="utf-8")
    return {"labels": labels, "lines": lines, "codes": both}


def _write_lists(d: Path, lines: dict, bom: bool = False) -> None:
    for part, file in (("database", "database.txt"), ("query", "test.txt")):
        text = "\n".join(lines[part]) + "\n"
        (d / file).write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))


# ---------------------------------------------------------------- cases

def _lists_case(case: ListCase, d: Path) -> None:
    cid = case.id
    if cid == "list-paths-stored-compactly":
        made = _export(d, n_db=300, lists=False)
        long_dir = "images/" + "d" * 200
        (d / long_dir).mkdir()
        (d / long_dir / "db_5.png").write_bytes((d / "images" / "db_5.png").read_bytes())
        made["lines"]["database"][5] = _line(long_dir + "/" * 3700 + "db_5.png", made["labels"]["database"][5])
        _write_lists(d, made["lines"])
        return
    made = _export(d)
    lines, hot = made["lines"], made["labels"]
    db = lines["database"]
    if cid == "lists-every-problem":
        (d.parent / "outside.png").write_bytes(_png(np.zeros((4, 4), np.uint8)))
        (d / "images" / "not-an-image.png").write_text("this is text\n")
        db[1] = _line("images/db_1.png", [0, 0, 0, 0])                      # all zeros
        db[2] = _line("images/missing.png", hot["database"][2])             # missing
        db[3] = _line("images/not-an-image.png", hot["database"][3])        # unreadable
        db[4] = _line("images/db_0.png", hot["database"][0])                # duplicate of line 1
        db[5] = _line("../outside.png", hot["database"][5])                 # outside the root
        db[6] = _line("images/db_\x016.png", hot["database"][6])            # control character
        db[7] = _line("images/" + "x" * 4993, hot["database"][7])           # 5,000 bytes
        db[8] = "images/db_8.png 1 0 x 0"                                   # malformed
        lines["query"] = [line + " 0" for line in lines["query"]]          # width 5
        _write_lists(d, lines, bom=True)
    elif cid == "lists-warnings-only":
        (d.parent / "outside.png").write_bytes(_png(np.zeros((4, 4), np.uint8)))
        db[1] = _line("images/db_1.png", [0, 0, 0, 0])
        db[2] = _line("images/missing.png", hot["database"][2])
        db[4] = _line("images/db_0.png", hot["database"][0])
        db[5] = _line("../outside.png", hot["database"][5])
        _write_lists(d, lines)
    elif cid == "list-path-nul":
        db[2] = _line("images/db_2.png\x00.jpg", hot["database"][2])
        _write_lists(d, lines)
    elif cid == "list-path-5000-bytes":
        db[1] = _line("images/" + "y" * 4993, hot["database"][1])
        _write_lists(d, lines)
    elif cid == "list-path-u0085":
        db[1] = _line("images/db\x85_1.png", hot["database"][1])
        db[3] = _line("images/db_3.png", [0, 0, 0, 0])
        _write_lists(d, lines)
    elif cid == "list-onehot-vs-narrow-multihot":
        lines["database"] = [_line(f"images/db_{i}.png", np.eye(6, dtype=int)[i % 6]) for i in range(N_DB)]
        _write_lists(d, lines)
    elif cid == "list-bom":
        _write_lists(d, lines, bom=True)
        (d / "names.txt").write_bytes(b"\xef\xbb\xbf" + ("\n".join(NAMES) + "\n").encode("utf-8"))
    else:  # pragma: no cover
        raise ValueError(f"no writer for list case {cid}")


def _import_case(case: ListCase, d: Path) -> None:
    cid = case.id
    made = _export(d, bits=4096 if cid == "import-4096-bits" else 12 if cid == "import-12-bit" else BITS,
                   lists=cid in ("import-labels-longer", "import-labels-shorter"))
    ints = {"database": made["labels"]["database"].argmax(1), "query": made["labels"]["query"].argmax(1)}
    if cid == "import-labels-longer":
        np.save(d / "dbl.npy", np.append(ints["database"], 0), allow_pickle=False)
    elif cid == "import-labels-shorter":
        np.save(d / "dbl.npy", ints["database"][:-1], allow_pickle=False)
    elif cid == "import-onehot-vs-narrow-multihot":
        np.save(d / "dbl.npy", np.eye(6, dtype=np.float32)[np.arange(N_DB) % 6], allow_pickle=False)
        np.save(d / "ql.npy", made["labels"]["query"].astype(np.float32), allow_pickle=False)
    elif cid == "import-class-beyond-multihot":
        np.save(d / "dbl.npy", np.arange(N_DB) % 7, allow_pickle=False)
        np.save(d / "ql.npy", made["labels"]["query"].astype(np.float32), allow_pickle=False)
    elif cid == "import-nan-among-signs":
        codes = np.load(d / "db.npy")
        codes[3, 5] = np.nan
        np.save(d / "db.npy", codes, allow_pickle=False)
    if not (d / "dbl.npy").exists():
        np.save(d / "dbl.npy", made["labels"]["database"].astype(np.float32), allow_pickle=False)
    if not (d / "ql.npy").exists():
        np.save(d / "ql.npy", made["labels"]["query"].astype(np.float32), allow_pickle=False)


def _image_files(d: Path) -> None:
    from PIL import Image
    d.mkdir(parents=True)
    header = bytearray(124)                 # a DDS header whose pixel format no decoder implements
    struct.pack_into("<IIIII", header, 0, 124, 0x1007, 8, 8, 0)
    struct.pack_into("<II4s", header, 72, 32, 0x4, b"XYZW")
    (d / "damaged.dds").write_bytes(b"DDS " + bytes(header) + b"\0" * 64)
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(buf, format="PCX")
    (d / "valid.pcx").write_bytes(buf.getvalue())
    (d / "huge-13000x13000.png").write_bytes(_huge_png(13000, 13000))
    gradient = np.tile(np.linspace(0, 65535, 64), (64, 1)).astype(np.uint16)     # 0 left .. 65535 right
    (d / "gradient16.png").write_bytes(_png(gradient))
    square = np.zeros((64, 64, 4), np.uint8)                 # transparent black, an opaque black square
    square[16:48, 16:48, 3] = 255
    (d / "alpha-square.png").write_bytes(_png(square))


def make_list_corpus(out: Path) -> Path:
    """Write every LIST_CASES folder under `out` (created; must not exist or be empty)."""
    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"list_corpus: {out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    manifest = []
    for case in LIST_CASES:
        if case.kind == "image":
            path = out / "images"
        else:
            path = out / case.kind / case.id / "export"
            (_lists_case if case.kind == "lists" else _import_case)(case, path)
        manifest.append({**asdict(case), "path": str(path.relative_to(out))})
    _image_files(out / "images")
    (out / "cases.json").write_text(json.dumps({"cases": manifest}, indent=2))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir")
    make_list_corpus(Path(parser.parse_args(argv).outdir))
    print(f"wrote {len(LIST_CASES)} list and image cases to {parser.parse_args(argv).outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
