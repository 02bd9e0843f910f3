"""hashviz's Python API: `import hashviz as hv` (docs/python-api.md).

Plain data in (numpy arrays, paths, a torch module), plain data out (a `Model`, pandas DataFrames
and Series), the same functions behind the app's pages and the CLI, so a number means the same thing
wherever it is printed. Nothing here imports streamlit; torch is imported only by `from_network` and
by encoding an image.

    hv.load(path)                        a model directory as a Model
    hv.from_arrays(db_codes, q_codes, database_labels=..., query_labels=...)   codes you computed
    hv.from_network(net, db_images, q_images, database_labels=..., query_labels=...)   your network
    hv.evaluate(model, rule="hashviz", per_query=False)   the metrics (as `hashviz eval`)
    hv.neighbours(model, query, n=20)    one query's top n as a DataFrame (as Retrieval ranks)
    hv.compare(model_a, model_b)         per query: AP under each, the winner, both fail
    hv.launch_app(models)                the app in the background; a handle with .url and .close()
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hashviz.api_models import Model, load, model_dir_of
from hashviz.errors import HashvizError

__all__ = ["Model", "load", "from_arrays", "from_network", "evaluate", "neighbours", "compare", "launch_app",
           "HashvizError"]


def from_arrays(database_codes, query_codes, *, database_labels=None, query_labels=None, images=None,
                image_root=None, class_names=None, name=None) -> Model:
    """A codes-only Model from codes you computed, checked exactly as `hashviz import-codes` checks
    them (the same one-line HashvizError messages).

    database_codes, query_codes: (n, bits) in {0, 1} or {-1, +1} (what torch.sign gives; an exact 0
    counts as -1), or packed uint8 (n, bits / 8) (a uint8 array holding a value above 1 is read as
    packed); numpy arrays or torch tensors.
    database_labels, query_labels: int (n,) classes, or 0/1 one-hot / multi-hot (n, C) (multi-label:
    relevant = at least one shared label).
    images: the rows' images, database rows then query rows: an array uint8 (n_db + n_q, H, W[, C])
    (floats taken as [0, 1]), kept in the model directory; or a list of n_db + n_q file paths,
    relative to `image_root` (else absolute), which the model names without copying them.
    class_names: one name per class. name: the model's (folder) name, default "arrays".
    """
    from hashviz.api_models import from_arrays as make
    return make(database_codes, query_codes, database_labels=database_labels, query_labels=query_labels,
                images=images, image_root=image_root, class_names=class_names, name=name)


def from_network(net, database_images, query_images, *, database_labels=None, query_labels=None, transform=None,
                 batch_size: int = 256, name=None, class_names=None) -> Model:
    """A Model from your own torch.nn.Module: the sign of its output is the code (a value > 0 is bit 1).

    database_images, query_images: a torch Dataset (items are images or (image, label) tuples; its
    labels are used when database_labels / query_labels are not given), an array uint8 (N, H, W[, C])
    or a list of image file paths. Each image reaches the network as float32 (C, H, W) in [0, 1]
    (a Dataset's float tensors as they are), batched, after `transform` (a function or a
    torch.nn.Module run on the batch), on the device of the network's weights; the network is put in
    eval mode. A progress bar shows the encoding.

    The Model keeps the network: `hv.neighbours` encodes image queries with it, and `Model.save`
    stores it (when `transform` is None or a torch.nn.Module and torch.export can trace it) as a
    graph of ATen operators in JSON with safetensors weights, whose loading runs no pickle
    (hashviz.network_store), so the app encodes uploaded queries with it like a trained model's.
    """
    from hashviz.network_encoding import from_network as make
    return make(net, database_images, query_images, database_labels=database_labels, query_labels=query_labels,
                transform=transform, batch_size=batch_size, name=name, class_names=class_names)


def evaluate(model, rule: str = "hashviz", per_query: bool = False):
    """The model's metrics, as `hashviz eval` gives them.

    rule "hashviz" (the leaderboard's): a Series of every reported metric (mAP@all, mAP@1000,
    tie-aware mAP, tie range, P@H<=2, precision_at_<k>), the stored ones when the model has them.
    Any other metric-lens rule ("deephash-pytorch", "hashnet", "11-point"; hashviz.metric_rules
    .PRESETS): a Series with map (the rule's mean), queries and counted (queries not dropped).
    per_query=True: a DataFrame with one row per query (query_row, labels, ap; "11-point": eleven_point),
    whose mean over counted queries is the Series' map (NaN where the rule drops a query).
    """
    from hashviz.metric_rules import preset
    model = model_dir_of(model)
    chosen = preset(rule)
    if per_query:
        return _per_query(model, chosen)
    if chosen.key == "hashviz":
        from hashviz.evaluation import model_metrics
        from hashviz.metrics import reported_metrics
        metrics = model_metrics(model)
        values = {m.key: metrics.get(m.key) for m in reported_metrics()}
        values.update({f"precision_at_{k}": v for k, v in metrics["precision_at_k"].items()})
        return pd.Series(values, name=model.name, dtype="float64")
    from hashviz.metric_rules import score_model
    result = score_model(model, chosen.rule)
    return pd.Series({"map": result.value, "queries": result.queries, "counted": result.counted},
                     name=f"{model.name}: {chosen.label}", dtype="float64")


def _per_query(model, chosen) -> pd.DataFrame:
    from hashviz.labels import label_text
    from hashviz.zoo import class_names_of
    if chosen.key == "hashviz":
        from hashviz.failures import per_query_ap
        values = np.asarray(per_query_ap(model), dtype=np.float64)
    else:
        from hashviz.metric_rules import score_model
        values = score_model(model, chosen.rule).per_query
    names = class_names_of(model)
    column = "eleven_point" if chosen.rule.measure == "11-point" else "ap"
    return pd.DataFrame({"query_row": np.arange(len(values)),
                         "labels": [label_text(label, names) for label in model.query_labels],
                         column: values})


def neighbours(model, query, n: int = 20) -> pd.DataFrame:
    """One query's top n, ranked as the app's Retrieval ranks (distance ascending, ties by database
    row): columns rank, database_row, distance (Hamming, or pq distance), tie_group_size (items of
    the whole database at that distance), relevant (None when the query has no label), labels,
    image_path (the file an imported model names, else None).

    query: a query-set row (an int, or ("query", i)), a database row (("database", i)), a code
    (1-D: bits values in {0,1} / {-1,+1}, or packed uint8 bytes), or an image (H, W[, C]) that the
    model's network encodes (HashvizError when the model has none).
    """
    from hashviz.neighbour_table import query_neighbours
    return query_neighbours(model, query, n)


def compare(model_a, model_b) -> pd.DataFrame:
    """Two models over the same queries and database, one row per query: query_row, labels, ap_a,
    ap_b (each query's AP@all: their means are the models' mAP@all), winner ("A", "B" or "tie"),
    relevant_top10_a / _b and both_fail (no relevant item in either top 10). HashvizError, one
    line, when their queries or databases differ."""
    from hashviz.comparison import compare_models
    return compare_models(model_dir_of(model_a), model_dir_of(model_b))


def launch_app(models, *, port: int | None = None, demo: bool = False):
    """Start the app (what `hashviz serve` runs) in a background process on a free loopback port
    (or `port`) and return once it answers, with a handle: `.url`, `.close()` (ends the server and
    frees the port), `with hv.launch_app(...) as app:`; in Jupyter the handle shows the app inline.

    models: a models root, a model directory, or a list of model directories and Models (copied to
    a temporary models root, removed on close). demo=True serves the read-only demo.
    """
    from hashviz.app_launcher import launch_app as start
    return start(models, port=port, demo=demo)
