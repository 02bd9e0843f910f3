"""Hamming-cube view: the occupied corners of the code space as a graph, for teaching.

Every distinct code of the database is a corner of the {0,1}^bits cube; two corners are joined when
they differ in one bit. Short codes show every occupied corner; longer ones (or crowded short ones)
show the `max_nodes` most occupied. The layout is the cube's Petrie projection: bit i moves a
corner along its own direction (angle 180° i / bits, length shrinking slightly with i so that no
two corners land on the same spot), so every edge points in the direction of the bit it flips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hashviz.codes import bit_strip, check_packed, distinct_codes, unpack_bits01
from hashviz.diagnostics import primary_labels
from hashviz.errors import HashvizError
from hashviz.hamming import hamming_distances

__all__ = ["Cube", "hamming_cube", "cube_layout", "MAX_NODES"]

MAX_NODES = 256


@dataclass(frozen=True, eq=False)
class Cube:
    """codes: bit strings of the corners shown (most occupied first); counts int64 (m,) items per
    corner; majority int64 (m,) its commonest class and majority_share (m,) that class's share;
    xy float64 (m, 2) positions; edges int64 (e, 2) corner pairs (i < j) at Hamming distance 1 and
    edge_bit int64 (e,) the bit each edge flips; n_distinct / n_items: corners and items in the
    whole database."""

    bits: int
    codes: list[str]
    counts: np.ndarray
    majority: np.ndarray
    majority_share: np.ndarray
    xy: np.ndarray
    edges: np.ndarray
    edge_bit: np.ndarray
    n_distinct: int
    n_items: int

    def note(self) -> str:
        shown = len(self.codes)
        which = ("every occupied corner" if shown == self.n_distinct else
                 f"the {shown} most occupied of {self.n_distinct:,} occupied corners")
        return (f"{self.bits}-bit codes: {which} ({int(self.counts.sum()):,} of {self.n_items:,} items), "
                f"{len(self.edges)} edges join corners one bit apart. Node size = items with that code, "
                f"colour = their commonest class; every edge points in the direction of the bit it flips.")


def cube_layout(bits01: np.ndarray) -> np.ndarray:
    """float64 (m, 2) Petrie-style projection of {0,1} vectors (m, bits)."""
    bits = bits01.shape[1]
    angle = np.pi * np.arange(bits) / bits
    length = 0.93 ** np.arange(bits)
    direction = np.stack([np.cos(angle), np.sin(angle)], axis=1) * length[:, None]
    return bits01.astype(np.float64) @ direction


def hamming_cube(codes: np.ndarray, labels: np.ndarray, max_nodes: int = MAX_NODES) -> Cube:
    """The most occupied `max_nodes` corners of packed codes uint8 (n, bits // 8) with their labels
    (int (n,) or multi-hot, counted by each item's first label); ties in occupancy by code value."""
    check_packed(codes, what="database codes")
    labels = primary_labels(labels)
    if len(codes) == 0 or len(labels) != len(codes):
        raise HashvizError(f"the cube needs codes and one label per code, got {len(codes)} and {len(labels)}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, (int, np.integer)) or max_nodes < 1:
        raise HashvizError(f"max_nodes must be a positive integer, got {max_nodes!r}")
    distinct, _, corner, counts = distinct_codes(codes)
    shown = np.lexsort((np.arange(len(counts)), -counts))[:max_nodes]
    n_labels = int(labels.max()) + 2                       # -1 (no label) goes to the last column
    table = np.zeros((len(counts), n_labels), np.int64)
    np.add.at(table, (corner, labels), 1)
    table = table[shown]
    majority = table.argmax(axis=1)
    majority = np.where(majority == n_labels - 1, -1, majority)
    corners = distinct[shown]
    i, j = np.nonzero(np.triu(hamming_distances(corners, corners) == 1))
    bits01 = unpack_bits01(corners)
    edge_bit = (bits01[i] != bits01[j]).argmax(axis=1) if len(i) else np.zeros(0, np.int64)
    return Cube(bits01.shape[1], [bit_strip(c) for c in distinct[shown]], counts[shown].astype(np.int64),
                majority.astype(np.int64), table.max(axis=1) / counts[shown], cube_layout(bits01),
                np.stack([i, j], axis=1).astype(np.int64), edge_bit.astype(np.int64), len(counts), len(codes))
