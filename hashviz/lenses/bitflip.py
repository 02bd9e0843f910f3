"""Bit-flip probe: flip bits of a query code and see what moves.

Flipping bit b of the query moves every database item by exactly one: items whose bit b equals the
flipped query bit come one nearer, the others go one farther. So the top n and the Hamming ball
change only at their edges, and which items cross shows what bit b means to the model.
Rankings go through the search index (distance ascending, ties by database row ascending).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from hashviz.codes import check_packed, unpack_bits01
from hashviz.errors import HashvizError
from hashviz.metrics import relevance

__all__ = ["FlipProbe", "flip_bits", "flip_probe", "class_members", "bit_class_split", "bit_class_information",
           "bit_side_examples", "rows_grid_data"]


def flip_bits(code: np.ndarray, bits: Sequence[int]) -> np.ndarray:
    """A copy of the packed code uint8 (1, width) with the given bit positions (bit 0 first) flipped."""
    code = check_packed(np.atleast_2d(np.asarray(code)), what="query code")
    if code.shape[0] != 1:
        raise HashvizError(f"flip one code at a time, got {code.shape[0]}")
    n_bits = code.shape[1] * 8
    unpacked = np.unpackbits(code, axis=1)
    for b in bits:
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not 0 <= b < n_bits:
            raise HashvizError(f"bit must be 0..{n_bits - 1}, got {b!r}")
        unpacked[0, int(b)] ^= 1
    return np.packbits(unpacked, axis=1)


@dataclass(frozen=True, eq=False)
class FlipProbe:
    """What flipping `bits` of the query does. top_before/top_after: int64 (n,) database rows of the
    top n (distance, row order), with their distances; entered/left: rows that joined / dropped out
    of the top n (in after / before order); ball_*: the same for the Hamming ball of `radius`."""

    bits: tuple[int, ...]
    flipped_code: np.ndarray
    top_before: np.ndarray
    top_after: np.ndarray
    dist_before: np.ndarray
    dist_after: np.ndarray
    entered: np.ndarray
    left: np.ndarray
    radius: int
    ball_before: int
    ball_after: int
    ball_entered: np.ndarray
    ball_left: np.ndarray

    def summary(self) -> str:
        what = ", ".join(map(str, self.bits)) or "none"
        return (f"Flipped bit(s) {what}: {len(self.entered)} item(s) entered and {len(self.left)} left the top "
                f"{len(self.top_before)}; the Hamming ball (r ≤ {self.radius}) went from {self.ball_before} to "
                f"{self.ball_after} items ({len(self.ball_entered)} in, {len(self.ball_left)} out).")


def _moved(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows of `after` not in `before` in after's order, rows of `before` not in `after`)."""
    return after[~np.isin(after, before)], before[~np.isin(before, after)]


def flip_probe(index, code: np.ndarray, bits: Sequence[int], n: int, radius: int) -> FlipProbe:
    """Top n and Hamming ball of `code` before and after flipping `bits`, through `index`
    (a HammingIndex or anything with its knn/radius)."""
    bits = tuple(sorted({int(b) for b in bits}))
    flipped = flip_bits(code, bits)
    (d0, top0), (d1, top1) = (index.knn(c, n) for c in (code, flipped))
    ball0, ball1 = (index.radius(c, radius)[0][0] for c in (code, flipped))
    entered, left = _moved(top0[0], top1[0])
    ball_in, ball_out = _moved(ball0, ball1)
    return FlipProbe(bits, flipped, top0[0], top1[0], d0[0], d1[0], entered, left, int(radius),
                     len(ball0), len(ball1), ball_in, ball_out)


def class_members(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """float32 (n, n_classes): one-hot of int labels, or the multi-hot labels as they are."""
    labels = np.asarray(labels)
    if labels.ndim == 2:
        return (labels[:, :n_classes] > 0).astype(np.float32)
    members = np.zeros((labels.shape[0], n_classes), np.float32)
    ok = (labels >= 0) & (labels < n_classes)
    members[np.flatnonzero(ok), labels[ok]] = 1
    return members


def bit_class_split(codes: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """float64 (bits, n_classes): share of each class's items whose bit is 1 (NaN for an empty class).
    codes: packed uint8 (n, bits // 8); labels: int (n,) or multi-hot (n, C)."""
    bits01 = unpack_bits01(codes).astype(np.float32)
    members = class_members(labels, n_classes)
    counts = members.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (bits01.T @ members).astype(np.float64) / np.where(counts > 0, counts, np.nan)


def bit_class_information(split: np.ndarray, class_sizes: np.ndarray) -> np.ndarray:
    """float64 (bits,): mutual information I(bit; class) in bits, from `bit_class_split` and the
    number of items per class: 0 = the bit says nothing about the class, 1 = it halves the classes
    perfectly (at most log2 of the number of classes, and never above 1 for one bit)."""
    sizes = np.asarray(class_sizes, np.float64)
    keep = sizes > 0
    prior = sizes[keep] / sizes[keep].sum()
    p1 = np.nan_to_num(split[:, keep])
    out = np.zeros(split.shape[0])
    for p_given in (p1, 1 - p1):                  # bit = 1, then bit = 0
        joint = p_given * prior                   # P(bit, class)
        marginal = joint.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            term = joint * np.log2(joint / (marginal * prior))
        out += np.nansum(np.where(joint > 0, term, 0.0), axis=1)
    return np.maximum(out, 0.0)


def bit_side_examples(codes: np.ndarray, bit: int, per_side: int = 6, seed: int = 0) -> dict[int, np.ndarray]:
    """{1: rows with the bit set, 0: rows with it clear}: `per_side` database rows of each side, a
    seeded random draw (sorted), so the same bit always shows the same examples."""
    check_packed(codes, what="database codes")
    if not 0 <= int(bit) < codes.shape[1] * 8:
        raise HashvizError(f"bit must be 0..{codes.shape[1] * 8 - 1}, got {bit}")
    is_set = (codes[:, int(bit) // 8] >> (7 - int(bit) % 8)) & 1
    rng = np.random.default_rng(seed)
    out = {}
    for side in (1, 0):
        rows = np.flatnonzero(is_set == side)
        out[side] = np.sort(rng.choice(rows, min(per_side, rows.size), replace=False)).astype(np.int64)
    return out


def rows_grid_data(model, rows, distances, label, images: np.ndarray | None, class_names: Sequence[str],
                   title: str, size: int = 56) -> dict:
    """Thumbnail-grid data (pages/thumb_grid.js, as hashviz.retrieval.grid_data) for some database
    rows of `model` at the given distances: one titled group, each tile marked right/wrong against
    the query `label` (unknown when None)."""
    from hashviz.retrieval import SYMBOL, label_text, png_data_uri
    rows = np.asarray(rows, dtype=np.int64)
    labels = model.database_labels[rows]
    right = None if label is None else relevance(np.asarray(label)[None], labels)[0]
    ids = model.database_ids
    tiles = []
    for i, (row, d) in enumerate(zip(rows.tolist(), distances)):
        mark = "unknown" if right is None else ("right" if right[i] else "wrong")
        uri = png_data_uri(images[ids[row]]) if images is not None and ids is not None else None
        tiles.append({"rank": None, "row": row, "distance": str(int(d)), "mark": mark, "symbol": SYMBOL[mark],
                      "label": label_text(labels[i], class_names), "uri": uri})
    return {"groups": [{"title": f"{title}: {len(rows)}", "tied": False, "tiles": tiles}],
            "selected": None, "size": int(size), "clickable": False}
