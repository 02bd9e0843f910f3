"""CSV files the app and the API hand out: every one states its model, protocol and ranking rule in
its first lines (comments starting with '#') and its file name, and no cell can open as a
spreadsheet formula.

Read one back with `pandas.read_csv(io.BytesIO(data), comment="#")` (or `read_export`, which also
returns the stated context and keeps a '#' inside a cell)."""

from __future__ import annotations

import csv
import io
import re
from typing import Mapping

import numpy as np
import pandas as pd

from hashviz.code_space import code_space
from hashviz.data import describe_protocol
from hashviz.labels import is_multi_label

# A spreadsheet evaluates a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")
# Inside a comment line a spreadsheet still splits cells at , or ; (some locales) and sees a new cell.
_CELL_START_IN_COMMENT = re.compile(r"([,;]\s*)(?=[=+\-@])")
_FILE_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_cell(value):
    """A text cell that would open as a formula, prefixed with a single quote; anything else as is.
    A list, tuple or array becomes one text cell (items joined by ' | ') first."""
    if isinstance(value, (list, tuple, np.ndarray)):
        value = " | ".join(str(v) for v in np.asarray(value, dtype=object).ravel())
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_table(table: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell and column name made safe (numeric columns untouched)."""
    out = table.copy()
    for column in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[column]) or pd.api.types.is_bool_dtype(out[column])):
            out[column] = out[column].map(safe_cell)
    out.columns = [safe_cell(str(c)) for c in out.columns]
    return out


def comment_text(value) -> str:
    """One comment line's text: control characters (a line break would end the comment) become
    spaces, and what a spreadsheet would read as a new cell cannot start a formula."""
    return _CELL_START_IN_COMMENT.sub(r"\1'", _CONTROL.sub(" ", str(value)).strip())


def ranking_rule(order: str = "Hamming distance", relevant: str = "same class as the query") -> str:
    """hashviz's own ranking rule in words (the one behind the leaderboard's numbers)."""
    return (f"hashviz: ranked by {order} ascending, ties by database index ascending; relevant = {relevant}; "
            "AP over the whole ranking, a query with no relevant item scores 0")


def model_context(model, rule: str | None = None) -> dict[str, str]:
    """{model, protocol, rule} of one model directory, in words; `rule` replaces hashviz's own rule
    (for numbers under another metric-lens rule)."""
    protocol = model.metrics.get("protocol") or describe_protocol(model.protocol)
    if rule is None:
        order = code_space(model).distance_name
        multi = is_multi_label(model.database_labels)
        rule = ranking_rule(order, "shares at least one label with the query" if multi else "same class as the query")
    return {"model": model.name, "protocol": protocol, "rule": rule}


def models_context(models) -> dict[str, str]:
    """The context of a table with one row per model (the leaderboard)."""
    protocols = sorted({describe_protocol(m.protocol) for m in models})
    return {"model": ", ".join(m.name for m in models) or "none", "protocol": "; ".join(protocols) or "none",
            "rule": ranking_rule("Hamming distance (product-quantised codes: asymmetric distance)",
                                 "same class as the query (multi-label: shares at least one label)")}


def csv_bytes(table: pd.DataFrame, context: Mapping[str, str], title: str = "", decimals: int | None = None,
              na_rep: str = "") -> bytes:
    """UTF-8 CSV: '# hashviz export: <title>', then '# <key>: <value>' for each of `context` (model,
    protocol, rule ...), then the table (no index; floats rounded to `decimals` if given; missing
    values written `na_rep`) with every text cell safe from formula injection."""
    lines = [f"# hashviz export: {comment_text(title)}" if title else "# hashviz export"]
    lines += [f"# {comment_text(key)}: {comment_text(value)}" for key, value in context.items()]
    safe = safe_table(table if decimals is None else table.round(decimals))
    # Text quoted, numbers bare: a '#' starting a cell is not read as a comment, and a spreadsheet
    # still sees numbers. CRLF rows (RFC 4180).
    body = safe.to_csv(index=False, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC, na_rep=na_rep)
    return ("\r\n".join(lines) + "\r\n" + body).encode("utf-8")


def export_file_name(model_name: str, what: str) -> str:
    """'hashviz-<model>-<what>.csv' with anything but letters, digits, '.', '_' and '-' replaced."""
    parts = [_FILE_NAME_UNSAFE.sub("_", str(p)).strip("._") or "_" for p in ("hashviz", model_name, what)]
    return "-".join(parts) + ".csv"


def read_export(data: bytes) -> tuple[dict[str, str], pd.DataFrame]:
    """(the stated context, the table) of a file written by `csv_bytes`; quoted cells come back
    with their leading quote (what a spreadsheet shows)."""
    text = data.decode("utf-8")
    lines = text.splitlines(keepends=True)
    head = 0
    context: dict[str, str] = {}
    while head < len(lines) and lines[head].startswith("#"):
        key, _, value = lines[head][1:].strip().partition(": ")
        if value:
            context[key] = value
        head += 1
    return context, pd.read_csv(io.StringIO("".join(lines[head:])))
