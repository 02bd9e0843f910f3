"""Where image files may be read from. config.json is untrusted, so an image folder or an imported
model's image root is read only inside the data roots: $HASHVIZ_DATA_ROOTS (os.pathsep-separated),
the data home, the operator's trusted roots (hashviz.data.trusted_roots: recorded by their imports and
`hashviz data-roots add`), and folders the operator named on this process's command line."""

from __future__ import annotations

import os
from pathlib import Path

from hashviz.data.trusted_roots import trusted_roots
from hashviz.errors import HashvizError
from hashviz.settings import current_deployment

DATA_ROOTS_ENV = "HASHVIZ_DATA_ROOTS"
_operator_roots: list[Path] = []     # image folders named on this process's command line


def data_home() -> Path:
    """Where downloads go: $HASHVIZ_DATA, else ~/.cache/hashviz."""
    return Path(os.environ.get("HASHVIZ_DATA") or Path.home() / ".cache" / "hashviz")


def data_roots() -> list[Path]:
    """The folders image-folder datasets may be read from: $HASHVIZ_DATA_ROOTS (os.pathsep-separated),
    the data home, the operator's trusted roots, and folders named on the command line (`allow_data_root`)."""
    configured = [Path(p) for p in os.environ.get(DATA_ROOTS_ENV, "").split(os.pathsep) if p]
    return [*configured, data_home(), *trusted_roots(), *_operator_roots]


def allow_data_root(folder: str | os.PathLike) -> None:
    """Let this process read `folder` (the CLI does this for a folder typed on its command line)."""
    _operator_roots.append(Path(folder))


def inside_data_roots(folder: Path) -> Path:
    real = folder.expanduser().resolve()
    roots = data_roots()
    if not any(real.is_relative_to(root.expanduser().resolve()) for root in roots):
        # the roots are the server's own folders: named to its operator, never to a demo's visitors
        where = "" if current_deployment().demo else f" ({', '.join(map(str, roots))})"
        raise HashvizError(f"image folder {folder} is outside the data roots{where}; "
                           f"the server's operator can add it with `hashviz data-roots add DIR` or ${DATA_ROOTS_ENV}")
    return real
