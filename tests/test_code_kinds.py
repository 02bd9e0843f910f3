"""hashviz.code_kinds: what each kind of stored code holds, how it is checked and shown, which metrics
and diagnostics apply, against values worked out by hand."""

from pathlib import Path

import numpy as np
import pytest

from hashviz import metrics as M
from hashviz.code_kinds import BinaryCodes, PQCodes, code_kind
from hashviz.errors import HashvizError
from hashviz.zoo import ModelDir

PQ_CONFIG = {"bits": 16, "code_type": "pq", "pq": {"M": 2, "K": 4, "metric": "l2"}}


def test_code_kind_looks_up_the_stored_name_and_refuses_others():
    assert code_kind("binary") is BinaryCodes and code_kind("pq") is PQCodes
    with pytest.raises(HashvizError, match=r"^config.json: code_type must be 'binary' or 'pq', got 'ternary'$"):
        code_kind("ternary", "config.json")
    with pytest.raises(HashvizError, match="got None"):
        code_kind(None)


def test_code_width_is_bytes_per_stored_code():
    assert BinaryCodes.code_width({"bits": 48}) == 6          # 48 bits packed in 6 bytes
    assert PQCodes.code_width(PQ_CONFIG) == 2                 # one byte per codebook (M = 2)


def test_code_text_of_bits_and_of_codeword_indices():
    assert BinaryCodes.code_text(np.array([0b10100000, 0b00000001], np.uint8)) == "1010000000000001"
    assert PQCodes.code_text(np.array([3, 0, 255], np.uint8)) == "3-0-255"


def test_pq_config_needs_m_and_k():
    PQCodes.check_config(PQ_CONFIG, "config.json")
    BinaryCodes.check_config({"bits": 16, "code_type": "binary"}, "config.json")    # nothing extra
    for pq in ({}, {"M": 2}, {"M": 2, "K": 1}, {"M": 0, "K": 4}):
        with pytest.raises(HashvizError, match="pq models need pq.M and pq.K"):
            PQCodes.check_config({**PQ_CONFIG, "pq": pq}, "config.json")


def test_pq_codes_must_index_the_codebooks():
    PQCodes.check_stored_codes(PQ_CONFIG, np.array([[0, 3]], np.uint8), "database")      # K = 4: 0..3
    with pytest.raises(HashvizError, match=r"codes/query.npy holds codeword indices beyond K"):
        PQCodes.check_stored_codes(PQ_CONFIG, np.array([[0, 4]], np.uint8), "query")
    BinaryCodes.check_stored_codes({"bits": 8}, np.array([[255]], np.uint8), "database")  # any byte


def test_pq_arrays_need_codebooks_and_query_vectors_of_matching_shapes():
    arrays = {"query": np.zeros((3, 2), np.uint8), "codebooks": np.zeros((2, 4, 5), np.float32),
              "query_vectors": np.zeros((3, 10), np.float32)}               # M * d_sub = 2 * 5
    PQCodes.check_kind_arrays(PQ_CONFIG, arrays)
    BinaryCodes.check_kind_arrays({"bits": 16}, {})
    bad = [({"codebooks": None}, "need codes/codebooks.npy"),
           ({"codebooks": np.zeros((2, 3, 5), np.float32)}, r"float \(M=2, K=4, d_sub\)"),
           ({"query_vectors": np.zeros((3, 8), np.float32)}, r"must be \(3, 10\)"),
           ({"codebooks": np.full((2, 4, 5), np.nan, np.float32)}, "NaN or infinite")]
    for change, message in bad:
        with pytest.raises(HashvizError, match=message):
            PQCodes.check_kind_arrays(PQ_CONFIG, {**arrays, **change})


def test_check_codes_of_each_kind():
    BinaryCodes.check_codes(np.zeros((2, 2), np.uint8), 16)
    with pytest.raises(HashvizError, match="have 16 bits but 32 were expected"):
        BinaryCodes.check_codes(np.zeros((2, 2), np.uint8), 32)
    PQCodes.check_codes(np.zeros((2, 3), np.uint8))
    with pytest.raises(HashvizError, match=r"pq codes must be a uint8 array \(n, M\)"):
        PQCodes.check_codes(np.zeros((2, 3), np.int64))


def test_pq_codes_leave_exactly_the_hamming_only_metrics_undefined():
    schema = M.reported_metrics()
    assert all(BinaryCodes.defines(m) for m in schema)
    assert [m.key for m in schema if not PQCodes.defines(m)] == [
        "map_tie_aware", "map_tie_min", "map_tie_max", f"p_h{M.LOOKUP_RADIUS}", f"p_h{M.LOOKUP_RADIUS}_empty"]
    assert "no Hamming ball" in PQCodes.undefined_metrics_reason


def test_diagnosis_inputs_of_a_model_directory():
    sample, rows = np.zeros((3, 16), np.float32), np.array([0, 4, 7])
    binary = ModelDir(Path("b"), {"bits": 16, "code_type": "binary"},
                      {"outputs_sample": sample, "outputs_sample_rows": rows})
    inputs, lacking = BinaryCodes.diagnosis_inputs(binary)
    assert inputs["outputs"] is sample and inputs["output_rows"] is rows and lacking == []
    wrong_width = ModelDir(Path("w"), {"bits": 16, "code_type": "binary"},
                           {"outputs_sample": np.zeros((3, 8), np.float32), "outputs_sample_rows": rows})
    for model in (wrong_width, ModelDir(Path("n"), {"bits": 16, "code_type": "binary"}, {})):
        inputs, lacking = BinaryCodes.diagnosis_inputs(model)
        assert inputs == {} and "saved no continuous outputs" in lacking[0]
    assert PQCodes.diagnosis_inputs(ModelDir(Path("p"), PQ_CONFIG, {})) == ({"n_codewords": 4}, [])


def test_code_diagnostics_of_each_kind():
    codes = np.array([[0b11110000], [0b11110000], [0b00001111]], np.uint8)     # 8 bits, 3 items
    labels = np.array([0, 0, 1])
    parts = BinaryCodes.code_diagnostics(codes, labels, 8, n_pairs=10)
    assert parts["bits"] == 8 and set(parts) == {"bits", "balance", "independence", "distances"}
    assert np.allclose(parts["balance"].share_plus, [2 / 3] * 4 + [1 / 3] * 4)   # bits 0-3 set in 2 of 3
    pq = np.array([[0, 1], [0, 3], [2, 3]], np.uint8)
    parts = PQCodes.code_diagnostics(pq, labels, 4, outputs=np.zeros((3, 4)), n_codewords=4)
    assert parts["bits"] == 4 and parts["usage"].counts.tolist() == [[2, 0, 1, 0], [0, 1, 0, 2]]
    assert len(parts["notes"]) == 2 and "ignored" in parts["notes"][1]


def test_each_code_space_is_its_kind_and_buckets_its_database():
    from hashviz.code_space import HammingSpace, PQSpace
    labels = np.array([0, 1, 1])
    hamming = HammingSpace(np.array([[0xF0], [0xF0], [0x0F]], np.uint8), labels, None, None)
    assert isinstance(hamming, BinaryCodes) and hamming.code_type == "binary"
    stats = hamming.buckets(top=1)               # {0, 1} share 11110000: one cross-class pair
    assert stats.n_distinct == 2 and stats.cross_class_pairs == 1
    assert [(b.code, b.size) for b in stats.largest] == [("11110000", 2)]
    pq = PQSpace(np.array([[0, 1], [2, 3], [0, 1]], np.uint8), labels, None, None,
                 codebooks=np.zeros((2, 4, 1), np.float32))
    assert isinstance(pq, PQCodes) and pq.code_type == "pq" and pq.code_text(pq.database[1]) == "2-3"
    assert [(b.code, b.size, b.first_row) for b in pq.buckets().largest] == [("0-1", 2, 0), ("2-3", 1, 1)]
