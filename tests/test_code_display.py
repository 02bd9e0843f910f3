"""hashviz.code_display through the code spaces: how binary and pq codes are shown (strip cells, words,
Code map points, the Hamming ball), each against a hand-computed case."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from hashviz.code_space import HammingSpace, PQSpace
from hashviz.errors import HashvizError

# five 16-bit codes: rows 0, 2 and 4 share a code, row 1 is one bit from it (bit 15), row 3 is far
BITS_DB = np.array([[0b10000000, 0b00000001], [0b10000000, 0b00000000], [0b10000000, 0b00000001],
                    [0b01111111, 0b11111110], [0b10000000, 0b00000001]], np.uint8)


def _bits():
    return HammingSpace(BITS_DB, np.array([0, 0, 1, 1, 0]), None, None)


def _pq():
    books = np.array([[[0.0], [1.0], [2.0]], [[10.0], [20.0], [30.0]]], np.float32)     # M=2, K=3, d_sub=1
    db = np.array([[0, 2], [1, 1], [2, 0], [0, 2]], np.uint8)
    return PQSpace(db, np.array([0, 1, 1, 0]), None, None, codebooks=books)


def test_bits_are_cells_bit_0_first_with_ones_filled():
    space = _bits()
    cells = space.code_cells(BITS_DB[0])
    assert cells.tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert space.filled_cells(cells).tolist() == [c == 1 for c in cells.tolist()]
    assert space.differing_positions(BITS_DB[0], BITS_DB[1]).tolist() == [15]
    assert space.differing_positions(BITS_DB[0:1], BITS_DB[3:4]).tolist() == list(range(16))
    assert (space.position_name, space.positions_name) == ("bit", "bits")
    assert space.strip_title == "Query code (16 bits)" and space.no_bits_reason == "" and space.map_note == ""
    with pytest.raises(HashvizError, match="different widths: 2 and 1 bytes"):
        space.differing_positions(BITS_DB[0], BITS_DB[0, :1])


def test_pq_codes_are_one_unfilled_cell_per_sub_space():
    space = _pq()
    assert space.code_cells(np.array([[7, 200]], np.uint8)).tolist() == [7, 200]
    assert space.filled_cells(np.array([7, 200])).tolist() == [False, False]
    assert space.differing_positions([0, 2], [1, 2]).tolist() == [0]
    assert (space.position_name, space.positions_name) == ("sub-space", "sub-codes")
    assert "no bit strip" in space.strip_title and "not bits" in space.no_bits_reason
    assert "reconstructed vectors" in space.map_note


def test_a_binary_map_draws_each_distinct_code_once_most_frequent_first():
    space = _bits()
    # codes by count: rows {0, 2, 4} (3 items), then {1} and {3} (1 item each, ties by first row)
    assert space.map_rows(None).tolist() == [0, 1, 3]
    assert space.map_rows(2).tolist() == [0, 1]
    assert space.code_members([3, 2]).tolist() == [3, 0, 2, 4]       # code by code, in the order given
    text, sizes, counts = space.points_note(2)
    assert counts(np.array([4, 1, 3])).tolist() == [3, 1, 1]
    assert sizes(np.array([4, 1])).tolist() == pytest.approx([4 + 2 * np.log2(3), 4.0])
    assert text.startswith("5 items as 3 distinct codes; the 2 most frequent shown (4 items)")
    data, sample, rows, key = space.map_data(2, seed=0)
    assert np.array_equal(data, BITS_DB[[0, 1]]) and sample is None and rows.tolist() == [0, 1]
    assert key == {"source": "distinct codes"}
    assert (space.map_subject("umap"), space.map_subject("pca")) == ("the codes (Hamming)", "the ±1 codes")


def test_a_pq_map_draws_a_seeded_sample_of_items_by_their_reconstructions():
    space = _pq()
    assert space.map_rows(None).tolist() == [0, 1, 2, 3]
    sample = space.map_rows(2, seed=5)
    expected = np.sort(np.random.default_rng(5).choice(4, 2, replace=False))
    assert sample.tolist() == expected.tolist()
    assert space.code_members([3, 1]).tolist() == [3, 1] and space.points_note(2) == (None, None, None)
    data, cache_sample, rows, key = space.map_data(2)
    assert data is space.database and cache_sample == 2 and rows.tolist() == [0, 1, 2, 3]
    books = space.codebooks.tobytes()
    assert key == {"source": "pq-reconstruction", "codebooks": hashlib.sha256(books).hexdigest()[:16]}
    assert space.map_subject("umap") == "the pq reconstructions"
    # reconstructions (0, 30), (1, 20), (2, 10), (0, 30): on one line, so PCA's first axis orders them
    xy = space.project(space.database, "pca")
    first = xy[:, 0] * np.sign(xy[2, 0] - xy[0, 0])
    assert first[0] == pytest.approx(first[3], abs=1e-4) and first[0] < first[1] < first[2]


def test_a_bit_column_is_one_bit_of_each_row_and_pq_codes_have_none():
    space = _bits()
    assert space.bit_column(np.array([0, 1, 3]), 15).tolist() == [1, 0, 0]
    assert space.bit_column(np.array([3]), 1).dtype == np.int8
    with pytest.raises(HashvizError, match="bit must be 0..15"):
        space.bit_column(np.array([0]), 16)
    with pytest.raises(HashvizError, match="pq codes have no bits"):
        _pq().bit_column(np.array([0]), 0)


def test_the_hamming_ball_is_every_item_within_the_radius_and_pq_refuses():
    space = _bits()
    rows, distances = space.within(BITS_DB[0:1], 1)                   # by (distance, row)
    assert rows.tolist() == [0, 2, 4, 1] and distances.tolist() == [0, 0, 0, 1]
    assert rows.dtype == np.int64 and space.within(BITS_DB[3:4], 0)[0].tolist() == [3]
    assert space.remote_index and not _pq().remote_index
    with pytest.raises(HashvizError, match="m-7 has pq codes .* no Hamming ball"):
        _pq().within(np.zeros((1, 2), np.uint8), 2, "m-7")
