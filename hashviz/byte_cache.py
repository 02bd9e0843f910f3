"""A least-recently-used cache bounded by the bytes its values hold, for arrays shared by every
session of the app (what a value holds grows with the data; a count of entries says nothing)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Hashable

ENTRY_OVERHEAD = 512             # bytes counted for an entry's Python objects beside its arrays


class ByteCache:
    """A least-recently-used cache bounded by the bytes its values hold (thread safe). A value bigger
    than the whole budget is not kept."""

    def __init__(self, budget_bytes: int):
        self.budget = int(budget_bytes)
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used_bytes(self) -> int:
        return self._used

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> Any:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key][0]

    def put(self, key: Hashable, value: Any, nbytes: int) -> bool:
        nbytes = int(nbytes) + ENTRY_OVERHEAD
        with self._lock:
            if key in self._items:
                self._used -= self._items.pop(key)[1]
            if nbytes > self.budget:
                return False
            while self._used + nbytes > self.budget:
                self._used -= self._items.popitem(last=False)[1][1]
            self._items[key] = (value, nbytes)
            self._used += nbytes
            return True
