"""How a code space's codes are shown: as strips of cells, in words, and as points of the Code map.

Each code space (hashviz.code_space) mixes in the display of its own codes: `HammingSpace` shows
bits, `PQSpace` codeword indices. A page, the Retrieval presentation or the Code map asks the model's
space how to show a code and never asks the code type. The classes read the space's `database`
(packed bits uint8 (n, bits // 8) and `bits`, or codeword indices uint8 (n, M) and `codebooks`).
"""

from __future__ import annotations

import hashlib
from typing import Callable

import numpy as np

from hashviz.codes import unpack_bits01
from hashviz.distinct import count_of, distinct_codes, marker_sizes
from hashviz.errors import HashvizError
from hashviz.projection import project_array, project_codes, sample_rows
from hashviz.search.pq import pq_reconstruct

__all__ = ["CodeDisplay", "BitsDisplay", "PQDisplay"]


class CodeDisplay:
    """What a code space says about showing its codes. Code map methods take `key`, the model's
    content key, under which a per-process cache keeps what is derived from the codes."""

    position_name = ""      # one position of a code: a code strip's column
    positions_name = ""     # what two codes differ in, plural
    no_bits_reason = ""     # why the Hamming lenses do not apply; "" where they do
    map_note = ""           # what the Code map shows instead of the codes themselves; "" for the codes

    @property
    def strip_title(self) -> str:
        """The title of the query's code strip."""
        raise NotImplementedError

    def code_cells(self, code: np.ndarray) -> np.ndarray:
        """One value per position of one code (uint8 (width,) or (1, width)): a strip's cells."""
        raise NotImplementedError

    def filled_cells(self, cells: np.ndarray) -> np.ndarray:
        """bool, one per cell: the cells a strip fills with colour."""
        raise NotImplementedError

    def differing_positions(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The positions (as code_cells numbers them) where two codes (uint8 (width,) or (1, width)) differ."""
        a, b = np.asarray(a, np.uint8).ravel(), np.asarray(b, np.uint8).ravel()
        if a.shape != b.shape:
            raise HashvizError(f"codes of different widths: {a.size} and {b.size} bytes")
        return np.flatnonzero(self.code_cells(a) != self.code_cells(b))

    # ------------------------------------------------------------ the Code map
    def map_rows(self, sample_size: int | None, seed: int = 0, key: str | None = None) -> np.ndarray:
        """int64: the database rows a map draws (`sample_size` None: as many as there are)."""
        raise NotImplementedError

    def map_data(self, sample_size: int | None, seed: int = 0,
                 key: str | None = None) -> tuple[np.ndarray, int | None, np.ndarray, dict]:
        """A map of the codes as hashviz.projection's cache takes it: (the codes that key the cache, the
        sample it draws from them (None: all), their database rows, what else keys the cache)."""
        raise NotImplementedError

    def project(self, codes: np.ndarray, method: str, seed: int = 0, **params) -> np.ndarray:
        """float32 (n, 2): a 2-D map of some database codes in this space's geometry."""
        raise NotImplementedError

    def map_subject(self, method: str) -> str:
        """What a map of the codes by `method` ("umap", "pca") shows, in words."""
        raise NotImplementedError

    def code_members(self, rows, key: str | None = None) -> np.ndarray:
        """int64: every database row whose code a map's point at one of `rows` stands for."""
        raise NotImplementedError

    def points_note(self, sample_size: int, key: str | None = None) -> tuple[
            str | None, Callable[[np.ndarray], np.ndarray] | None, Callable[[np.ndarray], np.ndarray] | None]:
        """(what a map of the codes draws, in words; rows -> point sizes; rows -> items each point
        stands for), or (None, None, None) where each point is one item."""
        raise NotImplementedError

    def bit_column(self, rows: np.ndarray, bit: int) -> np.ndarray:
        """int8 {0,1} (len(rows),): one bit of the given database rows' codes."""
        raise NotImplementedError


class BitsDisplay(CodeDisplay):
    """Packed bits: a strip cell per bit (bit 0 first, as codes.bit_strip), 1 filled; a map of the
    most frequent distinct codes (hashviz.distinct), each at its first row and sized by its count."""

    position_name, positions_name = "bit", "bits"

    @property
    def strip_title(self) -> str:
        return f"Query code ({self.bits} bits)"

    def code_cells(self, code: np.ndarray) -> np.ndarray:
        return np.unpackbits(np.asarray(code, np.uint8).ravel())

    def filled_cells(self, cells: np.ndarray) -> np.ndarray:
        return np.asarray(cells) != 0

    def map_rows(self, sample_size: int | None, seed: int = 0, key: str | None = None) -> np.ndarray:
        return distinct_codes(self.database, key).shown(sample_size or len(self.database))[0]

    def map_data(self, sample_size, seed=0, key=None):
        rows = self.map_rows(sample_size, seed, key)
        return self.database[rows], None, rows, {"source": "distinct codes"}

    def project(self, codes: np.ndarray, method: str, seed: int = 0, **params) -> np.ndarray:
        return project_codes(codes, method, seed=seed, **params)

    def map_subject(self, method: str) -> str:
        return "the codes (Hamming)" if method == "umap" else "the ±1 codes"

    def code_members(self, rows, key: str | None = None) -> np.ndarray:
        return distinct_codes(self.database, key).members(rows)

    def points_note(self, sample_size: int, key: str | None = None):
        distinct = distinct_codes(self.database, key)
        return (distinct.describe(sample_size), lambda rows: marker_sizes(count_of(distinct, rows)),
                lambda rows: count_of(distinct, rows))

    def bit_column(self, rows: np.ndarray, bit: int) -> np.ndarray:
        if not 0 <= int(bit) < self.bits:
            raise HashvizError(f"bit must be 0..{self.bits - 1}, got {bit}")
        return unpack_bits01(self.database[rows], self.bits)[:, int(bit)].astype(np.int8)


class PQDisplay(CodeDisplay):
    """Codeword indices: a strip cell per sub-space, none filled (an index is no on/off); a map of a
    seeded sample of items placed by their reconstructed vectors (the concatenated codewords, Euclidean),
    since a Hamming map of codeword indices means nothing."""

    position_name, positions_name = "sub-space", "sub-codes"
    strip_title = "Query's pq code: codeword index per sub-space (pq codes have no bit strip)"
    no_bits_reason = "This model stores pq codes (codeword indices), not bits"
    map_note = ("This model stores product-quantisation codes (codeword indices); a Hamming map of indices "
                "means nothing, so the map shows the reconstructed vectors (concatenated codewords).")

    def code_cells(self, code: np.ndarray) -> np.ndarray:
        return np.asarray(code, np.uint8).ravel()

    def filled_cells(self, cells: np.ndarray) -> np.ndarray:
        return np.zeros(len(cells), dtype=bool)

    def map_rows(self, sample_size: int | None, seed: int = 0, key: str | None = None) -> np.ndarray:
        return sample_rows(len(self.database), sample_size, seed)

    def map_data(self, sample_size, seed=0, key=None):
        books = np.ascontiguousarray(self.codebooks)
        digest = hashlib.sha256(memoryview(books).cast("B") if books.size else b"").hexdigest()[:16]
        return (self.database, sample_size, np.arange(len(self.database), dtype=np.int64),
                {"source": "pq-reconstruction", "codebooks": digest})

    def project(self, codes: np.ndarray, method: str, seed: int = 0, **params) -> np.ndarray:
        return project_array(pq_reconstruct(codes, self.codebooks), method, seed=seed, **params)

    def map_subject(self, method: str) -> str:
        return "the pq reconstructions"

    def code_members(self, rows, key: str | None = None) -> np.ndarray:
        return np.asarray(rows, dtype=np.int64)

    def points_note(self, sample_size: int, key: str | None = None):
        return None, None, None

    def bit_column(self, rows: np.ndarray, bit: int) -> np.ndarray:
        raise HashvizError("pq codes have no bits to colour by; colour by label or neighbours instead")
