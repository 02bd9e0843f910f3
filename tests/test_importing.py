"""Importing other tools' exports: DeepHash-pytorch save folders, list files with images, COCO-style
multi-label data, and the refusals (row counts, bad lines, disagreeing labels)."""

import re

import numpy as np
import pytest

from export_fixtures import reference_map_all, write_deephash_export
from hashviz.cli import main
from hashviz.data.images import model_images
from hashviz.errors import HashvizError
from hashviz.importing import find_deephash_arrays, import_codes, read_image_list
from hashviz.zoo import load_model_dir


@pytest.fixture(autouse=True)
def data_roots(tmp_path, monkeypatch):
    """The app reads imported images only under its data roots: here, each test's folder."""
    monkeypatch.setenv("HASHVIZ_DATA_ROOTS", str(tmp_path))


def _import(export, out, **kw):
    return import_codes(out=out, deephash_dir=export.save, database_list=export.database_list,
                        query_list=export.query_list, image_root=export.data, **kw)


def test_the_one_command_imports_a_deephash_save_folder_with_its_images(tmp_path, capsys):
    export = write_deephash_export(tmp_path / "export")
    names = tmp_path / "names.txt"
    names.write_text("\n".join(export.class_names) + "\n")
    out = tmp_path / "models" / "mine"
    assert main(["import-codes", "--deephash-dir", str(export.save), "--database-list", str(export.database_list),
                 "--query-list", str(export.query_list), "--image-root", str(export.data),
                 "--class-names", str(names), "--out", str(out)]) == 0
    model = load_model_dir(out)
    expected = reference_map_all(export.query_codes, export.database_codes, export.query_labels,
                                 export.database_labels)
    assert model.metrics["map_all"] == pytest.approx(expected, abs=1e-9)
    assert re.search(rf"mAP@all\s+{expected:.3f}\s", capsys.readouterr().out)
    assert "shares at least one label" in model.metrics["protocol"]
    np.testing.assert_array_equal(model.database_labels, export.database_labels)
    assert model.config["class_names"] == list(export.class_names)
    assert model.has_images and model.config["images"]["root"] == str(export.data)
    assert not list(out.rglob("*.png")) and not list(out.rglob("*.jpg")) and not list(out.rglob("*.pt"))
    images = model_images(model)
    assert images.describe(0) == str(export.data / "images/database_0.png")
    assert images.describe(len(model.database_codes)) == str(export.data / "images/query_0.png")
    grey, colour = images[0], images[1]            # database_0.png: grey 30x52; database_1.jpg: colour 48x32
    assert grey.shape == (52, 30) and colour.shape == (32, 48, 3)


def test_highest_map_save_set_wins_and_older_names_are_found(tmp_path):
    export = write_deephash_export(tmp_path / "export")
    files = find_deephash_arrays(export.save)
    assert files["database_codes"].name == "coco-16-0.81234-trn_binary.npy"
    assert files["query_labels"].name == "coco-16-0.81234-tst_label.npy"
    old = tmp_path / "old"
    old.mkdir()
    for part, new in (("database_binary", "trn_binary"), ("database_label", "trn_label"),
                      ("test_binary", "tst_binary"), ("test_label", "tst_label")):
        (old / f"imagenet0.8846248014569444-{part}.npy").write_bytes(
            (export.save / f"coco-16-0.81234-{new}.npy").read_bytes())
    assert find_deephash_arrays(old)["query_codes"].name == "imagenet0.8846248014569444-test_binary.npy"


def test_relative_paths_follow_the_list_folder_when_no_root_is_given(tmp_path):
    export = write_deephash_export(tmp_path / "export")
    model = load_model_dir(import_codes(out=tmp_path / "m", deephash_dir=export.save,
                                        database_list=export.database_list, query_list=export.query_list))
    assert model_images(model).path(3) == export.data / "images/database_3.jpg"
    absolute = tmp_path / "abs.txt"
    line = export.database_list.read_text().splitlines()[0].split(" ", 1)
    absolute.write_text(f"{export.data / line[0]} {line[1]}\n")
    assert read_image_list(absolute).paths[0] == str(export.data / line[0])


def test_missing_images_become_placeholders_naming_their_path(tmp_path):
    export = write_deephash_export(tmp_path / "export", missing=(2,))
    images = model_images(load_model_dir(_import(export, tmp_path / "m")))
    tile = images[2]
    assert tile.shape == (160, 160, 3) and tile.std() > 0            # drawn text, not a flat square
    assert images.describe(2).endswith("images/database_2.png")
    (export.data / "images/database_4.png").write_bytes(b"not a png")
    assert images[4].shape == (160, 160, 3)


def test_codes_only_multi_label_arrays_import_without_lists(tmp_path):
    export = write_deephash_export(tmp_path / "export")
    files = find_deephash_arrays(export.save)
    model = load_model_dir(import_codes(**{k: str(v) for k, v in files.items()}, out=tmp_path / "m"))
    assert not model.has_images and model.database_labels.shape == (36, 4)
    assert model.metrics["map_all"] == pytest.approx(reference_map_all(
        export.query_codes, export.database_codes, export.query_labels, export.database_labels))


def test_a_list_with_a_different_row_count_is_refused(tmp_path):
    export = write_deephash_export(tmp_path / "export")
    lines = export.database_list.read_text().splitlines()
    export.database_list.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(HashvizError, match=r"database.txt has 35 lines but the database codes .* have 36 rows"):
        _import(export, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_an_unreadable_line_is_refused_naming_file_and_line(tmp_path):
    export = write_deephash_export(tmp_path / "export")
    lines = export.query_list.read_text().splitlines()
    lines[3] = "images/query_3.png 0 1 x 0"
    export.query_list.write_text("\n".join(lines) + "\n")
    with pytest.raises(HashvizError, match=r"test.txt, line 4: expected '<image path>' and 4 0/1 labels"):
        _import(export, tmp_path / "m")


def test_labels_disagreeing_with_the_list_are_refused(tmp_path, capsys):
    export = write_deephash_export(tmp_path / "export")
    lines = export.database_list.read_text().splitlines()
    path, *bits = lines[5].split()
    lines[5] = path + " " + " ".join("1" if b == "0" else "0" for b in bits)
    export.database_list.write_text("\n".join(lines) + "\n")
    assert main(["import-codes", "--deephash-dir", str(export.save), "--database-list", str(export.database_list),
                 "--query-list", str(export.query_list), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "database.txt, line 6: labels" in err and "disagree with row 5 of coco-16-0.81234-trn_label.npy" in err
    assert err.count("\n") == 1


def test_single_label_exports_become_class_indices(tmp_path):
    export = write_deephash_export(tmp_path / "export", multi_label=False)
    model = load_model_dir(_import(export, tmp_path / "m"))
    assert model.database_labels.ndim == 1
    np.testing.assert_array_equal(model.database_labels, np.arange(36) % 4)


def test_codes_with_other_values_are_refused(tmp_path):
    export = write_deephash_export(tmp_path / "export")
    bad = tmp_path / "bad.npy"
    np.save(bad, np.full((36, 16), 0.5, dtype=np.float32))
    with pytest.raises(HashvizError, match="only -1/\\+1 or 0/1"):
        _import(export, tmp_path / "m", database_codes=bad)


def test_images_outside_the_data_roots_or_their_root_are_not_read(tmp_path, monkeypatch):
    export = write_deephash_export(tmp_path / "export")
    model = load_model_dir(_import(export, tmp_path / "m"))
    monkeypatch.setenv("HASHVIZ_CONFIG", str(tmp_path / "another-server"))    # which did not import it
    monkeypatch.setenv("HASHVIZ_DATA_ROOTS", str(tmp_path / "elsewhere"))
    with pytest.raises(HashvizError, match="outside the data roots"):
        model_images(model)
    monkeypatch.setenv("HASHVIZ_DATA_ROOTS", str(tmp_path))
    images = model_images(model)
    images.paths = np.array([b"../../secret.png"] * len(images.paths))      # as a forged paths file would
    (tmp_path / "secret.png").write_bytes((export.data / "images/database_0.png").read_bytes())
    assert images[0].shape == (160, 160, 3)                                   # a placeholder, not the file
