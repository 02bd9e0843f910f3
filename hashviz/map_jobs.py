"""The Code map's background maps, shared by every session of one server, with limits one visitor
cannot get around: at most one pending map per session (a new request waits until the session's
earlier map is done), at most `max_pending` pending maps in all, and on a demo server only a few
fixed point counts (every count typed would otherwise be another multi-minute UMAP job and cache
file).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

from hashviz.background import FAILED, Job, JobRunner
from hashviz.errors import HashvizError

DEMO_POINTS = (1_000, 2_000, 5_000, 10_000, 20_000)
MAX_PENDING = 4


class MapsBusy(HashvizError):
    """The server already computes as many maps as it queues; the caller shows the instant view."""


class MapJobs(JobRunner):
    """A JobRunner for maps. `submit(key, fn, description, owner)`: a job with the same key (the same
    map, whoever asked) is shared; otherwise the owner's still pending job is returned instead of a
    new one, and a new job past `max_pending` pending ones raises MapsBusy."""

    def __init__(self, workers: int = 2, max_pending: int = MAX_PENDING, sizes: Sequence[int] | None = None):
        super().__init__(workers=workers)
        self.max_pending = int(max_pending)
        self.sizes = None if sizes is None else tuple(int(s) for s in sizes)
        self._owners: dict[str, str] = {}          # session -> key of its latest map job
        self._submitting = threading.Lock()

    def pending(self) -> list[Job]:
        with self._lock:
            return [job for job in self._jobs.values() if job.active]

    def size_choices(self, n_items: int) -> list[int] | None:
        """The point counts a visitor may choose (None: any count)."""
        if self.sizes is None:
            return None
        return [s for s in self.sizes if s < n_items] + ([n_items] if n_items <= self.sizes[-1] else [])

    def check_size(self, size: int | None, n_items: int) -> None:
        choices = self.size_choices(n_items)
        if choices is not None and min(n_items if size is None else int(size), n_items) not in choices:
            raise HashvizError(f"this server draws maps of {', '.join(f'{s:,}' for s in choices)} points only")

    def submit(self, key: str, fn: Callable[[], Any], description: str = "", owner: str | None = None) -> Job:
        with self._submitting:
            same = self.get(key)
            if same is not None and same.state != FAILED:
                return same
            earlier = self.get(self._owners.get(owner, "")) if owner is not None else None
            if earlier is not None and earlier.active:
                return earlier
            if len(self.pending()) >= self.max_pending:
                raise MapsBusy(f"the server is computing {self.max_pending} maps already, the most it queues; "
                               "this is the instant PCA view, ask for the UMAP map again in a minute")
            job = super().submit(key, fn, description)
            if owner is not None:
                self._owners = {o: k for o, k in self._owners.items() if (j := self.get(k)) is not None and j.active}
                self._owners[owner] = key
            return job
