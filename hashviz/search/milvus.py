"""The Milvus index kind (``HammingIndex(codes, kind="milvus", ...)``): the same knn/radius results as ``kind="flat"``.

``pymilvus`` is imported lazily (only when a Milvus index is made), so hashviz works without it.
Install it with ``pip install -r requirements-milvus.txt`` (pymilvus 2.5 + milvus-lite 2.5: Milvus Lite 3
rejects binary vectors).

Collection layout: ``id INT64`` primary key = database row index (no auto id), ``code BINARY_VECTOR(dim=bits)``
with a ``BIN_FLAT`` index and the ``HAMMING`` metric, so every search is an exact scan on the server. The
collection's description tags it ``hashviz codes sha256:<fingerprint of the codes>``: hashviz drops or reuses
only a collection so tagged with the fingerprint of the very codes it is pushing (a retrained model of the same
size gets a collection of its own, never the old codes; a collection made by someone else is never dropped).

The server's token (``HASHVIZ_MILVUS_TOKEN``) goes only to the server's configured uri (``HASHVIZ_MILVUS_URI``),
never to a uri typed in the browser; callers that are the operator (the CLI) pass it explicitly.

Exactness on the client (the server's order inside a tie group is not specified, and a top-k can cut a
tie group anywhere):

* knn asks for ``L = min(ntotal, 2k + 16, 16384)`` candidates and re-sorts them by (distance, id). When the
  L-th distance is larger than the k-th, the whole tie group at the k-th distance is in hand and the first k
  are exactly flat's. Otherwise the lowest ids at the k-th distance are fetched with range searches on the
  distance band ``[d_k, d_k + 1)`` restricted to id windows ``id >= a and id < b``, walking the ids upwards
  (a window that fills the 16,384-result cap is halved) until enough ids are found.
* radius uses a range search (``radius = r + 1``: Milvus keeps ``range_filter <= distance < radius``); a query
  whose result reaches the 16,384 cap is redone over id windows, so nothing is cut.

Milvus cannot return more than 16,384 neighbours per query: knn with a larger k raises HashvizError.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from hashviz.codes import check_packed
from hashviz.errors import HashvizError
from hashviz.search.base import HammingIndex, register_kind
from hashviz.settings import ENV

__all__ = ["MilvusHammingIndex", "codes_fingerprint", "collection_name_for", "open_or_push", "push_codes",
           "server_token_for", "MAX_TOPK"]

MAX_TOPK = 16384          # Milvus' limit on results per query (topk and range-search limit)
ID_FIELD = "id"
CODE_FIELD = "code"
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TAG_PREFIX = "hashviz codes sha256:"
URI_ENV, TOKEN_ENV = ENV["milvus_uri"], "HASHVIZ_MILVUS_TOKEN"     # the uri: a deployment setting
_INSTALL = "pip install -r requirements-milvus.txt  (pymilvus==2.5.18 milvus-lite==2.5.1 'setuptools<81')"


def _pymilvus():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pymilvus
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise HashvizError(f"the Milvus backend needs pymilvus: {_INSTALL}") from exc
    # pymilvus logs its own "[ERROR]" lines to stderr; hashviz reports every failure itself, in one line.
    for name in ("pymilvus", "pymilvus.milvus_client"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return pymilvus


def codes_fingerprint(codes: np.ndarray) -> str:
    """sha256 (hex) of packed codes: their shape and bytes."""
    codes = np.ascontiguousarray(codes)
    digest = hashlib.sha256(f"{codes.dtype.str}{codes.shape}".encode())
    digest.update(memoryview(codes).cast("B") if codes.size else b"")
    return digest.hexdigest()


def server_token_for(uri: str) -> str:
    """The server's Milvus token for `uri`: only when it is the configured uri, else none."""
    configured = os.environ.get(URI_ENV, "")
    return os.environ.get(TOKEN_ENV, "") if configured and str(uri) == configured else ""


def collection_name_for(model_dir, codes: np.ndarray | None = None) -> str:
    """A valid Milvus collection name for a model directory: ``hv_<directory name>[_<fingerprint>]``.

    With ``codes``, the first 12 hex digits of their fingerprint are appended, so a retrained model
    (same directory, new codes) gets a collection of its own.

    Characters Milvus does not allow (anything but letters, digits and ``_``) become ``_``; when that
    changed the name, or it had to be shortened, an 8-hex digest of the original directory name is
    appended so that e.g. ``dsh-64`` and ``dsh_64`` get different collections. Names are at most 255
    characters (Milvus' limit) and never start with a digit.
    """
    path = Path(model_dir)
    name = path.name or path.resolve().name or "root"
    clean = re.sub(r"[^A-Za-z0-9_]", "_", name)
    base = "hv_" + clean
    if clean != name or len(base) > 200:
        digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
        base = base[:200] + "_" + digest
    return base if codes is None else f"{base}_{codes_fingerprint(codes)[:12]}"


def _check_collection_name(collection) -> str:
    if not isinstance(collection, str) or not collection:
        raise HashvizError("a Milvus collection name is required (see collection_name_for(model_dir))")
    if len(collection) > 255 or not _NAME_RE.match(collection):
        raise HashvizError(
            f"invalid Milvus collection name {collection!r}: use letters, digits and '_', not starting with "
            "a digit, at most 255 characters (collection_name_for(model_dir) makes one)")
    return collection


def _check_uri(uri) -> str:
    if uri is None:
        raise HashvizError("a Milvus uri is required: a local Milvus Lite file like 'models/milvus.db' "
                           "or a server like 'http://host:19530'")
    uri = str(uri)
    if not uri.startswith(("http://", "https://", "tcp://", "unix:")) and not uri.endswith(".db"):
        raise HashvizError(f"Milvus uri {uri!r}: use a Milvus Lite file ending in '.db' or 'http://host:port'")
    return uri


def _connect(uri: str, token: str | None, timeout: float):
    """A MilvusClient, or HashvizError within about ``timeout`` seconds."""
    pymilvus = _pymilvus()
    if uri.endswith(".db"):
        parent = Path(uri).expanduser().parent
        if not parent.is_dir():
            raise HashvizError(f"Milvus Lite file {uri!r}: the folder {str(parent)!r} does not exist")
    if token is None:
        token = server_token_for(uri)
    start = time.monotonic()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # milvus-lite imports pkg_resources (deprecated)
            return pymilvus.MilvusClient(uri=uri, token=token or "", timeout=timeout)
    except Exception as exc:  # MilvusException, grpc errors, milvus-lite start failures
        waited = time.monotonic() - start
        raise HashvizError(
            f"cannot reach Milvus at {uri!r} (gave up after {waited:.1f} s): {_reason(exc)}. "
            "Check that the server runs and the uri/token are right, or use a local '.db' file "
            "(Milvus Lite)") from exc


def _reason(exc: Exception) -> str:
    message = getattr(exc, "message", None)
    return str(message) if message else str(exc)


def _schema(pymilvus, bits: int, description: str = ""):
    schema = pymilvus.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False,
                                                 description=description)
    schema.add_field(ID_FIELD, pymilvus.DataType.INT64, is_primary=True)
    schema.add_field(CODE_FIELD, pymilvus.DataType.BINARY_VECTOR, dim=bits)
    return schema


def push_codes(codes: np.ndarray, uri: str, collection: str, progress: Callable[[int, int], None] | None = None,
               *, token: str | None = None, timeout: float = 10.0,
               batch_size: int = 5_000) -> "MilvusHammingIndex":
    """(Re)create ``collection`` at ``uri`` and insert ``codes`` (packed uint8 (n, bits/8)); row i gets id i.

    Inserts in batches of ``batch_size`` rows and calls ``progress(done, total)`` after each batch (and
    once with ``(0, total)`` before the first). An existing collection of that name is dropped first only
    when hashviz made it for these very codes (its fingerprint tag); any other raises HashvizError.
    Returns the opened index.
    """
    return MilvusHammingIndex(codes, uri=uri, collection=collection, progress=progress, token=token,
                              timeout=timeout, batch_size=batch_size)


def open_or_push(codes: np.ndarray, uri: str, collection: str, *, token: str | None = None,
                 timeout: float = 10.0, progress: Callable[[int, int], None] | None = None) -> "MilvusHammingIndex":
    """The collection holding exactly ``codes``: reused when tagged with their fingerprint and complete,
    else (re)pushed. A collection of that name that hashviz did not make for these codes is an error."""
    try:
        index = MilvusHammingIndex.open(uri, collection, token=token, timeout=timeout)
    except HashvizError as exc:
        if "has no collection" not in str(exc) and "is empty" not in str(exc):
            raise
    else:
        if index.fingerprint == codes_fingerprint(codes) and index.ntotal == len(codes):
            return index
        index.close()
    return push_codes(codes, uri, collection, progress, token=token, timeout=timeout)


@register_kind("milvus")
class MilvusHammingIndex(HammingIndex):
    """``HammingIndex`` whose codes live in a Milvus collection (Milvus Lite file or a server/cluster).

    ``MilvusHammingIndex(codes, uri=..., collection=...)`` (or ``HammingIndex(codes, kind="milvus", ...)``)
    (re)creates the collection and inserts ``codes``; with ``codes=None`` it opens an existing
    collection without inserting (also ``MilvusHammingIndex.open(uri, collection)``).
    ``token``: ``"user:password"`` or an API key for a secured server (default: ``HASHVIZ_MILVUS_TOKEN`` when
    ``uri`` is ``HASHVIZ_MILVUS_URI``, else none). ``timeout``: seconds for connecting and for each request.
    """

    def __init__(self, codes=None, kind: str = "milvus", *, uri=None, collection=None, token: str | None = None,
                 progress: Callable[[int, int], None] | None = None, timeout: float = 10.0,
                 batch_size: int = 5_000):
        self._check_kind(kind)
        self._uri = _check_uri(uri)
        self._collection = _check_collection_name(collection)
        self._timeout = float(timeout)
        if codes is not None:
            codes = check_packed(codes, what="database codes")
            if codes.shape[0] == 0:
                raise HashvizError("the database is empty: there are no codes to push to Milvus")
            if not isinstance(batch_size, int) or batch_size < 1:
                raise HashvizError(f"batch_size must be a positive integer, got {batch_size!r}")
        self._client = _connect(self._uri, token, self._timeout)
        if codes is not None:
            self._create_and_insert(np.ascontiguousarray(codes), progress, batch_size)
        self._open_existing()

    @classmethod
    def open(cls, uri: str, collection: str, *, token: str | None = None, timeout: float = 10.0):
        """Open an existing collection (no insert)."""
        return cls(None, uri=uri, collection=collection, token=token, timeout=timeout)

    # ------------------------------------------------------------ set-up
    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, timeout=self._timeout, **kwargs)
        except HashvizError:
            raise
        except Exception as exc:
            raise HashvizError(f"Milvus {what} on collection {self._collection!r} at {self._uri!r} failed: "
                               f"{_reason(exc)}") from exc

    def _create_and_insert(self, codes: np.ndarray, progress, batch_size: int) -> None:
        pymilvus = _pymilvus()
        client = self._client
        bits = codes.shape[1] * 8
        n = codes.shape[0]
        fingerprint = codes_fingerprint(codes)
        if self._call("has_collection", client.has_collection, self._collection):
            info = self._call("describe_collection", client.describe_collection, self._collection)
            if info.get("description") != TAG_PREFIX + fingerprint:
                raise HashvizError(
                    f"Milvus at {self._uri!r} already has a collection {self._collection!r} that hashviz did not "
                    "make for these codes; it is left as it is: choose another collection name or drop it yourself")
            self._call("drop_collection", client.drop_collection, self._collection)   # ours, half-pushed
        index_params = client.prepare_index_params()
        index_params.add_index(field_name=CODE_FIELD, index_type="BIN_FLAT", metric_type="HAMMING")
        # Strong consistency: a search right after the push sees every row (a cluster's default,
        # Bounded, may miss the last inserts for a moment); Milvus Lite is always consistent
        self._call("create_collection", client.create_collection, self._collection,
                   schema=_schema(pymilvus, bits, TAG_PREFIX + fingerprint), index_params=index_params,
                   consistency_level="Strong")
        if progress is not None:
            progress(0, n)
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            rows = [{ID_FIELD: i, CODE_FIELD: codes[i].tobytes()} for i in range(start, stop)]
            self._call("insert", client.insert, self._collection, rows)
            if progress is not None:
                progress(stop, n)
        try:
            self._call("flush", client.flush, self._collection)
        except HashvizError:  # Milvus Lite flushes on its own; a server needs it for row counts
            pass

    def _open_existing(self) -> None:
        client = self._client
        if not self._call("has_collection", client.has_collection, self._collection):
            raise HashvizError(f"Milvus at {self._uri!r} has no collection {self._collection!r}: push the codes "
                               "first (push_codes(codes, uri, collection))")
        info = self._call("describe_collection", client.describe_collection, self._collection)
        fields = {f["name"]: f for f in info.get("fields", [])}
        code = fields.get(CODE_FIELD)
        if ID_FIELD not in fields or code is None or "dim" not in code.get("params", {}):
            raise HashvizError(f"Milvus collection {self._collection!r} was not made by hashviz "
                               f"(expected fields {ID_FIELD!r} and binary vector {CODE_FIELD!r})")
        tag = str(info.get("description") or "")
        self._fingerprint = tag[len(TAG_PREFIX):] if tag.startswith(TAG_PREFIX) else None
        self._call("load_collection", client.load_collection, self._collection)
        stats = self._call("get_collection_stats", client.get_collection_stats, self._collection)
        self._set_size(int(code["params"]["dim"]), int(stats.get("row_count", 0)))
        if self._ntotal == 0:
            raise HashvizError(f"the Milvus collection {self._collection!r} is empty: there are no codes to search")

    # ------------------------------------------------------------ properties
    uri = property(lambda self: self._uri, doc="The Milvus uri (a Lite '.db' file or a server).")
    collection = property(lambda self: self._collection, doc="The collection name.")

    @property
    def fingerprint(self) -> str | None:
        """The fingerprint of the codes hashviz pushed into this collection (None: not pushed by hashviz)."""
        return self._fingerprint

    def memory_bytes(self) -> int:
        """The raw vector data the server holds (n * bits/8); Milvus adds ids (8 bytes/code) and overhead."""
        return self._ntotal * (self._bits // 8)

    def close(self) -> None:
        """Close the connection (the collection stays)."""
        try:
            self._client.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return (f"MilvusHammingIndex(uri={self._uri!r}, collection={self._collection!r}, "
                f"ntotal={self._ntotal}, bits={self._bits})")

    # ------------------------------------------------------------ search
    def _search(self, data: list[bytes], limit: int, params: dict | None = None, filter: str = ""):
        search_params = {"metric_type": "HAMMING", "params": params or {}}
        res = self._call("search", self._client.search, self._collection, data=data, limit=int(limit),
                         anns_field=CODE_FIELD, search_params=search_params, output_fields=[], filter=filter)
        out = []
        for hits in res:
            ids = np.fromiter((h["id"] for h in hits), dtype=np.int64, count=len(hits))
            dist = np.fromiter((h["distance"] for h in hits), dtype=np.float64, count=len(hits))
            dist = np.rint(dist).astype(np.int32)
            order = np.lexsort((ids, dist))
            out.append((ids[order], dist[order]))
        return out

    def _batches(self, nq: int, limit: int):
        per_call = max(1, min(1024, 2_000_000 // max(1, limit)))
        for s in range(0, nq, per_call):
            yield s, min(nq, s + per_call)

    def _band_lowest(self, qbytes: bytes, dmin: int, dmax: int, need: int | None, first_hi: int | None = None,
                     cap: int = MAX_TOPK) -> tuple[np.ndarray, np.ndarray]:
        """Ids (ascending) with dmin <= distance <= dmax, walking id windows ``[lo, hi)`` upwards.

        Stops once ``need`` ids are found (all of them when need is None). A window whose answer fills
        ``cap`` results may be cut, so it is halved and asked again; ``first_hi`` is the end of the first
        window (a window known to hold at least ``need`` matches keeps this to one request).
        """
        params = {"radius": dmax + 1}
        if dmin > 0:
            params["range_filter"] = dmin
        ids_parts, dist_parts = [], []
        found = 0
        lo = 0
        width = self._ntotal if first_hi is None else max(1, min(self._ntotal, int(first_hi)))
        while lo < self._ntotal and (need is None or found < need):
            hi = min(self._ntotal, lo + width)
            flt = f"{ID_FIELD} >= {lo} and {ID_FIELD} < {hi}" if (lo > 0 or hi < self._ntotal) else ""
            ids, dist = self._search([qbytes], cap, params, flt)[0]
            if ids.size >= cap and width > 1:
                width = max(1, width // 2)
                continue
            order = np.argsort(ids, kind="stable")
            ids_parts.append(ids[order])
            dist_parts.append(dist[order])
            found += ids.size
            lo = hi
            if ids.size < cap // 4:
                width = min(self._ntotal, width * 2)
        ids = np.concatenate(ids_parts) if ids_parts else np.empty(0, np.int64)
        dist = np.concatenate(dist_parts) if dist_parts else np.empty(0, np.int32)
        if need is not None:
            ids, dist = ids[:need], dist[:need]
        return ids, dist

    def _knn(self, queries: np.ndarray, k: int):
        if k > MAX_TOPK:
            raise HashvizError(f"Milvus returns at most {MAX_TOPK} neighbours per query, asked for k={k}: "
                               "use a smaller k or the faiss 'flat' index")
        n = self._ntotal
        limit = min(n, 2 * k + 16, MAX_TOPK)
        nq = queries.shape[0]
        data = [q.tobytes() for q in queries]
        d_out = np.empty((nq, k), dtype=np.int32)
        i_out = np.empty((nq, k), dtype=np.int64)
        for s, e in self._batches(nq, limit):
            for j, (ids, dist) in enumerate(self._search(data[s:e], limit), start=s):
                if ids.size < k:
                    raise HashvizError(f"Milvus returned {ids.size} results for a query, expected at least {k} "
                                       f"(collection {self._collection!r} has {n} rows: is it fully loaded?)")
                kth = int(dist[k - 1])
                if ids.size < n and int(dist[-1]) == kth:
                    below = dist < kth
                    n_below = int(below.sum())
                    need = k - n_below
                    # the candidates at the k-th distance: the window [0, need-th lowest of their ids]
                    # holds at least `need` of the tie group, usually the answer in one request
                    seen = np.sort(ids[dist == kth])
                    cap = min(MAX_TOPK, max(4 * need, 1024))
                    at_ids, at_dist = self._band_lowest(data[j], kth, kth, need, int(seen[need - 1]) + 1, cap)
                    ids = np.concatenate([ids[below], at_ids])
                    dist = np.concatenate([dist[below], at_dist])
                d_out[j], i_out[j] = dist[:k], ids[:k]
        return d_out, i_out

    def _radius(self, queries: np.ndarray, r: int):
        data = [q.tobytes() for q in queries]
        out = []
        for s, e in self._batches(len(data), MAX_TOPK):
            for j, (ids, dist) in enumerate(self._search(data[s:e], MAX_TOPK, {"radius": r + 1}), start=s):
                if ids.size >= MAX_TOPK:
                    ids, dist = self._band_lowest(data[j], 0, r, None)
                    order = np.lexsort((ids, dist))
                    ids, dist = ids[order], dist[order]
                out.append((ids, dist))
        return out
