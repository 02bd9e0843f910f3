"""The operator's own import grants its images trust; a model directory from elsewhere does not.
Every test has its own config folder ($HASHVIZ_CONFIG) and no $HASHVIZ_DATA_ROOTS."""

import html
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from app_support import app_on
from export_fixtures import write_deephash_export
from hashviz.cli import main
from hashviz.data.images import model_images
from hashviz.data.trusted_roots import trust_root, trusted_roots, untrust_root
from hashviz.errors import HashvizError
from hashviz.zoo import load_model_dir


@pytest.fixture(autouse=True)
def own_config(tmp_path, monkeypatch):
    config = tmp_path / "config"
    monkeypatch.setenv("HASHVIZ_CONFIG", str(config))
    monkeypatch.delenv("HASHVIZ_DATA_ROOTS", raising=False)
    monkeypatch.delenv("HASHVIZ_DEMO", raising=False)
    return config / "data_roots.json"


def _import_cli(export, out) -> int:
    return main(["import-codes", "--deephash-dir", str(export.save), "--database-list", str(export.database_list),
                 "--query-list", str(export.query_list), "--image-root", str(export.data), "--out", str(out)])


def _thumbnail_warnings(at) -> list[str]:
    """The page's "No thumbnails" warnings as plain text (the page escapes paths for markdown)."""
    return [html.unescape(w.value) for w in at.warning if w.value.startswith("No thumbnails")]


def test_import_codes_records_its_image_root_and_the_app_shows_the_thumbnails(tmp_path, own_config, monkeypatch,
                                                                              capsys):
    export = write_deephash_export(tmp_path / "export")
    assert _import_cli(export, tmp_path / "models" / "mine") == 0
    assert json.loads(own_config.read_text()) == {"roots": [str(export.data.resolve())]}
    assert f"images: {export.data} is a trusted data root now" in capsys.readouterr().out
    images = model_images(load_model_dir(tmp_path / "models" / "mine"))       # no env var, no restart
    picture = np.asarray(Image.open(export.data / "images" / "database_0.png"))
    assert np.array_equal(images[0], picture)                                 # the file itself, not a placeholder
    at = app_on(tmp_path / "models", "pages/retrieval.py", monkeypatch, model_name="mine")
    assert _thumbnail_warnings(at) == []


def test_a_model_directory_from_elsewhere_still_shows_the_placeholder_message(tmp_path, monkeypatch):
    mine, theirs = write_deephash_export(tmp_path / "mine"), write_deephash_export(tmp_path / "theirs")
    assert _import_cli(mine, tmp_path / "models" / "mine") == 0
    copied = tmp_path / "models" / "copied"                  # the same model, its config naming another root
    shutil.copytree(tmp_path / "models" / "mine", copied)
    config = json.loads((copied / "config.json").read_text())
    config["images"]["root"] = str(theirs.data)
    (copied / "config.json").write_text(json.dumps(config))
    with pytest.raises(HashvizError, match="outside the data roots"):
        model_images(load_model_dir(copied))
    at = app_on(tmp_path / "models", "pages/retrieval.py", monkeypatch, model_name="copied")
    (warning,) = _thumbnail_warnings(at)
    assert f"image folder {theirs.data} is outside the data roots" in warning
    assert trusted_roots() == [mine.data.resolve()]          # the copy granted nothing


def test_the_same_directory_on_a_server_that_did_not_import_it_shows_the_placeholder(tmp_path, monkeypatch):
    export = write_deephash_export(tmp_path / "export")
    assert _import_cli(export, tmp_path / "models" / "mine") == 0
    monkeypatch.setenv("HASHVIZ_CONFIG", str(tmp_path / "another-server"))
    at = app_on(tmp_path / "models", "pages/retrieval.py", monkeypatch, model_name="mine")
    assert len(_thumbnail_warnings(at)) == 1


def test_data_roots_command_lists_adds_and_removes(tmp_path, own_config, capsys):
    folder = tmp_path / "pictures"
    folder.mkdir()
    assert main(["data-roots", "add", str(folder)]) == 0
    assert main(["data-roots", "add", str(folder)]) == 0        # twice: kept once
    assert json.loads(own_config.read_text()) == {"roots": [str(folder.resolve())]}
    capsys.readouterr()
    assert main(["data-roots"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[:2] == [f"trusted roots ({own_config}):", f"  {folder.resolve()}"]
    assert listed[2] == "$HASHVIZ_DATA_ROOTS: (unset)"
    assert main(["data-roots", "remove", str(folder)]) == 0
    assert json.loads(own_config.read_text()) == {"roots": []}
    capsys.readouterr()
    assert main(["data-roots", "remove", str(folder)]) == 2
    assert capsys.readouterr().err.strip() == (f"hashviz: error: {folder} is not a trusted data root ({own_config}): "
                                               "`hashviz data-roots list` shows them")
    assert main(["data-roots", "add", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.strip() == f"hashviz: error: {tmp_path / 'missing'} is not a folder"


def test_a_damaged_list_is_one_clear_error_and_never_half_written(tmp_path, own_config):
    own_config.parent.mkdir(parents=True)
    own_config.write_text('{"roots": ["relative/path"]}')
    with pytest.raises(HashvizError, match="must hold .*absolute folder paths.*fix or delete"):
        trusted_roots()
    own_config.write_text("{not json")
    with pytest.raises(HashvizError, match="cannot read the trusted data roots"):
        trust_root(tmp_path)
    assert own_config.read_text() == "{not json"              # a refused edit leaves the file as it was
    own_config.unlink()
    trust_root(tmp_path / "a")
    trust_root(tmp_path / "b")
    untrust_root(tmp_path / "a")
    assert trusted_roots() == [(tmp_path / "b").resolve()]
    assert sorted(p.name for p in own_config.parent.iterdir()) == [".data_roots.json.lock", "data_roots.json"]
