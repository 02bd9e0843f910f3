"""The models of a root as a server keeps them: one listing per root, shared by every session,
re-read when the root changes. A change re-reads only the model directories that changed, and the
listing holds one copy of each model's arrays (keying a cache by the root's signature kept a full
copy of every model per signature: after successive trainings, up to eight)."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Callable, ContextManager

from hashviz.errors import HashvizError
from hashviz.zoo import ModelDir, content_key, discover, root_entries, root_signature


class ModelListing:
    """`current()` gives (valid models, invalid dirs with reasons) of one models root, discovering
    again only when `root_signature` changed; thread-safe (one discovery at a time). A root that
    cannot be read lists nothing and `problem` says why."""

    def __init__(self, root):
        self.root = Path(root)
        self._lock = threading.Lock()
        self._signature: tuple | None = None
        self._found: tuple[list[ModelDir], list] = ([], [])
        self._keys: dict[str, str] = {}     # model name -> content_key when it was read
        self.problem: str | None = None

    def current(self, reading: Callable[[], ContextManager] = contextlib.nullcontext) -> tuple[list[ModelDir], list]:
        """reading(): a context around a discovery (the app's spinner)."""
        with self._lock:
            try:
                signature = root_signature(self.root)
                if signature != self._signature:
                    with reading():
                        self._rediscover()
                    self._signature = signature
                self.problem = None
            except HashvizError as exc:
                self._signature, self._found, self._keys, self.problem = None, ([], []), {}, str(exc)
            return self._found

    def _rediscover(self) -> None:
        keys = {}
        for path in root_entries(self.root):
            try:
                keys[path.name] = content_key(path)
            except OSError:
                continue
        # keys are taken before reading: a directory rewritten meanwhile differs next time
        unchanged = {m.name: m for m in self._found[0] if keys.get(m.name, "?") == self._keys.get(m.name)}
        self._found = discover(self.root, reuse=unchanged)
        self._keys = {m.name: keys[m.name] for m in self._found[0] if m.name in keys}
