"""CSV exports: the stated context lines, formula-injection prefixes, numbers unchanged."""

import csv
import io

import numpy as np
import pandas as pd

from hashviz.exports import csv_bytes, export_file_name, read_export, safe_cell

CONTEXT = {"model": "dpsh-16", "protocol": "digits-small", "rule": "hashviz: Hamming distance, ties by index"}
HOSTILE = ["=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-cmd", "@SUM(A1)", "\tTAB", "\rCR", "plain", "a=b"]


def table():
    return pd.DataFrame({"label": HOSTILE, "distance": [-3, 0, 1, 2, 3, 4, 5, 6],
                         "ap": [-0.25, 0.5, 1.0, 0.0, 0.125, 0.75, 0.3333, 1e-6]})


def test_text_cells_that_start_a_formula_get_a_quote_and_nothing_else_changes():
    data = csv_bytes(table(), CONTEXT, title="top 8 neighbours")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    body = [r for r in rows if not r[0].startswith("#")]
    assert body[0] == ["label", "distance", "ap"]
    expected = ["'" + s if s[0] in "=+-@\t\r" else s for s in HOSTILE]
    assert [r[0] for r in body[1:]] == expected
    assert [r[1] for r in body[1:]][:2] == ["-3", "0"]      # a negative number is a number, not text


def test_first_lines_state_model_protocol_and_rule_and_pandas_reads_the_rest():
    data = csv_bytes(table(), CONTEXT, title="top 8 neighbours")
    lines = data.decode("utf-8").splitlines()
    assert lines[:4] == ["# hashviz export: top 8 neighbours", "# model: dpsh-16", "# protocol: digits-small",
                         "# rule: hashviz: Hamming distance, ties by index"]
    back = pd.read_csv(io.BytesIO(data), comment="#")
    assert back["distance"].tolist() == [-3, 0, 1, 2, 3, 4, 5, 6]
    assert np.allclose(back["ap"], table()["ap"], rtol=0, atol=0)
    context, again = read_export(data)
    assert context == {"hashviz export": "top 8 neighbours", **CONTEXT}
    assert again["label"].tolist()[-2:] == ["plain", "a=b"] and again["label"][0].startswith("'=")


def test_context_lines_cannot_break_out_of_the_comment_or_start_a_cell_formula():
    data = csv_bytes(pd.DataFrame({"x": [1]}), {"model": "evil\n=cmd|' /C calc'!A0,=2+3; @SUM(1)"})
    lines = data.decode("utf-8").splitlines()
    assert len(lines) == 4 and lines[1].startswith("# model: evil")
    for cell in next(csv.reader([lines[1]])):
        assert not cell.lstrip().startswith(("=", "+", "-", "@"))
    assert pd.read_csv(io.BytesIO(data), comment="#")["x"].tolist() == [1]


def test_lists_and_column_names_are_cells_too():
    t = pd.DataFrame({"=bad": [1], "classes": [["-neg", "ok"]]})
    _, back = read_export(csv_bytes(t, CONTEXT))
    assert list(back.columns) == ["'=bad", "classes"] and back["classes"][0] == "'-neg | ok"
    assert safe_cell(-1.5) == -1.5 and safe_cell(None) is None and safe_cell("") == ""


def test_file_name_names_the_model_and_nothing_else_can_leave_it():
    assert export_file_name("dpsh-16", "neighbours-query-3") == "hashviz-dpsh-16-neighbours-query-3.csv"
    assert export_file_name("../../etc/x y", "top 5") == "hashviz-etc_x_y-top_5.csv"
