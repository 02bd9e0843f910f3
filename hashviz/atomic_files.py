"""One way to replace a text file: write a temporary file beside it, fsync, rename over it. A reader
sees the old file or the new one, never half of either; a failure leaves the old file as it was."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from hashviz.errors import HashvizError


def write_text_atomically(path: Path, text: str, *, mode: int | None = None) -> None:
    """Replace `path` by `text` (UTF-8); `mode`: the permission bits the new file gets (default: the
    temporary file's). An OSError becomes one HashvizError line naming the file."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            raise HashvizError(f"cannot write {path}: {exc.strerror or exc} (the file is unchanged)") from None
        raise
