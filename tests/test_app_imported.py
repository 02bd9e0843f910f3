"""An imported DeepHash-pytorch export (multi-label, images referenced by list files) through every
page in Streamlit's AppTest: no traceback, its labels by name, its pictures from the files."""

import numpy as np
import pytest

from app_support import app_on
from export_fixtures import write_deephash_export
from hashviz import codemap
from hashviz import retrieval as R
from hashviz.code_space import code_space
from hashviz.data.images import model_images
from hashviz.importing import import_codes
from hashviz.zoo import class_names_of, load_model_dir


@pytest.fixture(scope="module")
def imported_root(tmp_path_factory):
    base = tmp_path_factory.mktemp("imported")
    export = write_deephash_export(base / "export", missing=(1,))
    names = base / "names.txt"
    names.write_text("\n".join(export.class_names))
    import_codes(out=base / "models" / "coco-csq", deephash_dir=export.save, database_list=export.database_list,
                 query_list=export.query_list, image_root=export.data, class_names=names)
    return base / "models"


@pytest.fixture(autouse=True)
def data_roots(imported_root, monkeypatch):
    """The app reads imported images only under its data roots: here, the export's folder."""
    monkeypatch.setenv("HASHVIZ_DATA_ROOTS", str(imported_root.parent))


def test_retrieval_tiles_carry_the_files_pictures_and_every_label(imported_root):
    model = load_model_dir(imported_root / "coco-csq")
    images = model_images(model)
    query = R.query_from_set(model, 0, images)
    assert query.image.shape == (52, 30)              # query_0.png, grey, aspect kept
    ranking = R.rank_query(model, code_space(model), R.query_code(model, query), query.label, 10)
    data = R.grid_data(ranking, images, class_names_of(model))
    tiles = [t for g in data["groups"] for t in g["tiles"]]
    assert all(t["uri"].startswith("data:image/png;base64,") for t in tiles)
    by_row = {t["row"]: t for t in tiles}
    if 0 in by_row:
        assert by_row[0]["label"] == "person+dog"     # database_0: labels 0 and 1 (every third row)


@pytest.mark.parametrize("page", ["pages/retrieval.py", "pages/diagnostics.py", "pages/code_map.py",
                                  "pages/evaluate.py"])
def test_every_page_opens_on_an_imported_multi_label_model(imported_root, page, monkeypatch, tmp_path):
    monkeypatch.setenv(codemap.CACHE_ENV, str(tmp_path / "projections"))
    at = app_on(imported_root, page, monkeypatch, model_name="coco-csq", cm_method="pca")
    assert not at.exception
    text = " ".join(str(e.value) for e in list(at.markdown) + list(at.caption) + list(at.info))
    if page == "pages/retrieval.py":
        assert "person" in " ".join(at.dataframe[0].value["label"])
    if page == "pages/evaluate.py":
        assert "shares at least one label" in text


def test_partial_matches_are_marked_and_the_note_states_the_rule(imported_root):
    model = load_model_dir(imported_root / "coco-csq")
    query = R.query_from_set(model, 0, None)              # query 0: person+dog
    ranking = R.rank_query(model, code_space(model), R.query_code(model, query), query.label,
                           len(model.database_codes))
    marks = dict(zip(ranking.rows.tolist(), ranking.marks()))
    # database 0 = person+dog (same set: right), 4 = person (shares one: partial), 2 = car (none: wrong)
    assert (marks[0], marks[4], marks[2]) == ("right", "partial", "wrong")
    assert "shares at least one label" in R.protocol_note(model)


def test_the_failure_finder_shows_the_worst_queries_pictures(imported_root, monkeypatch):
    at = app_on(imported_root, "pages/evaluate.py", monkeypatch, model_name="coco-csq")
    worst = next(d.value for d in at.dataframe if "query row" in d.value.columns)
    captions = [e.proto.imgs[0].caption for e in at.main if type(e).__name__ == "Image"]
    assert captions == [f"query row {r} · {c}" for r, c in zip(worst["query row"], worst["class"])]
    assert "person+dog" in captions[0] or "person+dog" in " ".join(worst["class"])
