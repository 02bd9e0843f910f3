"""DeepHash-pytorch list files read and checked in one pass (`hashviz check-lists`, `import-codes`).

A list file has one line per row, `<image path> <0/1> <0/1> ...` (the label vector), read as
DeepHash-pytorch's `readlines` + `split()` does: UTF-8 (a leading byte-order mark is dropped), lines
split on '\\n' only (a trailing '\\r' dropped), fields on spaces and tabs. Every problem found is
counted by kind with its first few line numbers; some kinds make an import wrong and refuse it,
the others are warnings (a missing image becomes a placeholder tile; an all-zero label vector is
real data, as in NUS-WIDE).
"""

from __future__ import annotations

import codecs
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hashviz.data.images import CONTROL_CHARS, IMAGE_FORMATS, MAX_PATH_BYTES, image_format
from hashviz.errors import HashvizError

FIRST_LINES = 5          # line numbers shown per problem kind
_FIELDS = re.compile(r"[ \t]+")
_BITS = re.compile(r"[01]+")


@dataclass(frozen=True)
class Kind:
    key: str
    text: str
    refuses: bool        # True: an import would be wrong, so import-codes refuses the files


KINDS = {k.key: k for k in (
    Kind("list", "list files that cannot be read", True),
    Kind("malformed", "lines that are not '<image path> <0/1 labels>'", True),
    Kind("width", "label widths that differ", True),
    Kind("control", "control characters in the path", True),
    Kind("long", f"paths longer than {MAX_PATH_BYTES} bytes", True),
    Kind("missing", "missing images (shown as placeholders)", False),
    Kind("unreadable", f"unreadable images (not {', '.join(IMAGE_FORMATS)}, or not a readable file)", False),
    Kind("outside", "paths outside the image root (shown as placeholders)", False),
    Kind("duplicate", "paths listed twice in one file", False),
    Kind("zero", "rows whose label vector is all zeros (kept: NUS-WIDE has them)", False),
)}


@dataclass
class ImageList:
    """A parsed list file: paths (str, relative to `root` or absolute) and uint8 labels (n, C)."""

    file: Path
    root: Path
    paths: list[str]
    labels: np.ndarray


@dataclass
class ListReport:
    """What check_lists found: per kind the count, the first locations and the first detail."""

    lists: list[ImageList] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    where: dict[str, list[str]] = field(default_factory=dict)
    detail: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, kind: str, file: Path, line: int | None, detail: str = "") -> None:
        self.counts[kind] += 1
        if len(self.where.setdefault(kind, [])) < FIRST_LINES:
            self.where[kind].append(file.name if line is None else f"{file.name}:{line}")
        if detail and kind not in self.detail:
            self.detail[kind] = detail

    @property
    def has_problems(self) -> bool:
        return bool(self.counts)

    @property
    def refusing(self) -> list[str]:
        return [k for k in KINDS if self.counts[k] and KINDS[k].refuses]

    def summary(self) -> list[str]:
        """The lines check-lists prints (and import-codes, as warnings or with its refusal)."""
        rows = sum(len(x.paths) for x in self.lists)
        head = ", ".join(f"{x.file.name} ({len(x.paths)} rows, {x.labels.shape[1]} labels)" for x in self.lists)
        if not self.counts:
            lines = [f"checked {head or 'nothing'}: no problems"]
        else:
            lines = [f"checked {head or 'no readable list'}: {len(self.counts)} kind(s) of problem in {rows} rows"]
        for key, kind in KINDS.items():
            if self.counts[key]:
                more = "" if self.counts[key] <= len(self.where[key]) else ", ..."
                what = f" ({self.detail[key]})" if key in self.detail else ""
                verdict = "refuses an import" if kind.refuses else "warning"
                lines.append(f"  {verdict}: {kind.text}: {self.counts[key]} at {', '.join(self.where[key])}{more}{what}")
        return lines + [f"  note: {n}" for n in self.notes]

    def refusal(self) -> str:
        """One line: what makes an import of these files wrong."""
        parts = [f"{KINDS[k].text}: {self.counts[k]} at {self.where[k][0]}"
                 + (f" ({self.detail[k]})" if k in self.detail else "") for k in self.refusing]
        return "the list files would make the import wrong; " + "; ".join(parts)


class ListProblems(HashvizError):
    """import-codes refused list files; `.report.summary()` says everything that was found."""

    def __init__(self, report: ListReport):
        super().__init__(report.refusal())
        self.report = report


# ---------------------------------------------------------------- reading

def read_text_lines(file, what: str = "list file") -> tuple[list[str], bool]:
    """(lines, had a byte-order mark): UTF-8, split on '\\n' only, trailing '\\r' and trailing
    empty lines dropped. Other separators (U+2028, U+0085, form feed) stay inside their line."""
    file = Path(file)
    try:
        data = file.read_bytes()
        text = data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise HashvizError(f"cannot read {what} {file}: {exc}") from None
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    while lines and not lines[-1].strip(" \t"):
        lines.pop()
    return lines, data.startswith(codecs.BOM_UTF8)


def read_class_names(file, count: int | None = None) -> list[str]:
    """One class name per non-empty line (as read_text_lines reads); `count`: how many there must be."""
    lines, _ = read_text_lines(file, "class names")
    names = [line.strip() for line in lines if line.strip()]
    if count is not None and len(names) != count:
        raise HashvizError(f"{file} names {len(names)} classes; the labels have {count}")
    return names


def _fields(line: str) -> list[str]:
    """Fields split on runs of spaces and tabs (str.split() would also split on U+0085, U+2028,
    no-break spaces, ..., which belong to the path)."""
    if "\t" in line or "  " in line or line[:1] == " " or line[-1:] == " ":
        return _FIELDS.split(line.strip(" \t"))
    return line.split(" ")


def _parse(file: Path, root: Path, report: ListReport) -> ImageList | None:
    """One list file: paths and labels of its most common width; each bad line reported."""
    try:
        lines, bom = read_text_lines(file)
    except HashvizError as exc:
        report.add("list", file, None, str(exc))
        return None
    if bom:
        report.notes.append(f"{file.name} starts with a UTF-8 byte-order mark (ignored)")
    rows = [_fields(line) for line in lines]
    widths = Counter(len(r) - 1 for r in rows if len(r) > 1)
    if not widths:
        report.add("list", file, None, f"{file} holds no '<image path> <0/1 labels>' line")
        return None
    width = widths.most_common(1)[0][0]
    paths, bits = [], []
    for number, (line, parts) in enumerate(zip(lines, rows), 1):
        joined = "".join(parts[1:])
        if len(parts) < 2 or len(joined) != len(parts) - 1 or not _BITS.fullmatch(joined):
            report.add("malformed", file, number, f"{file.name}, line {number}: expected '<image path>' and "
                                                  f"{width} 0/1 labels, got {line[:120]!r}")
            joined = "0" * width
        elif len(joined) != width:
            report.add("width", file, number, f"{file.name}, line {number} has {len(joined)} labels, "
                                              f"the file's other lines {width}")
            joined = "0" * width
        elif "1" not in joined:
            report.add("zero", file, number)
        paths.append(parts[0])
        bits.append(joined)
    labels = (np.frombuffer("".join(bits).encode("ascii"), dtype=np.uint8) - ord("0")).reshape(len(paths), width)
    return ImageList(file, root, paths, labels)


# ---------------------------------------------------------------- checks

def check_lists(files, image_root=None, class_names=None, images: bool = True) -> ListReport:
    """Read and check list files together. Relative paths start at `image_root`, else at their list's
    folder; the image root an import stores is `image_root`, else the first list's folder, and paths
    outside it are reported. `images`: also open each image's first bytes (missing or unreadable)."""
    report = ListReport()
    files = [Path(f) for f in files]
    for file in files:
        parsed = _parse(file, Path(image_root) if image_root else file.parent, report)
        if parsed is not None:
            report.lists.append(parsed)
    _check_widths(report, class_names)
    if files:
        home = Path(os.path.abspath(image_root or files[0].parent))
        seen: dict[str, tuple[str, int]] = {}     # path -> (list, line) of its first row in an earlier list
        overlaps: list[str] = []
        for listed in report.lists:
            here = _check_paths(listed, home, seen, overlaps, report, images)
            for path, number in here.items():
                seen.setdefault(path, (listed.file.name, number))
        if overlaps:                    # train.txt within database.txt is normal: a note, not a problem
            report.notes.append(f"{len(overlaps)} row(s) name a path of an earlier list (first: {overlaps[0]})")
    return report


def _check_widths(report: ListReport, class_names) -> None:
    widths = {x.file.name: x.labels.shape[1] for x in report.lists}
    if len(set(widths.values())) > 1:
        said = ", ".join(f"{name} has {w}" for name, w in widths.items())
        for x in report.lists:
            report.add("width", x.file, None, f"label columns: {said}")
    if class_names is not None:
        try:
            names = read_class_names(class_names)
        except HashvizError as exc:
            report.add("list", Path(class_names), None, str(exc))
            return
        for x in report.lists:
            if x.labels.shape[1] != len(names):
                report.add("width", x.file, None, f"{x.file.name} has {x.labels.shape[1]} label columns, "
                                                  f"{Path(class_names).name} names {len(names)} classes")


def _check_paths(listed: ImageList, home: Path, seen: dict, overlaps: list, report: ListReport,
                 images: bool) -> dict[str, int]:
    """Per path: control characters, length, twice in this file, in an earlier list (`seen`),
    outside `home` (folders resolved once each; a file that is a link, resolved itself), missing
    or unreadable. Returns this file's paths -> their line."""
    here: dict[str, int] = {}
    home_text = os.path.realpath(home)
    inside = lambda real: real == home_text or real.startswith(home_text.rstrip(os.sep) + os.sep)  # noqa: E731
    folders: dict[str, str] = {}
    file = listed.file
    for number, path in enumerate(listed.paths, 1):
        if CONTROL_CHARS.search(path):
            report.add("control", file, number, f"{file.name}, line {number}: {path[:80]!r}")
            continue
        if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
            report.add("long", file, number, f"{file.name}, line {number}: {len(path.encode('utf-8', 'surrogatepass')):,} bytes")
            continue
        if path in here:
            report.add("duplicate", file, number, f"{path[:80]!r} is also {file.name}:{here[path]}")
            continue
        here[path] = number
        if path in seen:
            overlaps.append(f"{file.name}:{number} is also {seen[path][0]}:{seen[path][1]}")
        folder, name = os.path.split(os.path.normpath(os.path.join(listed.root, path)))
        if folder not in folders:
            folders[folder] = os.path.realpath(folder)
        real = os.path.join(folders[folder], name)
        if inside(real) and os.path.islink(real):
            real = os.path.realpath(real)
        if not inside(real):
            report.add("outside", file, number, f"{path[:80]!r} is outside {home_text}")
        elif images:
            _check_image(real, file, number, report)
    return here


def _check_image(full: str, file: Path, number: int, report: ListReport) -> None:
    try:
        with open(full, "rb") as f:
            head = f.read(16)
    except (FileNotFoundError, NotADirectoryError):
        report.add("missing", file, number, full[:200])
        return
    except (OSError, ValueError) as exc:
        report.add("unreadable", file, number, f"{full[:200]}: {exc.strerror if isinstance(exc, OSError) else exc}")
        return
    if image_format(head) is None:
        report.add("unreadable", file, number, f"{full[:200]} is not an image hashviz opens")


def read_image_list(file, image_root=None) -> ImageList:
    """One list file (no image checks); anything that makes it wrong is refused in one line."""
    report = check_lists([file], image_root, images=False)
    if report.refusing:
        raise ListProblems(report)
    return report.lists[0]
