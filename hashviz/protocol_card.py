"""A protocol card for every model: what its numbers were measured on and by which rules, so two
mAPs are compared only when their cards agree (Evaluate and `hashviz eval`).

For a DeepHash-pytorch import the card also names the split convention its sizes match and the
mAP the save file's name claims beside the mAP recomputed here. Conventions (swuxyj/DeepHash-pytorch,
utils/tools.py `cifar_dataset` and data/nuswide_21/code.py), queries / database:
  cifar10    1,000 / 54,000  (500 training images per class kept out of the database)
  cifar10-1  1,000 / 59,000  (the 5,000 training images are in the database)
  cifar10-2 10,000 / 50,000  (the database is the 50,000 training images)
  nuswide_21 2,100 queries (100 per class of 21), the 10,500 training images in the database,
             the database size depends on the NUS-WIDE copy; mAP@5000
Their evaluation (CalcTopMap) counts a query with no relevant item in the top k as 0 and breaks
Hamming ties by numpy's argsort order."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from hashviz import metrics as M
from hashviz.code_space import code_space
from hashviz.data import describe_protocol
from hashviz.labels import is_multi_label
from hashviz.safe_text import escape

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Convention:
    name: str
    queries: int
    database: int | None          # None: depends on the user's copy of the dataset
    label_columns: int
    database_holds_training: str
    top_k: str


DEEPHASH_CONVENTIONS = (
    Convention("cifar10", 1_000, 54_000, 10, "no (the 5,000 training images are left out)", "mAP@all"),
    Convention("cifar10-1", 1_000, 59_000, 10, "yes (the 5,000 training images are in it)", "mAP@all"),
    Convention("cifar10-2", 10_000, 50_000, 10, "yes (it is the 50,000 training images)", "mAP@all"),
    Convention("nuswide_21", 2_100, None, 21, "yes (the 10,500 training images are in it)", "mAP@5000"),
)


@dataclass(frozen=True)
class ProtocolCard:
    model: str
    queries: int
    database: int
    database_holds_training: str
    relevance: str
    top_k: str
    ties: str
    no_relevant_item: str
    model_selection: str
    convention: str | None = None          # DeepHash-pytorch imports: the split their sizes match
    claimed_map: float | None = None       # ... the mAP their save file's name claims
    recomputed_map: float | None = None    # ... and the mAP@all hashviz computed from the codes at import

    def rows(self) -> list[tuple[str, str]]:
        """(field, value) in reading order; the DeepHash-pytorch rows only for such imports."""
        rows = [("queries", f"{self.queries:,}"), ("database", f"{self.database:,}"),
                ("database holds the training items", self.database_holds_training),
                ("relevant", self.relevance), ("top-k", self.top_k), ("ties", self.ties),
                ("query with no relevant item", self.no_relevant_item), ("model selection", self.model_selection)]
        if self.convention is not None or self.claimed_map is not None:
            rows.append(("DeepHash-pytorch split", self.convention or "none matches these sizes"))
        if self.claimed_map is not None:
            rows.append(("mAP its file name claims", f"{self.claimed_map:.4f}"))
            rows.append(("mAP@all recomputed by hashviz", f"{self.recomputed_map:.4f}"
                         if self.recomputed_map is not None else UNKNOWN))
        return rows

    def text(self) -> str:
        """Plain lines for the terminal (`hashviz eval`)."""
        width = max(len(k) for k, _ in self.rows())
        return "\n".join(f"  {k:<{width}}  {v}" for k, v in self.rows())

    def as_dict(self) -> dict:
        return asdict(self)


def matching_convention(queries: int, database: int, label_columns: int) -> Convention | None:
    """The DeepHash-pytorch split whose sizes (and label width) these are, if any."""
    for c in DEEPHASH_CONVENTIONS:
        if (c.queries, c.label_columns) == (queries, label_columns) and c.database in (None, database):
            return c
    return None


def protocol_card(model) -> ProtocolCard:
    """The card of a model directory (hashviz.zoo.ModelDir); reads sizes and labels, stores nothing."""
    queries, database = len(model.query_codes), len(model.database_codes)
    multi = is_multi_label(model.database_labels)
    imported = model.config.get("source") == "imported"
    labels = model.database_labels
    width = int(labels.shape[1]) if np.ndim(labels) == 2 else int(model.config.get("num_classes") or 0)
    convention = matching_convention(queries, database, width) if imported else None
    saved = model.config.get("deephash_save") or {}
    stored_map = model.metrics.get("map_all")
    return ProtocolCard(
        model=model.name, queries=queries, database=database,
        database_holds_training=_holds_training(model, imported, convention),
        relevance=("multi-label: relevant = shares at least one label with the query" if multi
                   else "single-label: relevant = same class as the query"),
        top_k=f"{M.metric_of('map_all').label} over the whole database; {M.metric_of('map_k').label} over the "
              f"top {M.MAP_K}",
        ties=code_space(model).tie_rule,
        no_relevant_item="scores AP 0 and stays in the mean (it is not dropped)",
        model_selection=_selection(model, imported),
        convention=convention.name if convention else None,
        claimed_map=float(saved["claimed_map"]) if "claimed_map" in saved else None,
        recomputed_map=float(stored_map) if saved and isinstance(stored_map, (int, float)) else None)


def _holds_training(model, imported: bool, convention: Convention | None) -> str:
    """hashviz's protocols all rank against every non-query image, the training images included."""
    if imported:
        return convention.database_holds_training if convention else UNKNOWN
    return f"yes ({describe_protocol(model.protocol)})"


def _selection(model, imported: bool) -> str:
    if imported:
        return UNKNOWN + " (imported codes: where the exporter chose its epoch is not recorded)"
    return model.config.get("selection") or "none (fitted once, no epoch to choose)"


def protocol_summary(models) -> str:
    """One line (markdown) that says how every number on the leaderboard was measured."""
    protocols = sorted({m.protocol for m in models})
    named = ", ".join(escape(p) for p in protocols) or "no models yet"
    return (f"**Protocol** {named} · relevant = same class (multi-label: shares a label) · ranked by Hamming "
            f"distance, ties by database index · {M.metric_of('map_all').label} and {M.metric_of('map_k').label}; "
            "a query with no relevant item "
            "scores 0 · the full statement and each model's protocol card are below the tables.")


def card_table(card: ProtocolCard):
    """The card as a two-column table (pandas DataFrame) for a page."""
    import pandas as pd
    return pd.DataFrame(card.rows(), columns=["", card.model])
