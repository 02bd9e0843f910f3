"""Model discovery builds nothing: it validates config.json and the codes and reads only the
weights' header, so listing a root imports no torch and no method, and a config whose method
would be costly to build (CSQ's hash centres for many classes) lists as fast as any other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from discovery_root import CRAFTED, make_root
from hashviz.encoders import read_weights_header
from hashviz.errors import HashvizError

REPO = Path(__file__).resolve().parent.parent

LIST_ROOT = """
import json, sys
from hashviz.zoo import discover
valid, invalid = discover(sys.argv[1])
print(json.dumps({"valid": [m.name for m in valid], "invalid": [str(p) for p, _ in invalid],
                  "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "safetensors")
                                    or m.startswith(("hashviz.methods", "hashviz.estimators", "hashviz.nets")))}))
"""


def test_discovery_of_50_models_imports_no_torch(tiny_zoo, tmp_path):
    """A fresh interpreter lists all 50 (the crafted CSQ configs too: the old discovery built their
    centres, 10 s for 1,000 classes and hours for 20,000) and has imported no torch, no safetensors
    and no method. The timeout only guards against a hang; bench/discovery.py measures."""
    root = make_root(tiny_zoo, tmp_path / "models")
    proc = subprocess.run([sys.executable, "-c", LIST_ROOT, str(root)], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["invalid"] == [] and len(found["valid"]) == 50
    assert set(CRAFTED) <= set(found["valid"])
    assert found["modules"] == []


def test_the_crafted_config_keeps_its_stated_shape(tiny_zoo, tmp_path):
    """What discovery hands the pages for the 20,000-class config: its codes at 1024 bits."""
    from hashviz.zoo import load_model_dir
    root = make_root(tiny_zoo, tmp_path / "models", size=len(CRAFTED))
    model = load_model_dir(root / "csq-1024-bits-20000-classes", root=root)
    assert model.bits == 1024 and model.database_codes.shape[1] == 128 and model.config["num_classes"] == 20_000


# ---------------------------------------------------------------- the header reader

def write_safetensors(path: Path, header: dict, data: bytes, pad: int = 0) -> Path:
    """A weights file written by hand from the format's definition: u64 little-endian header
    length, the JSON header (space-padded), the tensor bytes."""
    text = json.dumps(header).encode() + b" " * pad
    path.mkdir(parents=True, exist_ok=True)
    (path / "weights.safetensors").write_bytes(len(text).to_bytes(8, "little") + text + data)
    return path


def test_header_names_dtypes_and_shapes(tmp_path):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.arange(4, dtype=np.int64)
    header = {"__metadata__": {"format": "np"},
              "net.a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
              "method.b": {"dtype": "I64", "shape": [4], "data_offsets": [24, 56]}}
    path = write_safetensors(tmp_path / "m", header, a.tobytes() + b.tobytes(), pad=5)
    assert read_weights_header(path) == {"net.a": ("F32", (2, 3)), "method.b": ("I64", (4,))}
    from safetensors.numpy import load_file            # the library agrees the file is valid
    assert np.array_equal(load_file(str(path / "weights.safetensors"))["method.b"], b)


def test_header_agrees_with_safetensors_on_a_real_model(tiny_zoo):
    from safetensors import safe_open
    for name in ("dpsh-16", "dpq-16", "itq-16"):
        with safe_open(str(tiny_zoo / name / "weights.safetensors"), "np") as f:
            truth = {k: (f.get_slice(k).get_dtype(), tuple(f.get_slice(k).get_shape())) for k in f.keys()}
        assert read_weights_header(tiny_zoo / name) == truth


@pytest.mark.parametrize("header, data, expect", [
    ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4, r"describes 8 bytes .* holds 4"),
    ({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8, r"does not hold its shape"),
    ({"x": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8, r"no valid dtype"),
    ({"x": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, b"\0" * 8, r"no valid dtype"),
    ({"x": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
      "y": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}, b"\0" * 3, r"overlap or leave gaps"),
    ([1, 2], b"", r"not a JSON object"),
])
def test_inconsistent_headers_are_refused(tmp_path, header, data, expect):
    path = write_safetensors(tmp_path / "m", header, data)
    with pytest.raises(HashvizError, match=r"^m: weights\.safetensors is unreadable or truncated \(.*" + expect):
        read_weights_header(path)


def test_a_huge_claimed_header_is_refused_unread(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "weights.safetensors").write_bytes((2**40).to_bytes(8, "little") + b"{}")
    with pytest.raises(HashvizError, match=r"a header of 1,099,511,627,776 bytes in a file of 10"):
        read_weights_header(tmp_path / "m")


LOAD_ENCODER = """
import sys
from hashviz.encoders import load_encoder
from hashviz.errors import HashvizError
from hashviz.zoo import load_model_dir
try:
    load_encoder(load_model_dir(sys.argv[1]))
except HashvizError as exc:
    print("refused:", exc)
"""


def test_the_crafted_config_is_refused_in_one_line_when_its_encoder_loads(tiny_zoo, tmp_path):
    """Its weights are a 16-bit, 10-class CSQ's: the encoder check compares shapes on the meta
    device, where no hash centres are searched (20,000 classes at 1024 bits would take hours).
    The timeout only guards against a hang."""
    root = make_root(tiny_zoo, tmp_path / "models", size=len(CRAFTED))
    proc = subprocess.run([sys.executable, "-c", LOAD_ENCODER, str(root / "csq-1024-bits-20000-classes")],
                          capture_output=True, text=True, timeout=300, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.startswith("refused: csq-1024-bits-20000-classes: tensor ") and " has shape " in proc.stdout
    assert "1024 bits need" in proc.stdout and proc.stdout.count("\n") == 1, proc.stdout + proc.stderr
