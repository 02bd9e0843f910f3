"""The Bit balance tab: share of +1 per bit, its entropy, a balance score, dead bits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hashviz.diagnostics.common import binary_entropy, bits01_of
from hashviz.errors import HashvizError


@dataclass
class BitBalance:
    """Per-bit balance. Arrays have one entry per bit (bit 0 first)."""

    share_plus: np.ndarray   # float64 (bits,): share of codes with this bit = +1
    entropy: np.ndarray      # float64 (bits,): Bernoulli entropy in bits, 1 = perfectly balanced
    balance: np.ndarray      # float64 (bits,): 1 - |2p - 1|, 1 = balanced, 0 = constant
    dead: np.ndarray         # bool (bits,): share_plus < threshold or > 1 - threshold
    threshold: float

    @property
    def n_dead(self) -> int:
        return int(self.dead.sum())

    @property
    def dead_bits(self) -> np.ndarray:
        """Indices (int64) of the dead bits."""
        return np.flatnonzero(self.dead).astype(np.int64)


def bit_balance(codes: np.ndarray, bits: int | None = None, dead_threshold: float = 0.02,
                *, bits01: np.ndarray | None = None) -> BitBalance:
    """Share of +1 per bit, its entropy, a balance score, and dead (near-constant) bits.

    A bit is dead when its share of +1 is below `dead_threshold` or above 1 - `dead_threshold`
    (with threshold 0: exactly constant). `bits01` may pass the already unpacked {0,1} codes.
    """
    if not 0 <= dead_threshold < 0.5:
        raise HashvizError(f"dead_threshold must be in [0, 0.5), got {dead_threshold}")
    x = bits01 if bits01 is not None else bits01_of(codes, bits)
    p = x.mean(axis=0, dtype=np.float64)
    dead = (p < dead_threshold) | (p > 1 - dead_threshold)
    if dead_threshold == 0:
        dead = (p == 0) | (p == 1)
    return BitBalance(share_plus=p, entropy=binary_entropy(p), balance=1 - np.abs(2 * p - 1),
                      dead=dead, threshold=float(dead_threshold))


def bit_table(balance: BitBalance) -> list[dict[str, Any]]:
    """One row per bit: bit, share of +1, entropy, balance score, dead."""
    return [{"bit": i, "share of +1": float(p), "entropy (bits)": float(h), "balance": float(b), "dead": bool(d)}
            for i, (p, h, b, d) in enumerate(zip(balance.share_plus, balance.entropy, balance.balance,
                                                 balance.dead))]
