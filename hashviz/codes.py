"""Packed binary codes: uint8 (n, bits // 8) in np.packbits order.

Bit 0 of a code is the most significant bit of byte 0. A code bit of 1 means +1, 0 means -1.
"""

from __future__ import annotations

import numpy as np

from hashviz.errors import HashvizError

MAX_BITS = 1024   # the longest code trained or imported: every per-bit view stays drawable


def check_bits(bits: int) -> int:
    """Return bits if it is a positive multiple of 8, else raise HashvizError."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits <= 0 or bits % 8:
        raise HashvizError(f"code length must be a positive multiple of 8 bits, got {bits!r}")
    return int(bits)


def pack_signs(signs: np.ndarray) -> np.ndarray:
    """Pack {-1,+1} (or any real values, thresholded at 0) of shape (n, bits) into uint8 (n, bits//8).

    A value > 0 becomes bit 1; a value <= 0 becomes bit 0 (sign(0) is taken as -1).
    """
    signs = np.asarray(signs)
    if signs.ndim != 2:
        raise HashvizError(f"codes must be a 2-D array (n, bits), got shape {signs.shape}")
    check_bits(signs.shape[1])
    return np.packbits(signs > 0, axis=1)


def pack_bits01(bits01: np.ndarray) -> np.ndarray:
    """Pack {0,1} of shape (n, bits) into uint8 (n, bits//8)."""
    bits01 = np.asarray(bits01)
    if bits01.ndim != 2:
        raise HashvizError(f"codes must be a 2-D array (n, bits), got shape {bits01.shape}")
    check_bits(bits01.shape[1])
    if not np.isin(bits01, (0, 1)).all():
        raise HashvizError("expected codes in {0, 1}")
    return np.packbits(bits01.astype(bool), axis=1)


def pack_any(codes: np.ndarray) -> np.ndarray:
    """Pack codes given in {-1,+1} or {0,1} into uint8. DeepHash-pytorch saves torch.sign(u), so an
    output of exactly 0 leaves a 0 among the ±1: with any -1 present, {-1, 0, +1} is read as signs
    and 0 becomes bit 0 (like -1)."""
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.size == 0 or codes.dtype.kind not in "biuf":
        raise HashvizError(f"codes must be a non-empty 2-D numeric array (n, bits), got {codes.dtype} {codes.shape}")
    check_bits(codes.shape[1])
    signed = codes.min() == -1          # min/max and comparisons: no sort of a 1M x 64 array
    valid = (codes == 1) | (codes == 0) | ((codes == -1) if signed else False)
    if not valid.all():
        raise HashvizError(f"codes must hold only -1/+1 or 0/1, found values like "
                           f"{np.unique(codes[~valid])[:5].tolist()}")
    return np.packbits(codes > 0, axis=1)


def unpack_bits01(packed: np.ndarray, bits: int | None = None) -> np.ndarray:
    """uint8 (n, bits//8) -> uint8 {0,1} (n, bits)."""
    packed = check_packed(packed, bits)
    return np.unpackbits(packed, axis=1)


def check_packed(packed: np.ndarray, bits: int | None = None, what: str = "codes") -> np.ndarray:
    """Validate a packed code array (uint8, 2-D, and bits//8 bytes wide when bits is given)."""
    if not isinstance(packed, np.ndarray):
        raise HashvizError(f"{what} must be a numpy array, got {type(packed).__name__}")
    if packed.dtype != np.uint8:
        raise HashvizError(f"{what} must be packed uint8 (n, bits/8), got dtype {packed.dtype}")
    if packed.ndim != 2:
        raise HashvizError(f"{what} must be 2-D (n, bits/8), got shape {packed.shape}")
    if bits is not None and packed.shape[1] * 8 != check_bits(bits):
        raise HashvizError(
            f"{what} have {packed.shape[1] * 8} bits but {bits} were expected")
    return packed


def code_keys(codes: np.ndarray) -> np.ndarray:
    """One sortable key per row of uint8 (n, width) codes: big-endian uint64 when width <= 8 (so key
    order is code order), else a void view."""
    width = codes.shape[1]
    c = np.ascontiguousarray(codes)
    if width <= 8:
        padded = np.zeros((c.shape[0], 8), dtype=np.uint8)
        padded[:, :width] = c
        return padded.view(">u8").ravel()
    return c.view(np.dtype((np.void, width))).ravel()


def distinct_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(distinct codes in code order, first row of each, inverse int64 (n,) row -> distinct index,
    counts int64): np.unique over rows, on one key per row (far faster than axis=0)."""
    _, first, inverse, counts = np.unique(code_keys(codes), return_index=True, return_inverse=True,
                                          return_counts=True)
    return codes[first], first.astype(np.int64), inverse.ravel().astype(np.int64), counts.astype(np.int64)


def bit_strip(packed_code: np.ndarray) -> str:
    """One code as a string of 0/1 characters (bit 0 first)."""
    return "".join(str(b) for b in np.unpackbits(np.asarray(packed_code, dtype=np.uint8).ravel()))
