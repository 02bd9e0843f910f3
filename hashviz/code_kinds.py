"""The kinds of stored code, apart from how they rank: what a model directory of each kind holds and
how its arrays are checked, how one code reads as text, which metrics and diagnostics apply.

hashviz.code_space's spaces are these kinds plus ranking (`HammingSpace` is `BinaryCodes`, `PQSpace`
is `PQCodes`). This module imports numpy only, so storage checks (model discovery) and the
diagnostics read it without the search backend. `code_kind(name)` is the one lookup of a kind by the
name config.json stores under "code_type".
"""

from __future__ import annotations

import numpy as np

from hashviz.codes import bit_strip, check_bits, check_packed
from hashviz.errors import HashvizError

__all__ = ["CodeKind", "BinaryCodes", "PQCodes", "code_kind"]


class CodeKind:
    """What every kind says; the subclasses fill it in."""

    code_type = ""                   # its name in config.json
    undefined_metrics_reason = ""    # why the metrics it does not define are n/a

    # ------------------------------------------------------------ storage
    @classmethod
    def check_config(cls, config: dict, source: str) -> None:
        """What config.json must say for this kind beyond the keys every model has."""

    @classmethod
    def code_width(cls, config: dict) -> int:
        """Bytes per stored code."""
        raise NotImplementedError

    @classmethod
    def check_stored_codes(cls, config: dict, codes: np.ndarray, part: str) -> None:
        """The values of codes/<part>.npy (its dtype and width are checked for every kind)."""

    @classmethod
    def check_kind_arrays(cls, config: dict, arrays: dict) -> None:
        """The arrays only this kind stores."""

    # ------------------------------------------------------------ codes
    @staticmethod
    def check_codes(codes: np.ndarray, bits: int | None = None) -> None:
        """A code array of this kind (n, width)."""
        raise NotImplementedError

    @staticmethod
    def code_text(code: np.ndarray) -> str:
        """One stored code (width,) as text."""
        raise NotImplementedError

    # ------------------------------------------------------------ metrics and diagnostics
    @staticmethod
    def defines(metric) -> bool:
        """Whether a reported metric (hashviz.metrics.Metric) is defined for codes of this kind."""
        return True

    @staticmethod
    def diagnosis_inputs(model) -> tuple[dict, list[str]]:
        """What `diagnose` takes from a model directory beyond its codes (keyword arguments), and
        notes on what the directory lacks for it."""
        return {}, []

    @staticmethod
    def code_diagnostics(codes: np.ndarray, labels: np.ndarray, bits: int, outputs=None, *,
                         output_rows=None, n_codewords: int = 256, dead_threshold: float = 0.02,
                         n_pairs: int = 20_000, n_bins: int = 50, seed: int = 0) -> dict:
        """The Diagnosis fields that depend on the kind: "bits" and the parts that apply, and "notes"."""
        raise NotImplementedError


class BinaryCodes(CodeKind):
    """Packed bits uint8 (n, bits // 8), bit value 1 means +1 (docs/CONTRACTS.md)."""

    code_type = "binary"

    @classmethod
    def code_width(cls, config: dict) -> int:
        return config["bits"] // 8

    @staticmethod
    def check_codes(codes: np.ndarray, bits: int | None = None) -> None:
        check_packed(codes, bits)

    @staticmethod
    def code_text(code: np.ndarray) -> str:
        return bit_strip(code)

    @staticmethod
    def diagnosis_inputs(model) -> tuple[dict, list[str]]:
        """The saved continuous outputs of a deep or shallow model, when they have one value per bit."""
        sample = model.outputs_sample
        if sample is not None and sample.ndim == 2 and sample.shape[1] == model.bits:
            return {"outputs": sample, "output_rows": model.outputs_sample_rows}, []
        return {}, ["this model saved no continuous outputs, so the quantization error is not shown"]

    @staticmethod
    def code_diagnostics(codes, labels, bits, outputs=None, *, output_rows=None, n_codewords=256,
                         dead_threshold=0.02, n_pairs=20_000, n_bins=50, seed=0) -> dict:
        """Bit balance, bit independence, Hamming distances, and the outputs' quantization error."""
        from hashviz.diagnostics.balance import bit_balance
        from hashviz.diagnostics.common import bits01_of
        from hashviz.diagnostics.distances import distance_distributions
        from hashviz.diagnostics.independence import bit_independence
        from hashviz.diagnostics.quantization import output_error
        bits = check_bits(bits)
        x = bits01_of(codes, bits)
        parts = {"bits": bits, "balance": bit_balance(codes, bits, dead_threshold, bits01=x),
                 "independence": bit_independence(codes, bits, seed=seed, bits01=x),
                 "distances": distance_distributions(codes, labels, bits, n_pairs=n_pairs, seed=seed)}
        if outputs is not None:
            outputs = np.asarray(outputs)
            if outputs.ndim != 2 or outputs.shape[1] != bits:
                raise HashvizError(f"outputs must have shape (n, {bits}) to match the codes, got {outputs.shape}")
            parts["output_error"] = output_error(outputs, codes if output_rows is not None else None,
                                                 output_rows, n_bins=n_bins)
        return parts


class PQCodes(CodeKind):
    """Codeword indices uint8 (n, M) into M codebooks of K codewords; config.json's "pq" holds M, K
    and the metric, and the directory stores codes/codebooks.npy float (M, K, d_sub) and the queries'
    vectors codes/query_vectors.npy float (n_q, M * d_sub)."""

    code_type = "pq"
    undefined_metrics_reason = ("product-quantised codes are codeword indices ranked by asymmetric distance, "
                                "not bit strings, so they have no Hamming distance, no Hamming ties and no "
                                "Hamming ball")

    @staticmethod
    def codebook_shape(config: dict) -> tuple[int, int] | None:
        """(M, K) from config.json's "pq", or None when it does not give both."""
        pq = config.get("pq") or {}
        m, k = pq.get("M"), pq.get("K")
        if isinstance(m, int) and isinstance(k, int) and m > 0 and k > 1:
            return m, k
        return None

    @classmethod
    def check_config(cls, config: dict, source: str) -> None:
        if not cls.codebook_shape(config):
            raise HashvizError(f"{source}: pq models need pq.M and pq.K in the config")

    @classmethod
    def code_width(cls, config: dict) -> int:
        return cls.codebook_shape(config)[0]

    @classmethod
    def check_stored_codes(cls, config: dict, codes: np.ndarray, part: str) -> None:
        if codes.size and int(codes.max()) >= cls.codebook_shape(config)[1]:
            raise HashvizError(f"codes/{part}.npy holds codeword indices beyond K")

    @classmethod
    def check_kind_arrays(cls, config: dict, arrays: dict) -> None:
        m, k = cls.codebook_shape(config)
        books, vectors = arrays.get("codebooks"), arrays.get("query_vectors")
        if books is None or vectors is None:
            raise HashvizError("pq models need codes/codebooks.npy and codes/query_vectors.npy")
        if books.ndim != 3 or books.shape[:2] != (m, k) or books.dtype.kind != "f":
            raise HashvizError(f"codes/codebooks.npy must be float (M={m}, K={k}, d_sub), got {books.shape}")
        if vectors.shape != (len(arrays["query"]), m * books.shape[2]):
            raise HashvizError(f"codes/query_vectors.npy must be ({len(arrays['query'])}, {m * books.shape[2]})")
        if not (np.isfinite(books).all() and np.isfinite(vectors).all()):
            raise HashvizError("pq codebooks or query vectors hold NaN or infinite values")

    @staticmethod
    def check_codes(codes: np.ndarray, bits: int | None = None) -> None:
        if not isinstance(codes, np.ndarray) or codes.dtype != np.uint8 or codes.ndim != 2:
            raise HashvizError("pq codes must be a uint8 array (n, M)")

    @staticmethod
    def code_text(code: np.ndarray) -> str:
        """Codeword indices joined by '-'."""
        return "-".join(str(int(v)) for v in code)

    @staticmethod
    def defines(metric) -> bool:
        return not metric.hamming_only

    @classmethod
    def diagnosis_inputs(cls, model) -> tuple[dict, list[str]]:
        """The codebook size K (codeword usage counts K codewords per codebook)."""
        return {"n_codewords": cls.codebook_shape(model.config)[1]}, []

    @staticmethod
    def code_diagnostics(codes, labels, bits, outputs=None, *, output_rows=None, n_codewords=256,
                         dead_threshold=0.02, n_pairs=20_000, n_bins=50, seed=0) -> dict:
        """Codeword usage; bit-level measures do not apply."""
        from hashviz.diagnostics.quantization import codeword_usage
        notes = ["product-quantisation codes: bit balance, bit independence and Hamming distances "
                 "do not apply; codeword usage is shown instead"]
        if outputs is not None:
            notes.append("continuous outputs were ignored for pq codes")
        return {"bits": int(bits), "usage": codeword_usage(codes, n_codewords), "notes": notes}


_KINDS = {kind.code_type: kind for kind in (BinaryCodes, PQCodes)}


def code_kind(name, source: str = "") -> type[CodeKind]:
    """The kind config.json's "code_type" names; an unknown name is refused (`source`: where it came from)."""
    kind = _KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        where = f"{source}: " if source else ""
        raise HashvizError(f"{where}code_type must be {' or '.join(map(repr, _KINDS))}, got {name!r}")
    return kind
