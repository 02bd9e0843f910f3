"""Brute force for comparing models, written out in numpy: codes unpacked, differing bits counted,
ties by database row; AP over the whole ranking, 0 for a query without a relevant item."""

import numpy as np


def brute_force_rankings(model):
    """(n_q, n_db) database rows of every query, Hamming distance ascending, ties by row."""
    q, d = np.unpackbits(model.query_codes, axis=1), np.unpackbits(model.database_codes, axis=1)
    dist = (q[:, None, :] != d[None, :, :]).sum(-1)
    rows = np.arange(dist.shape[1])
    return np.stack([np.lexsort((rows, row)) for row in dist])


def brute_force_ap_and_top10(model):
    """Per query: AP over the whole ranking (0 without a relevant item) and relevant items in the top 10."""
    order = brute_force_rankings(model)
    relevant = model.database_labels[order] == model.query_labels[:, None]
    ap, top10 = [], []
    for rel in relevant:
        hits = np.cumsum(rel)
        ap.append(float((hits[rel] / (np.flatnonzero(rel) + 1)).mean()) if rel.any() else 0.0)
        top10.append(int(rel[:10].sum()))
    return np.array(ap), np.array(top10)


def expected_counts(model_a, model_b):
    ap_a, top_a = brute_force_ap_and_top10(model_a)
    ap_b, top_b = brute_force_ap_and_top10(model_b)
    tie = np.isclose(ap_a, ap_b, rtol=0, atol=1e-9)
    return {"A wins": int((~tie & (ap_a > ap_b)).sum()), "B wins": int((~tie & (ap_b > ap_a)).sum()),
            "ties": int(tie.sum()), "both fail": int(((top_a == 0) & (top_b == 0)).sum())}


def brute_force_distances(model, query_row: int) -> np.ndarray:
    """int (n_db,): Hamming distance of every database code to query `query_row`'s code."""
    q = np.unpackbits(model.query_codes[query_row])
    return (np.unpackbits(model.database_codes, axis=1) != q).sum(1)
