"""The deep trainer's optimiser: torch's fused AdamW without its torch.compile guards.

torch wraps an optimiser's step, zero_grad and add_param_group so that torch.compile leaves them out
of its graphs, and each wrapper imports torch's compiler (torch._dynamo) on its first call: seconds
of start-up that lecture mode cannot spare, for a compiler hashviz never uses. EagerAdamW calls the
methods beneath those wrappers; the arithmetic is torch's own, so the weights are the same bits
(tests/test_lecture.py compares it with torch.optim.AdamW step by step).
"""

from __future__ import annotations

import torch
from torch.optim import AdamW, Optimizer


def _unguarded(method):
    """The function a torch.compile guard wraps (the guard itself where torch gives no way to it)."""
    return getattr(method, "__wrapped__", method)


class EagerAdamW(AdamW):
    """torch.optim.AdamW (fused or not), its methods called without the torch.compile guards."""

    add_param_group = _unguarded(Optimizer.add_param_group)
    zero_grad = _unguarded(Optimizer.zero_grad)
    _adamw_step = _unguarded(AdamW.step)

    def step(self, closure=None):
        with torch.no_grad():     # as the guard does: the update itself is never differentiated
            return self._adamw_step(closure)
