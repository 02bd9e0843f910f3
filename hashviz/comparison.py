"""Two models on the same queries and database, query by query: what `hv.compare` returns and the
Compare page shows. Each query's AP is hashviz.failures.per_query_ap, the number whose mean over the
query set is the leaderboard's mAP@all, and the top 10 comes through each model's search index.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hashviz.code_space import code_space
from hashviz.data.images import image_set_key
from hashviz.errors import HashvizError
from hashviz.failures import per_query_ap
from hashviz.labels import label_text

FAIL_TOP = 10           # a query fails under a model when none of its top FAIL_TOP items is relevant
TIE_TOLERANCE = 1e-9    # APs closer than this are a tie (two rankings that agree on every relevant item)
A_WINS, B_WINS, TIE = "A", "B", "tie"
COMPARE_COLUMNS = ("query_row", "labels", "ap_a", "ap_b", "winner", "relevant_top10_a", "relevant_top10_b",
                   "both_fail")

__all__ = ["FAIL_TOP", "COMPARE_COLUMNS", "A_WINS", "B_WINS", "TIE", "compare_models", "check_comparable",
           "outcome_counts"]


def compare_models(model_a, model_b) -> pd.DataFrame:
    """One row per query (COMPARE_COLUMNS): its AP@all under each model, the winner ("A", "B" or
    "tie"), how many of each model's top 10 are relevant, and both_fail (none in either top 10).
    The model names are in ``frame.attrs["model_a"]`` / ``["model_b"]``. HashvizError when the two
    models do not share their queries and database (check_comparable)."""
    check_comparable(model_a, model_b)
    from hashviz.zoo import class_names_of
    ap_a, ap_b = (np.asarray(per_query_ap(m), dtype=np.float64) for m in (model_a, model_b))
    hits_a, hits_b = (relevant_in_top(m, FAIL_TOP) for m in (model_a, model_b))
    winner = np.where(np.abs(ap_a - ap_b) <= TIE_TOLERANCE, TIE, np.where(ap_a > ap_b, A_WINS, B_WINS))
    names = class_names_of(model_a)
    frame = pd.DataFrame({
        "query_row": np.arange(len(ap_a), dtype=np.int64),
        "labels": [label_text(label, names) for label in model_a.query_labels],
        "ap_a": ap_a, "ap_b": ap_b, "winner": winner,
        "relevant_top10_a": hits_a, "relevant_top10_b": hits_b,
        "both_fail": (hits_a == 0) & (hits_b == 0),
    }, columns=list(COMPARE_COLUMNS))
    frame.attrs.update(model_a=model_a.name, model_b=model_b.name)
    return frame


def outcome_counts(frame: pd.DataFrame) -> dict[str, int]:
    """{"A wins", "B wins", "ties", "both fail"}: counts over a compare_models table."""
    return {"A wins": int((frame["winner"] == A_WINS).sum()), "B wins": int((frame["winner"] == B_WINS).sum()),
            "ties": int((frame["winner"] == TIE).sum()), "both fail": int(frame["both_fail"].sum())}


def relevant_in_top(model, k: int, block: int = 1024) -> np.ndarray:
    """int64 (n_q,): relevant items among each query's top k (the model's own ranking)."""
    k = min(k, len(model.database_codes))
    counts = np.zeros(len(model.query_codes), dtype=np.int64)
    space = code_space(model)                               # one index for every block
    for start in range(0, len(counts), block):
        rows = np.arange(start, min(start + block, len(counts)))
        _, top = space.knn(rows, k)
        got = model.database_labels[top]                    # (b, k) or (b, k, C)
        want = model.query_labels[rows][:, None]
        counts[rows] = (got == want).sum(1) if got.ndim == 2 else ((got != 0) & (want != 0)).any(-1).sum(1)
    return counts


def check_comparable(model_a, model_b) -> None:
    """HashvizError (one line) unless both models rank the same queries against the same database:
    equal sizes, equal labels, equal dataset ids where both have them, and the same images."""
    reason = _difference(model_a, model_b)
    if reason:
        raise HashvizError(f"cannot compare {model_a.name} and {model_b.name}: {reason}; compare two models "
                           "evaluated on the same queries and database (same dataset and protocol)")


def _difference(a, b) -> str | None:
    for part in ("query", "database"):
        codes_a, codes_b = getattr(a, f"{part}_codes"), getattr(b, f"{part}_codes")
        if len(codes_a) != len(codes_b):
            return f"their {part} sets differ in size ({len(codes_a)} vs {len(codes_b)})"
        la, lb = getattr(a, f"{part}_labels"), getattr(b, f"{part}_labels")
        if la.shape != lb.shape or not np.array_equal(la, lb):
            return f"their {part} labels differ"
        ids_a, ids_b = getattr(a, f"{part}_ids"), getattr(b, f"{part}_ids")
        if ids_a is not None and ids_b is not None and not np.array_equal(ids_a, ids_b):
            return f"their {part} items are different images (dataset ids differ)"
    if a.has_images and b.has_images and image_set_key(a) != image_set_key(b):
        return "they index different image sets"
    return None
