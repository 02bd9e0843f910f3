"""The list-file and image part of the bad-input corpus (tests/bad_inputs/list_corpus.py):
`hashviz check-lists`, import-codes on list files and exported arrays, and the images a list names.

Refusals end in one `hashviz: error:` line (exit 2) with nothing written; accepted inputs are
converted as the case says; every file of a case is left as it was.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bad_inputs.list_corpus import CASES_BY_ID, LIST_CASES, NAMES, make_list_corpus
from export_fixtures import reference_map_all
from hashviz.data.images import FileImages, image_path_table, model_images
from hashviz.zoo import load_model_dir
from test_bad_inputs import SUBPROCESS_ENV, assert_one_error_line, run_cli, snapshot

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_list_corpus(tmp_path_factory.mktemp("lists") / "corpus")


@pytest.fixture(autouse=True)
def data_roots(corpus, monkeypatch):
    monkeypatch.setenv("HASHVIZ_DATA_ROOTS", str(corpus))


def of_kind(kind: str, outcome: str | None = None) -> list:
    return [pytest.param(c, id=c.id) for c in LIST_CASES if c.kind == kind and outcome in (None, c.outcome)]


def export_of(corpus: Path, case_id: str) -> Path:
    case = CASES_BY_ID[case_id]
    return corpus / case.kind / case.id / "export"


def import_args(d: Path, out: Path) -> list:
    args = ["import-codes", "--database-codes", d / "db.npy", "--query-codes", d / "q.npy", "--out", out]
    for flag, name in (("--database-labels", "dbl.npy"), ("--query-labels", "ql.npy"),
                       ("--database-list", "database.txt"), ("--query-list", "test.txt")):
        if (d / name).exists():
            args += [flag, d / name]
    return args


def list_args(d: Path) -> list:
    return [d / "database.txt", d / "test.txt", "--class-names", d / "names.txt"]


def test_list_corpus_is_deterministic(corpus, tmp_path):
    """The standalone script writes the same bytes as the fixture did (paths made relative)."""
    script = REPO / "tests" / "bad_inputs" / "list_corpus.py"
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "again")], capture_output=True,
                          text=True, timeout=120, env=SUBPROCESS_ENV)
    assert proc.returncode == 0, proc.stderr
    again = {k.replace(str(tmp_path / "again"), "<out>"): v for k, v in snapshot(tmp_path / "again").items()}
    first = {k.replace(str(corpus), "<out>"): v for k, v in snapshot(corpus).items()}
    assert again == first and len({c.id for c in LIST_CASES}) == len(LIST_CASES)


# ---------------------------------------------------------------- check-lists and import-codes on list files

EVERY_KIND = {          # kind's words -> where the fixture put it (written by hand from list_corpus.py)
    "lines that are not '<image path> <0/1 labels>': 1 at database.txt:9": "",
    "label widths that differ: 3 at database.txt, test.txt, test.txt": "database.txt has 4, test.txt has 5",
    "control characters in the path: 1 at database.txt:7": "",
    "paths longer than 4096 bytes: 1 at database.txt:8": "5,000 bytes",
    "missing images (shown as placeholders): 1 at database.txt:3": "images/missing.png",
    "unreadable images (not PNG, JPEG, GIF, BMP, TIFF, WEBP, or not a readable file): 1 at database.txt:4": "not-an-image.png",
    "paths outside the image root (shown as placeholders): 1 at database.txt:6": "'../outside.png' is outside",
    "paths listed twice in one file: 1 at database.txt:5": "'images/db_0.png' is also database.txt:1",
    "rows whose label vector is all zeros (kept: NUS-WIDE has them): 1 at database.txt:2": "",
}


def test_check_lists_reports_every_kind_and_import_refuses_with_the_same_summary(corpus, tmp_path, capsys):
    d = export_of(corpus, "lists-every-problem")
    before = snapshot(d.parent)
    code, out, _ = run_cli(capsys, "check-lists", *list_args(d))
    assert code == 1
    summary = out.splitlines()
    assert summary[0].startswith("checked database.txt (12 rows, 4 labels), test.txt (4 rows, 5 labels): 9 kind(s)")
    for words, detail in EVERY_KIND.items():
        line = next((s for s in summary if s.startswith("  refuses an import: " + words)
                     or s.startswith("  warning: " + words)), None)
        assert line is not None and detail in line, (words, summary)
    assert "  note: database.txt starts with a UTF-8 byte-order mark (ignored)" in summary
    code, _, err = run_cli(capsys, *import_args(d, tmp_path / "m"), "--class-names", d / "names.txt")
    error = assert_one_error_line(code, err, r"label widths that differ: 3 at database\.txt \(label columns: "
                                             r"database\.txt has 4, test\.txt has 5\)")
    assert "control characters in the path: 1 at database.txt:7" in error
    assert err.splitlines()[:-1] == summary                  # the same summary, then the one error line
    assert not (tmp_path / "m").exists() and snapshot(d.parent) == before


def test_warnings_are_printed_and_the_rest_imported(corpus, tmp_path, capsys):
    d = export_of(corpus, "lists-warnings-only")
    code, out, _ = run_cli(capsys, "check-lists", *list_args(d))
    assert code == 1
    code, _, err = run_cli(capsys, *import_args(d, tmp_path / "m"), "--class-names", d / "names.txt")
    assert code == 0 and err.splitlines() == out.splitlines()
    model = load_model_dir(tmp_path / "m")
    assert model.database_labels[1].tolist() == [0, 0, 0, 0]           # an all-zero row is data
    images = model_images(model)
    for row in (2, 5):                                                  # missing, outside: placeholders
        assert images[row].shape == (160, 160, 3) and images[row][80, 150].tolist() == [225, 225, 225]
    assert images[0].tolist() == np.full((6, 8), 40 + 50 * 0, np.uint8).tolist()   # db_0.png, class 0


def test_a_path_of_an_earlier_list_is_a_note_not_a_problem(corpus, tmp_path, capsys):
    d = export_of(corpus, "list-bom")
    train = tmp_path / "train.txt"
    train.write_text("\n".join((d / "database.txt").read_text(encoding="utf-8-sig").splitlines()[:3]) + "\n")
    code, out, _ = run_cli(capsys, "check-lists", d / "database.txt", train, "--image-root", d)
    assert code == 0, out
    assert "3 row(s) name a path of an earlier list (first: train.txt:1 is also database.txt:1)" in out


@pytest.mark.parametrize("case", [c for c in of_kind("lists", "error") if c.id != "lists-every-problem"])
def test_refused_list(case, corpus, tmp_path, capsys):
    d = export_of(corpus, case.id)
    before = snapshot(d)
    code, out, _ = run_cli(capsys, "check-lists", *list_args(d))
    assert code == 1 and re.search(case.expect, out), out
    code, _, err = run_cli(capsys, *import_args(d, tmp_path / "m"))
    assert_one_error_line(code, err, case.expect)
    assert not (tmp_path / "m").exists() and snapshot(d) == before
    if case.id == "list-path-u0085":          # one line, not split at U+0085: later line numbers stay right
        assert "warning: rows whose label vector is all zeros (kept: NUS-WIDE has them): 1 at database.txt:4" in out
        assert "checked database.txt (12 rows" in out


def test_byte_order_marks_are_dropped_from_lists_and_class_names(corpus, tmp_path, capsys):
    d = export_of(corpus, "list-bom")
    code, out, _ = run_cli(capsys, "check-lists", *list_args(d))
    assert code == 0 and "database.txt starts with a UTF-8 byte-order mark (ignored)" in out
    code, _, err = run_cli(capsys, *import_args(d, tmp_path / "m"), "--class-names", d / "names.txt")
    assert code == 0, err
    model = load_model_dir(tmp_path / "m")
    assert model.config["class_names"] == list(NAMES)
    assert image_path_table(model)[0] == b"images/db_0.png"
    assert model_images(model)[0].tolist() == np.full((6, 8), 40, np.uint8).tolist()     # found, not a placeholder


def test_paths_are_stored_by_their_length_not_the_longest(corpus, tmp_path, capsys):
    d = export_of(corpus, "list-paths-stored-compactly")
    lines = (d / "database.txt").read_text().splitlines() + (d / "test.txt").read_text().splitlines()
    code, _, err = run_cli(capsys, *import_args(d, tmp_path / "m"))
    assert code == 0, err
    model = load_model_dir(tmp_path / "m")
    stored = sum((tmp_path / "m" / "codes" / name).stat().st_size for name in ("image_paths.npy", "image_path_ends.npy"))
    total = sum(len(line.split(" ")[0].encode()) for line in lines)
    assert stored < total + 8 * len(lines) + 400                # bytes of the paths + one end each + headers
    table = image_path_table(model)
    assert [table[i].decode() for i in range(len(lines))] == [line.split(" ")[0] for line in lines]
    assert model_images(model)[5].shape == (6, 8)                # the 3,900-byte path reaches its image


# ---------------------------------------------------------------- import-codes arrays

@pytest.mark.parametrize("case", of_kind("import", "error"))
def test_refused_import(case, corpus, tmp_path, capsys):
    d = export_of(corpus, case.id)
    before = snapshot(d)
    code, _, err = run_cli(capsys, *import_args(d, tmp_path / "m"))
    line = assert_one_error_line(code, err, case.expect)
    if case.id == "import-nan-among-signs":
        assert "values like" not in line and "-1.0" not in line      # only the NaN is named as wrong
    assert not (tmp_path / "m").exists() and snapshot(d) == before


def test_12_bit_codes_are_padded_to_a_byte_and_keep_their_map(corpus, tmp_path, capsys):
    d = export_of(corpus, "import-12-bit")
    code, _, err = run_cli(capsys, *import_args(d, tmp_path / "m"))
    assert code == 0 and re.search(CASES_BY_ID["import-12-bit"].expect, err), err
    model = load_model_dir(tmp_path / "m")
    assert model.bits == 16 and model.config["exported_bits"] == 12
    db, q = np.load(d / "db.npy"), np.load(d / "q.npy")
    dbl, ql = np.load(d / "dbl.npy").astype(np.uint8), np.load(d / "ql.npy").astype(np.uint8)
    assert db.shape[1] == 12
    assert model.metrics["map_all"] == pytest.approx(reference_map_all(q, db, ql, dbl), abs=1e-12)


# ---------------------------------------------------------------- images a list names

def is_placeholder(tile: np.ndarray) -> bool:
    """The placeholder tile: 160 x 160 colour, light grey ground, a darker frame."""
    return tile.shape == (160, 160, 3) and tile[80, 150].tolist() == [225, 225, 225] and tile[0, 0].tolist() == [160] * 3


@pytest.mark.parametrize("case", of_kind("image"))
def test_image_file(case, corpus):
    images = FileImages(corpus / "images", [case.extra["file"]])
    before = snapshot(corpus / "images")
    tile = images[0]
    if case.expect:                    # never decoded: a placeholder saying why
        assert is_placeholder(tile)
    elif case.id == "image-16-bit-gradient":        # 0..65535 scaled to 0..255, not clipped to white
        expected = np.round(np.linspace(0, 65535, 64).astype(np.uint16) / 65535 * 255)
        assert tile.shape == (64, 64)
        np.testing.assert_allclose(tile[0].astype(float), expected, atol=1)
    else:                                           # transparency on white: a black square on white
        assert tile.shape == (64, 64, 3)
        assert tile[0, 0].tolist() == tile[63, 63].tolist() == [255] * 3 and tile[16:48, 16:48].max() == 0
    assert snapshot(corpus / "images") == before


def test_an_oversized_image_is_refused_from_its_header(corpus):
    """169 MP in a few hundred KB: the process's peak memory barely moves (decoding took +480 MB)."""
    script = (
        "import resource, sys\n"
        "from hashviz.data.images import read_thumbnail\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "tile = read_thumbnail(sys.argv[1])\n"
        "print(tile.shape, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(corpus / "images" / "huge-13000x13000.png")],
                          capture_output=True, text=True, timeout=120, env=SUBPROCESS_ENV)
    assert proc.returncode == 0, proc.stderr
    shape, grown_mb = proc.stdout.rsplit(" ", 1)
    assert shape == "(160, 160, 3)" and int(grown_mb) < 50, proc.stdout


def test_paths_that_cannot_be_resolved_become_placeholders(tmp_path):
    """A NUL (a forged paths file), a name far past PATH_MAX and a link loop: placeholders, never
    an exception (`resolve()` raised ValueError: embedded null byte on every page showing the row)."""
    (tmp_path / "loop").symlink_to("loop")
    images = FileImages(tmp_path, [b"images/a\x00b.png", "x" * 5000 + ".png", "loop/a.png", "u\u2028v.png"])
    for i in range(len(images)):
        assert is_placeholder(images[i]), i


def test_thumbnails_are_cached_once_per_file(tmp_path):
    from PIL import Image
    Image.new("L", (20, 10), 99).save(tmp_path / "a.png")
    Image.new("L", (20, 10), 7).save(tmp_path / "b.png")
    images = FileImages(tmp_path, ["a.png"] * 50 + ["b.png"], cache_items=4)
    tiles = [images[i] for i in range(51)]
    assert images.cached == 2 and all(t is tiles[0] for t in tiles[:50])
    assert tiles[0][0, 0] == 99 and tiles[50][0, 0] == 7


def test_bit_by_bit_heatmaps_above_256_bits_show_the_strongest_pair_of_each_block():
    """1024 bits (the import cap): 256 x 256 cells of 4 x 4 bits, each the off-diagonal value of
    largest magnitude in its block (a 1024 x 1024 figure sent 14 MB, 4096 bits 224 MB)."""
    from hashviz import plots
    b = 1024
    corr = np.eye(b)                                         # a bit with itself: never a pair
    corr[3, 700] = corr[700, 3] = -0.9
    corr[1, 2] = corr[2, 1] = 0.5                            # both in block (0, 0)
    corr[4, 8] = corr[8, 4] = 0.2
    z = np.asarray(plots.correlation_heatmap(corr).data[0].z, dtype=float)
    expected = np.zeros((256, 256))
    expected[0, 175] = expected[175, 0] = -0.9               # bits 3 // 4, 700 // 4
    expected[0, 0] = 0.5
    expected[1, 2] = expected[2, 1] = 0.2
    np.testing.assert_array_equal(z, expected)
    assert len(plots.mutual_info_heatmap(np.abs(corr)).to_json()) < 2_000_000
    small = np.random.default_rng(0).uniform(-1, 1, (256, 256))
    np.testing.assert_array_equal(np.asarray(plots.correlation_heatmap(small).data[0].z, dtype=float), small)


def test_a_link_inside_the_root_to_a_file_outside_it_is_outside(tmp_path, capsys):
    from PIL import Image
    (tmp_path / "root" / "images").mkdir(parents=True)
    Image.new("L", (4, 4), 9).save(tmp_path / "secret.png")
    Image.new("L", (4, 4), 9).save(tmp_path / "root" / "images" / "fine.png")
    (tmp_path / "root" / "images" / "link.png").symlink_to(tmp_path / "secret.png")
    (tmp_path / "root" / "list.txt").write_text("images/fine.png 1 0\nimages/link.png 0 1\n")
    code, out, _ = run_cli(capsys, "check-lists", tmp_path / "root" / "list.txt")
    assert code == 1 and "warning: paths outside the image root (shown as placeholders): 1 at list.txt:2 " in out, out
    assert "missing" not in out and "unreadable" not in out


def test_diagnostics_of_a_1024_bit_import_sends_block_heatmaps(tmp_path, monkeypatch):
    """The largest import (1024 bits) opens Diagnostics; its bit-by-bit heatmaps arrive as 256 x 256
    blocks (a 4096-bit import failed there with MessageSizeError: two 224 MB figures)."""
    import json

    from app_support import app_on
    from hashviz.importing import import_codes
    rng = np.random.default_rng(0)
    for name, n in (("db", 400), ("q", 20)):
        np.save(tmp_path / f"{name}.npy", rng.choice([-1.0, 1.0], (n, 1024)).astype(np.float32))
        np.save(tmp_path / f"{name}l.npy", np.arange(n) % 5)
    import_codes(tmp_path / "db.npy", tmp_path / "dbl.npy", tmp_path / "q.npy", tmp_path / "ql.npy",
                 tmp_path / "models" / "wide")
    at = app_on(tmp_path / "models", "pages/diagnostics.py", monkeypatch, model_name="wide")
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    heatmaps = [s for s in specs if s["data"][0]["type"] == "heatmap" and "pair" in s["layout"]["title"]["text"]]
    assert len(heatmaps) == 2 and all("1024 bits in blocks of 4" in h["layout"]["title"]["text"] for h in heatmaps)
    assert sum(len(el.proto.spec) for el in at.get("plotly_chart")) < 10_000_000


def test_a_damaged_path_table_is_refused_and_an_older_fixed_width_one_still_loads(corpus, tmp_path, capsys):
    from hashviz.errors import HashvizError
    d = export_of(corpus, "list-bom")
    assert run_cli(capsys, *import_args(d, tmp_path / "m"))[0] == 0
    codes = tmp_path / "m" / "codes"
    ends = np.load(codes / "image_path_ends.npy")
    names = [line.split(" ")[0] for line in ((d / "database.txt").read_text(encoding="utf-8-sig").splitlines()
                                             + (d / "test.txt").read_text(encoding="utf-8-sig").splitlines())]
    np.save(codes / "image_path_ends.npy", ends[::-1].copy())              # decreasing: forged
    with pytest.raises(HashvizError, match=r"image_path_ends\.npy must give 16 increasing ends"):
        model_images(load_model_dir(tmp_path / "m"))
    np.save(codes / "image_path_ends.npy", np.append(ends[:-1], 10**9))    # past the blob's end
    with pytest.raises(HashvizError, match=r"the last at \d+"):
        model_images(load_model_dir(tmp_path / "m"))
    (codes / "image_path_ends.npy").unlink()
    np.save(codes / "image_paths.npy", np.array([n.encode() for n in names]))   # as imports wrote it before
    images = model_images(load_model_dir(tmp_path / "m"))
    assert [images.describe(i) for i in (0, 15)] == [str(d / names[0]), str(d / names[15])]
    assert images[0].tolist() == np.full((6, 8), 40, np.uint8).tolist()
