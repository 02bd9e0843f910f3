"""Turn codes exported by other tools into a codes-only model directory.

DeepHash-pytorch saves `*_binary.npy` in {-1,+1} or {0,1} and `*_label.npy` one-hot; any
{-1,+1}/{0,1} matrix (n, bits) with integer (n,) or one-/multi-hot (n, C) labels works.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hashviz.codes import pack_any
from hashviz.errors import HashvizError
from hashviz.metrics import evaluate
from hashviz.zoo import _load_npy, save_model_dir


def _labels(array: np.ndarray, what: str) -> np.ndarray:
    """int (n,) stays; one-hot (n, C) becomes int (n,); multi-hot stays (n, C) uint8."""
    if array.ndim == 1 and array.dtype.kind in "iu":
        return array.astype(np.int64)
    if array.ndim == 2 and np.isin(array, (0, 1)).all():
        if (array.sum(1) == 1).all():
            return array.argmax(1).astype(np.int64)
        return array.astype(np.uint8)
    raise HashvizError(f"{what} must be integer (n,) labels or 0/1 one-hot/multi-hot (n, C), "
                       f"got {array.dtype} {array.shape}")


def import_codes(database_codes, database_labels, query_codes, query_labels, out: Path,
                 method: str = "imported", family: str = "imported") -> Path:
    arrays = {}
    for name, path in (("database", database_codes), ("query", query_codes)):
        path = Path(path)
        if not path.is_file():
            raise HashvizError(f"{path} does not exist")
        arrays[name] = pack_any(_load_npy(path))
    for name, path in (("database_labels", database_labels), ("query_labels", query_labels)):
        path = Path(path)
        if not path.is_file():
            raise HashvizError(f"{path} does not exist")
        arrays[name] = _labels(_load_npy(path), path.name)
    bits = arrays["database"].shape[1] * 8
    if arrays["query"].shape[1] * 8 != bits:
        raise HashvizError(f"query codes have {arrays['query'].shape[1] * 8} bits, database codes {bits}")
    metrics = evaluate(arrays["query"], arrays["database"], arrays["query_labels"], arrays["database_labels"])
    metrics["protocol"] = f"imported codes: {len(arrays['query'])} queries against {len(arrays['database'])} database items"
    config = {"method": method, "family": family, "paper": "", "bits": bits, "code_type": "binary",
              "dataset": "imported", "protocol": "imported", "source": "imported",
              "metrics": metrics, "num_classes": int(arrays["database_labels"].max() + 1)
              if arrays["database_labels"].ndim == 1 else int(arrays["database_labels"].shape[1])}
    return save_model_dir(Path(out), config, arrays)
