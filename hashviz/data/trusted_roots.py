"""The operator's trusted image roots: folders whose files the app may show, beside $HASHVIZ_DATA_ROOTS.

An import through the CLI or the Python API records its image root here, and `hashviz data-roots
add|remove` edits the list. It lives in the user's config folder ($HASHVIZ_CONFIG, else
$XDG_CONFIG_HOME/hashviz, else ~/.config/hashviz), never in a model directory: only what the
operator does on the server grants trust, so a model directory copied from elsewhere still cannot
point the app at a folder of its choosing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

from hashviz.atomic_files import write_text_atomically
from hashviz.errors import HashvizError

CONFIG_ENV = "HASHVIZ_CONFIG"
ROOTS_FILE = "data_roots.json"


def config_home() -> Path:
    """hashviz's config folder: $HASHVIZ_CONFIG, else $XDG_CONFIG_HOME/hashviz, else ~/.config/hashviz."""
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser()
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config").expanduser() / "hashviz"


def trusted_roots_file() -> Path:
    return config_home() / ROOTS_FILE


def trusted_roots() -> list[Path]:
    """The recorded roots (absolute, in the order they were added); none when the file is absent."""
    path = trusted_roots_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HashvizError(f"cannot read the trusted data roots {path} ({exc}): fix or delete the file") from None
    roots = data.get("roots") if isinstance(data, dict) else None
    if not isinstance(roots, list) or not all(isinstance(r, str) and os.path.isabs(r) for r in roots):
        raise HashvizError(f'{path} must hold {{"roots": [absolute folder paths]}}: fix or delete the file')
    return [Path(r) for r in roots]


def trust_root(folder: str | os.PathLike) -> Path:
    """Record `folder` (made absolute, links resolved) as trusted; returns it. Recording it twice keeps one."""
    root = Path(folder).expanduser().resolve()
    with _locked_list() as roots:
        if root not in roots:
            roots.append(root)
    return root


def untrust_root(folder: str | os.PathLike) -> Path:
    """Remove `folder` from the list (as typed, or resolved); HashvizError when it is not there."""
    typed, root = Path(folder).expanduser().absolute(), Path(folder).expanduser().resolve()
    with _locked_list() as roots:
        found = [r for r in roots if r in (typed, root)]
        if not found:
            raise HashvizError(f"{folder} is not a trusted data root ({trusted_roots_file()}): "
                               "`hashviz data-roots list` shows them")
        roots[:] = [r for r in roots if r not in found]
    return found[0]


@contextlib.contextmanager
def _locked_list():
    """The list to edit in place, under a lock (two imports at once both keep their root), written
    atomically (a reader sees the old file or the new one, never half of it)."""
    path = trusted_roots_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(path.parent / f".{ROOTS_FILE}.lock", "w")
    except OSError as exc:
        raise HashvizError(f"cannot write the trusted data roots in {path.parent} ({exc.strerror}): "
                           f"set ${CONFIG_ENV} to a writable folder") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        roots = trusted_roots()
        yield roots
        write_text_atomically(path, json.dumps({"roots": [str(r) for r in roots]}, indent=2) + "\n")
