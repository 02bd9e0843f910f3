"""Timing helper shared by the bench scripts (not a benchmark itself: `hashviz bench` skips _ names)."""

from __future__ import annotations

import time


def best_of(repeats: int, fn):
    """(fastest wall time of `repeats` calls of fn, the last call's result): the least disturbed run."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result
