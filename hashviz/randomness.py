"""A training run's random draws, all from the run's own generator, and its own thread count, so
two runs at once draw nothing from each other's stream and a seed means the same model whatever
else runs.

Module initialisers can only draw from torch's global generator, so a run builds its network
under it, one run at a time (`seeded_build`), and takes a private generator that continues that
stream. Every later draw (dropout, augmentation, a loss's sampling) goes through the helpers
below with that generator: each draws on the CPU, as the global-generator calls it replaces did,
so a run alone gives the same numbers as before. A module that draws declares `generator = None`
(torch's global generator) and the trainer sets it (`draw_from`).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Callable, TypeVar

import torch

from hashviz.errors import HashvizError

T = TypeVar("T")
_GLOBAL_GENERATOR = threading.Lock()
_DEFAULT_THREADS: list[int] = []
_RUN_THREADS: dict[int, int] = {}       # Python thread -> torch threads of the run it is doing


@contextlib.contextmanager
def run_threads(threads: int | None):
    """Run this thread's torch work on `threads` intra-op threads (None: the process's default, as
    torch chose it before any run set its own); with OpenMP, torch.set_num_threads sets them for
    the calling thread only. Runs at once must use one count: torch caches its compiled CPU kernels
    (oneDNN) per process, built for the thread count of the run that built them, and a run handed
    kernels of another count gives other numbers. Nested use in one thread: the outer run's."""
    me = threading.get_ident()
    with _GLOBAL_GENERATOR:
        outer = me in _RUN_THREADS
        if not outer:
            if not _DEFAULT_THREADS:
                _DEFAULT_THREADS.append(torch.get_num_threads())
            wanted = int(threads or _DEFAULT_THREADS[0])
            others = set(_RUN_THREADS.values()) - {wanted}
            if others:
                raise HashvizError(f"another training run in this process uses {others.pop()} torch threads; "
                                   f"runs at the same time must use the same number (not {wanted}): ask for "
                                   "that or start when it has finished")
            _RUN_THREADS[me] = wanted
            torch.set_num_threads(wanted)
    try:
        yield
    finally:
        if not outer:
            with _GLOBAL_GENERATOR:
                del _RUN_THREADS[me]


def seeded_build(seed: int, build: Callable[[], T]) -> tuple[T, torch.Generator]:
    """build() with torch's global generator seeded with `seed`, no other run building meanwhile,
    and a generator that continues from where build() left the global one."""
    with _GLOBAL_GENERATOR:
        torch.manual_seed(seed)
        built = build()
        generator = torch.Generator()
        generator.set_state(torch.get_rng_state())
    return built, generator


@contextlib.contextmanager
def global_generator():
    """Hold torch's global generator while building a network whose initial weights do not matter
    (weights are loaded into it next): its draws must not land inside another run's seeded_build."""
    with _GLOBAL_GENERATOR:
        yield


def draw_from(generator: torch.Generator | None, *modules) -> None:
    """Point every submodule that draws (declares `generator`) at `generator` (None: the global)."""
    for module in modules:
        for part in module.modules():
            if hasattr(part, "generator"):
                part.generator = generator


def uniform(shape, generator: torch.Generator | None, device=None) -> torch.Tensor:
    """float32 U[0, 1) of `shape` on `device` (torch.rand)."""
    return torch.rand(tuple(shape), generator=generator).to(device or "cpu")


def normal(shape, generator: torch.Generator | None, device=None) -> torch.Tensor:
    """float32 N(0, 1) of `shape` on `device` (torch.randn)."""
    return torch.randn(tuple(shape), generator=generator).to(device or "cpu")


def integers(high: int, shape, generator: torch.Generator | None, device=None) -> torch.Tensor:
    """int64 uniform on 0..high-1 of `shape` on `device` (torch.randint)."""
    return torch.randint(high, tuple(shape), generator=generator).to(device or "cpu")


def dropout(x: torch.Tensor, p: float, generator: torch.Generator | None) -> torch.Tensor:
    """Training-mode dropout drawn from `generator`: ATen's CPU dropout step for step (a Bernoulli
    keep mask of x's dtype, scaled by 1/(1-p)), the mask made on the CPU for any device."""
    noise = torch.empty(x.shape, dtype=x.dtype).bernoulli_(1 - p, generator=generator)
    return x * noise.div_(1 - p).to(x.device)
