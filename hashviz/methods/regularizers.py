"""The survey's code regularisers, which any deep method can switch on with a weight.

Each penalty takes the raw network outputs u (B, bits) and looks at v = tanh(u), the relaxed code
in [-1, 1], so it means the same whether or not the method squashes u itself:

- balance: each bit should be +1 for half the images: mean over bits of (mean over batch of v)^2.
- decorrelation: bits should carry different information: squared off-diagonal entries of the
  covariance of v over the batch, summed and divided by bits^2 - bits (their count).
- quantization: v should sit at +/-1: mean (|v| - 1)^2, which is 0 exactly at |v| = 1 (the
  tanh form; a |u| - 1 form would fight methods that let |u| grow, as HashNet's continuation).

The trainer adds `regularization(u, {"balance": 0.1, ...})` to the method's loss.
"""

from __future__ import annotations

import math

import torch

from hashviz.errors import HashvizError


def bit_balance(u: torch.Tensor) -> torch.Tensor:
    """Mean over bits of the squared batch mean of tanh(u); 0 for perfectly balanced bits."""
    return torch.tanh(u).mean(0).pow(2).mean()


def bit_decorrelation(u: torch.Tensor) -> torch.Tensor:
    """Mean squared off-diagonal covariance of tanh(u) over the batch; 0 for uncorrelated bits."""
    v = torch.tanh(u)
    bits = v.shape[1]
    if bits < 2:
        return v.sum() * 0
    centred = v - v.mean(0)
    cov = centred.T @ centred / len(v)
    off = cov - torch.diag_embed(torch.diagonal(cov))
    return off.pow(2).sum() / (bits * bits - bits)


def quantization_penalty(u: torch.Tensor) -> torch.Tensor:
    """mean (|tanh(u)| - 1)^2; 0 when every output is saturated at +/-1."""
    return (torch.tanh(u).abs() - 1).pow(2).mean()


REGULARIZERS = {
    "balance": bit_balance,
    "decorrelation": bit_decorrelation,
    "quantization": quantization_penalty,
}


def _check_weight(name: str, weight) -> float:
    if name not in REGULARIZERS:
        raise HashvizError(f"unknown regulariser {name!r}; known: {', '.join(REGULARIZERS)}")
    try:
        value = float(weight)
    except (TypeError, ValueError):
        raise HashvizError(f"regulariser {name} needs a number as weight, got {weight!r}") from None
    if not math.isfinite(value) or value < 0:
        raise HashvizError(f"regulariser {name} weight must be finite and >= 0, got {weight!r}")
    return value


def regularization(u: torch.Tensor, weights: dict[str, float]) -> torch.Tensor:
    """sum over names of weight * penalty(u): a scalar tensor (0 for no weights)."""
    total = u.sum() * 0
    for name, weight in (weights or {}).items():
        total = total + _check_weight(name, weight) * REGULARIZERS[name](u)
    return total


def parse_reg(items) -> dict[str, float]:
    """["balance=0.1", "decorrelation=0.1"] (or "balance=0.1,decorrelation=0.1") -> weights."""
    if isinstance(items, str):
        items = [items]
    weights: dict[str, float] = {}
    for item in items or []:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            name, sep, value = part.partition("=")
            name, value = name.strip(), value.strip()
            if not sep or not name or not value:
                raise HashvizError(f"regulariser {part!r} must read name=weight, e.g. balance=0.1 "
                                   f"(names: {', '.join(REGULARIZERS)})")
            if name in weights:
                raise HashvizError(f"regulariser {name} is given twice")
            weights[name] = _check_weight(name, value)
    return weights
