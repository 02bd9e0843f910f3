"""The bad-input corpus (tests/bad_inputs/make_corpus.py), one test per case.

Every case must end in a clear hashviz message (HashvizError; in the CLI exit status 2 and one
`hashviz: error: ...` line on stderr; in the app an st.error / st.warning with the rest of the page
usable) or be handled (converted, clipped), and must leave every file of the case as it was: each
test hashes the case's files before and after. No pickle payload may ever run (its marker file
must never appear).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from app_support import shown
from bad_inputs.make_corpus import CASES, CASES_BY_ID, MARKER, VALID, dataset_name, make_corpus
from hashviz import cli
from hashviz.errors import HashvizError

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "app.py")
SUBPROCESS_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                  "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def of_kind(kind: str) -> list:
    return [pytest.param(c, id=c.id) for c in CASES if c.kind == kind]


# ---------------------------------------------------------------- corpus and guards

@pytest.fixture(scope="module")
def corpus(tiny_zoo, tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("bad") / "corpus", tiny_zoo)


def snapshot(*paths: Path) -> dict:
    """Every entry under paths: sha256 of files, 'dir' for directories, the target text of
    symlinks (never followed)."""
    out = {}

    def entry(path: Path) -> str:
        if path.is_symlink():
            return "link:" + os.readlink(path)
        if path.is_dir():
            return "dir"
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"

    for root in paths:
        out[str(root)] = entry(root)
        if out[str(root)] == "dir":
            for dirpath, dirnames, filenames in os.walk(root):
                for name in dirnames + filenames:
                    out[str(Path(dirpath) / name)] = entry(Path(dirpath) / name)
    return out


@contextlib.contextmanager
def untouched(corpus: Path, *paths: Path):
    """Fail unless every file under paths is byte-identical afterwards and no payload ran."""
    paths = paths or (corpus,)
    before = snapshot(*paths)
    assert "missing" not in before.values(), f"nothing to guard at {paths}"
    yield
    assert snapshot(*paths) == before, "a bad input changed or lost a file"
    assert not (corpus / MARKER).exists(), "a pickle payload ran"


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_error_line(code: int, err: str, expect: str) -> str:
    """Exit status 2; the last stderr line is the only `hashviz: error:` line and matches; no
    traceback. (tqdm bars of a training run may precede it on stderr.)"""
    lines = [line for line in re.split(r"[\r\n]+", err) if line.strip()]
    errors = [line for line in lines if line.startswith("hashviz: error: ")]
    assert code == 2, err
    assert "Traceback" not in err
    assert len(errors) == 1 and lines[-1] == errors[0], err
    assert re.search(expect, errors[0]), errors[0]
    return errors[0]


def test_corpus_is_deterministic(corpus, tiny_zoo, tmp_path):
    """The standalone script writes the same corpus as the fixture did (same bytes, same tree)
    when pointed at the same place: build it twice in one directory and compare."""
    again = tmp_path / "corpus"
    make_corpus(again, tiny_zoo)
    first = {k.replace(str(again), "<out>"): v for k, v in snapshot(again).items()}
    shutil.rmtree(again)
    script = REPO / "tests" / "bad_inputs" / "make_corpus.py"
    proc = subprocess.run([sys.executable, str(script), str(again), "--source", str(tiny_zoo)],
                          capture_output=True, text=True, timeout=120, env=SUBPROCESS_ENV)
    assert proc.returncode == 0, proc.stderr
    second = {k.replace(str(again), "<out>"): v for k, v in snapshot(again).items()}
    assert first == second
    fixture = {k.replace(str(corpus), "<out>"): v for k, v in snapshot(corpus).items()}
    assert set(fixture) == set(first)                       # same tree wherever it is written
    assert len(CASES) >= 25 and len({c.id for c in CASES}) == len(CASES)


# ---------------------------------------------------------------- model directories

@pytest.fixture(scope="module")
def discovered(corpus):
    from hashviz.zoo import discover
    valid, invalid = discover(corpus / "models")
    return [m.name for m in valid], {p.name: reason for p, reason in invalid}


@pytest.mark.parametrize("case", of_kind("model"))
def test_model_dir(case, corpus, discovered, capsys):
    from hashviz.encoders import check_weights
    from hashviz.zoo import load_model_dir, read_config
    models = corpus / "models"
    path = models / case.id
    with untouched(corpus, path, models / VALID, corpus / "outside"):
        valid, reasons = discovered
        assert valid == LOADING                                   # only the control (and model-loads cases)
        assert re.search(case.expect, reasons[case.id]), reasons[case.id]
        assert "\n" not in reasons[case.id]
        with pytest.raises(HashvizError, match=case.expect):
            load_model_dir(path, root=models)
        if case.id == "link-outside":
            # The CLI names a path explicitly (there is no models root to escape): it loads.
            assert load_model_dir(path).name == "link-outside"
        else:
            if case.id.startswith("weights-") and case.id != "weights-missing":
                with pytest.raises(HashvizError, match=case.expect):    # the encoders' own check
                    check_weights(path, read_config(path))
            assert_one_error_line(*run_cli(capsys, "eval", path)[::2], case.expect)


def test_sparse_codes_refused_from_the_header(corpus, tmp_path):
    """A sparse 400 MB database.npy whose header is self-consistent but 3 bytes wide (16 bits need
    2): refused from the header alone, the loading process's peak memory barely moves (it used to
    read the whole file first: 4.2 GB and 31.7 s for a 4 GB one)."""
    model = shutil.copytree(corpus / "models" / VALID, tmp_path / "sparse")
    buf = io.BytesIO()
    rows = 2 ** 27
    np.lib.format.write_array_header_1_0(buf, {"descr": "|u1", "fortran_order": False, "shape": (rows, 3)})
    with open(model / "codes" / "database.npy", "wb") as f:
        f.write(buf.getvalue())
        f.truncate(len(buf.getvalue()) + rows * 3)                 # a hole: no disk, no page cache
    script = ("import resource, sys\n"
              "from hashviz.zoo import load_model_dir\n"
              "from hashviz.errors import HashvizError\n"
              "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
              "try:\n    load_model_dir(sys.argv[1])\nexcept HashvizError as exc:\n    print('refused:', exc)\n"
              "print('grew_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(model)], capture_output=True, text=True,
                          timeout=300, env=SUBPROCESS_ENV)
    assert "refused: sparse: codes/database.npy has 3 bytes per code; 16 bits need 2" in proc.stdout, proc.stdout + proc.stderr
    grew = int(re.search(r"grew_kib (\d+)", proc.stdout).group(1))
    assert grew < 50 * 1024, f"peak memory grew by {grew} KiB"


def test_root_scan_is_one_level_and_models_only(corpus, tmp_path, capsys):
    """A models root also holding a data folder (with a pickle three levels down), a notes file and
    an empty folder: discover lists the models and nothing else; the pickle below a model's two
    levels is not looked for. `hashviz eval /` names the missing config, not files all over the disk."""
    from hashviz.zoo import discover
    root = tmp_path / "root"
    shutil.copytree(corpus / "models" / VALID, root / VALID)
    (root / "data" / "a" / "b").mkdir(parents=True)
    (root / "data" / "a" / "b" / "model.pt").write_bytes(b"not read")
    (root / "empty").mkdir()
    (root / "notes.txt").write_text("notes")
    valid, invalid = discover(root)
    assert [m.name for m in valid] == [VALID] and invalid == []
    code, _, err = run_cli(capsys, "eval", "/")
    line = assert_one_error_line(code, err, r"^hashviz: error: /: config\.json is missing$")
    assert len(line) < 100


LOADING = sorted([VALID] + [c.id for c in CASES if c.kind in ("model-loads", "encoder")])


def png_bytes(size: int = 32) -> bytes:
    picture = np.zeros((size, size), np.uint8)
    picture[6:26, 14:18] = 255
    buf = io.BytesIO()
    from PIL import Image
    Image.fromarray(picture).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("case", of_kind("encoder"))
def test_weights_refused_when_the_encoder_loads(case, corpus, discovered, monkeypatch):
    """Discovery reads only the weights' header, so it lists the model (its codes are sound); the
    first encoder load checks the tensors against what the method builds and refuses them in one
    line, which Retrieval shows for an uploaded query while the page stays usable."""
    from hashviz.encoders import load_encoder
    from hashviz.zoo import load_model_dir
    models = corpus / "models"
    with untouched(corpus, models / case.id, models / VALID):
        assert case.id in discovered[0] and case.id not in discovered[1]
        with pytest.raises(HashvizError, match=case.expect) as refused:
            load_encoder(load_model_dir(models / case.id, root=models))
        assert "\n" not in str(refused.value) and str(refused.value).startswith(case.id)
        at = app_on(models, monkeypatch)
        at.selectbox(key="model_name").set_value(case.id).run()
        at.radio(key="rq_mode").set_value("Upload").run()
        at.file_uploader(key="rq_file").upload("one.png", png_bytes(), "image/png")
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert any(re.search(case.expect, shown(e.value)) for e in at.error), [e.value for e in at.error]
        assert at.title[0].value == "Retrieval" and at.radio(key="rq_mode").value == "Upload"


@pytest.mark.parametrize("case", of_kind("model-loads"))
def test_model_that_loads_warns_where_used(case, corpus, monkeypatch):
    """Image ids beyond the dataset: the model loads (the dataset's size is unknown until it is
    loaded); Retrieval says why there are no thumbnails, ranks without them and raises nothing,
    also with the model side by side with the control."""
    models = corpus / "models"
    with untouched(corpus, models / case.id, models / VALID):
        at = app_on(models, monkeypatch)
        at.selectbox(key="model_name").set_value(case.id).run()
        page_is_usable(at)
        assert any(re.search(case.expect, shown(w.value)) for w in at.warning), [w.value for w in at.warning]
        assert len(at.dataframe[0].value) == at.slider(key="rq_n").value
        at.selectbox(key="model_name").set_value(VALID).run()
        at.radio(key="rq_view").set_value("side-by-side").run()
        at.multiselect(key="rq_compare").set_value([VALID, case.id]).run()
        assert not at.exception, [e.value for e in at.exception]
        assert any(re.search(case.expect, shown(e.value)) for e in at.error), [e.value for e in at.error]


def test_cli_subprocess_prints_one_line(corpus):
    """The real process boundary: `python -m hashviz.cli eval` on a dir carrying a pickle."""
    with untouched(corpus, corpus / "models" / "pickle-pt-file"):
        proc = subprocess.run([sys.executable, "-m", "hashviz.cli", "eval", str(corpus / "models" / "pickle-pt-file")],
                              capture_output=True, text=True, timeout=120, env=SUBPROCESS_ENV, cwd=REPO)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("hashviz: error: pickle-pt-file contains model.pt")


def app_on(root: Path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    sys.path.insert(0, str(REPO))
    monkeypatch.setenv("HASHVIZ_MODELS", str(root))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if (root / VALID).is_dir() and at.selectbox(key="model_name").value != VALID:
        at.selectbox(key="model_name").set_value(VALID).run()   # the control, whatever sorts first
    return at


def page_is_usable(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert at.title and at.title[0].value == "Retrieval"
    assert at.radio(key="rq_mode") is not None and at.slider(key="rq_n").value >= 5


def test_app_sidebar_lists_every_bad_model_dir(corpus, monkeypatch):
    models = corpus / "models"
    with untouched(corpus, models, corpus / "outside"):
        at = app_on(models, monkeypatch)
        page_is_usable(at)
        picker = at.selectbox(key="model_name")
        assert picker.value == VALID and len(picker.options) == len(LOADING)  # only the valid models are offered
        model_cases = [c for c in CASES if c.kind == "model"]
        [box] = [e for e in at.sidebar.expander if "invalid model dir" in e.label]
        assert box.label == f"{len(model_cases)} invalid model dir(s)"
        shown_by_id = {shown(w.value.split("**")[1]): shown(w.value) for w in box.warning}
        for case in model_cases:
            assert re.search(case.expect, shown_by_id[case.id]), (case.id, shown_by_id[case.id])
        # Names are text, never markdown: every markdown character of a name arrives escaped.
        raw = {w.value.split("**")[1] for w in box.warning}
        assert not [name for name in raw if "[" in name or "<" in name], raw          # as character references
        assert {"[click me](https:example.invalid)", "![t](https:example.invalid)"} <= {shown(name) for name in raw}


@pytest.mark.parametrize("case", of_kind("import"))
def test_import_codes(case, corpus, tmp_path, capsys):
    """import-codes refuses labels far beyond the classes present or negative: one line, exit 2,
    nothing written (it wrote num_classes 10**12 + 1, or 0)."""
    d = corpus / "import" / case.id
    with untouched(corpus, d):
        code, _, err = run_cli(capsys, "import-codes", "--database-codes", d / "db.npy", "--database-labels",
                               d / "dbl.npy", "--query-codes", d / "q.npy", "--query-labels", d / "ql.npy",
                               "--out", tmp_path / "imported")
        assert_one_error_line(code, err, case.expect)
    assert not (tmp_path / "imported").exists()


# ---------------------------------------------------------------- uploads

def _upload(corpus: Path, case) -> tuple[bytes, str]:
    return (corpus / "uploads" / case.extra["file"]).read_bytes(), case.extra.get("name", case.extra["file"])


@pytest.mark.parametrize("case", of_kind("upload"))
def test_upload(case, corpus, tmp_path, monkeypatch):
    from hashviz.retrieval import decode_upload
    data, name = _upload(corpus, case)
    monkeypatch.chdir(tmp_path)                   # a name with ../ must not become a path anywhere
    with untouched(corpus, corpus / "uploads"):
        if case.outcome == "error":
            with pytest.raises(HashvizError, match=case.expect):
                decode_upload(data, (8, 8), name=name, dark=True)
        else:
            upload = decode_upload(data, (8, 8), name=name, dark=True)
            assert upload.image.shape == (8, 8) and upload.image.dtype == np.uint8
            assert any(re.search(case.expect, note) for note in upload.notes), upload.notes
            assert upload.name == name                 # kept as a label only
            colour = decode_upload(data, (8, 8, 3), name=name)
            assert colour.image.shape == (8, 8, 3)
    assert list(tmp_path.iterdir()) == []
    assert not (tmp_path.parent.parent / "outside" / "evil").exists()


def test_huge_upload_is_refused_before_decoding(corpus):
    """10000x10000 (100 MP): refused from the header; the process's peak memory barely moves
    (decoding would need 100 MB as greyscale, 300 MB as RGB)."""
    script = (
        "import resource, sys\n"
        "from hashviz.retrieval import decode_upload\n"
        "from hashviz.errors import HashvizError\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    decode_upload(data, (28, 28, 3))\n"
        "    print('accepted')\n"
        "except HashvizError as exc:\n"
        "    print('refused:', exc)\n"
        "print('grew_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(corpus / "uploads" / "huge-10000x10000.png")],
                          capture_output=True, text=True, timeout=120, env=SUBPROCESS_ENV)
    assert proc.returncode == 0, proc.stderr
    assert "refused: the image has too many pixels" in proc.stdout
    grew = int(re.search(r"grew_kib (\d+)", proc.stdout).group(1))
    assert grew < 30 * 1024, f"peak memory grew by {grew} KiB"


@pytest.fixture
def pil_opens(monkeypatch) -> list:
    """Counts PIL.Image.open calls (each decode of an upload starts with one)."""
    import PIL.Image
    opened, real_open = [], PIL.Image.open

    def counting_open(*args, **kwargs):
        opened.append(1)
        return real_open(*args, **kwargs)
    monkeypatch.setattr(PIL.Image, "open", counting_open)
    return opened


def test_upload_is_decoded_once_and_shrunk_first(pil_opens):
    """The same bytes again (a rerun, another Invert choice) decode nothing; a large picture is
    box-reduced right after decoding, before any mode conversion copies it."""
    from hashviz.retrieval import decode_upload
    from PIL import Image
    ramp = np.tile(np.linspace(0, 255, 1200).astype(np.uint8), (800, 1))       # dark left, light right
    buf = io.BytesIO()
    Image.fromarray(np.stack([ramp] * 3 + [np.full_like(ramp, 255)], axis=-1)).save(buf, format="PNG")
    first = decode_upload(buf.getvalue(), (28, 28), dark=True, invert=False)
    assert len(pil_opens) == 1
    assert "reduced 1200×800 by 7 to 172×115 (box average)" in first.notes, first.notes
    inverted = decode_upload(buf.getvalue(), (28, 28), dark=True, invert=True)
    again = decode_upload(buf.getvalue(), (28, 28), dark=False)                 # auto, light data: no inversion
    assert len(pil_opens) == 1                                                   # cached by content
    np.testing.assert_array_equal(inverted.image, 255 - first.image)
    assert inverted.notes == first.notes + ["inverted"]
    np.testing.assert_array_equal(again.image, first.image)
    # the ramp survived: the centre crop keeps 115 of 172 columns, from 28.5/172 to 143.5/172 of 255
    assert abs(first.image[:, 0].mean() - 42) < 6 and abs(first.image[:, -1].mean() - 213) < 6
    decode_upload(buf.getvalue(), (32, 32, 3))                                   # another shape: decoded
    assert len(pil_opens) == 2


def test_app_uploads_one_after_another(corpus, monkeypatch):
    """A class tries every file in one session: refused ones are an st.error, accepted ones are
    searched; the page stays usable throughout."""
    models = corpus / "models"
    with untouched(corpus, corpus / "uploads", models / VALID):
        at = app_on(models, monkeypatch)
        at.radio(key="rq_mode").set_value("Upload").run()
        for case in (c for c in CASES if c.kind == "upload"):
            data, name = _upload(corpus, case)
            name = name if name.endswith((".png", ".jpg")) else name.rsplit(".", 1)[0] + ".png"  # the uploader's type filter
            at.file_uploader(key="rq_file").upload(name, data, "image/png").run()
            assert not at.exception, (case.id, [e.value for e in at.exception])
            assert at.title[0].value == "Retrieval" and at.radio(key="rq_mode").value == "Upload"
            if case.outcome == "error":
                assert any(re.search(case.expect, shown(e.value)) for e in at.error), (case.id, [e.value for e in at.error])
            else:
                assert not at.error, (case.id, [e.value for e in at.error])
                notes = " ".join(c.value for c in at.caption if "What was done to the upload" in c.value)
                assert re.search(case.expect, notes), (case.id, notes)
                assert len(at.dataframe[0].value) == at.slider(key="rq_n").value
        # A widget change after an upload decodes nothing again (issue 19 #4).
        plain = next(c for c in CASES if c.id == "upload-path-separators")
        at.file_uploader(key="rq_file").upload("plain.png", _upload(corpus, plain)[0], "image/png").run()
        from hashviz.retrieval import upload as retrieval
        decodes, real_decode = [], retrieval._decode
        monkeypatch.setattr(retrieval, "_decode", lambda *a: decodes.append(1) or real_decode(*a))
        for choice in ("yes", "no", "auto"):
            at.radio(key="rq_invert").set_value(choice).run()
            assert not at.exception and not at.error
        at.slider(key="rq_n").set_value(10).run()
        assert decodes == [] and len(at.dataframe[0].value) == 10


# ---------------------------------------------------------------- data

@pytest.fixture
def data_env(monkeypatch):
    """load_dataset is cached per process: clear it around the case; downloads are offline here."""
    from hashviz.data import datasets
    monkeypatch.setattr(datasets, "_download_torchvision", lambda kind: None)
    datasets.load_dataset.cache_clear()
    yield monkeypatch
    datasets.load_dataset.cache_clear()


@pytest.mark.parametrize("case", of_kind("data"))
def test_data(case, corpus, data_env, capsys, tmp_path):
    from hashviz.data import datasets
    data_env.setenv("HASHVIZ_DATA", str(corpus / "data" / case.id))
    name = dataset_name(case, corpus)
    with untouched(corpus, corpus / "data" / case.id):
        with pytest.raises(HashvizError, match=case.expect):
            datasets.load_dataset.__wrapped__(name)
        datasets.load_dataset.cache_clear()
        code, _, err = run_cli(capsys, "train", "--method", "lsh", "--bits", 16, "--dataset", name,
                               "--out", tmp_path / "never")
        assert_one_error_line(code, err, case.expect)
    assert not (tmp_path / "never").exists()


# ---------------------------------------------------------------- search

@pytest.fixture(scope="module")
def search_arrays(corpus):
    d = corpus / "search"
    return {n: np.load(d / f"{n}.npy", allow_pickle=False) for n in ("database-16bit", "query-16bit", "query-32bit")}


@pytest.mark.parametrize("case", of_kind("search"))
def test_search(case, corpus, search_arrays):
    from hashviz.search import HammingIndex, PQIndex, brute_force_knn
    db, q16, q32 = search_arrays["database-16bit"], search_arrays["query-16bit"], search_arrays["query-32bit"]
    with untouched(corpus, corpus / "search"):
        for kind in ("flat", "hash", "ivf"):
            index = HammingIndex(db, kind=kind)
            if case.id == "search-wrong-bits":
                for call in (lambda: index.knn(q32, 5), lambda: index.radius(q32, 2)):
                    with pytest.raises(HashvizError, match=case.expect):
                        call()
            elif case.id == "search-k-too-large":
                dist, ids = index.knn(q16, 10 ** 6)
                assert ids.shape == (3, len(db)) and (ids >= 0).all()
                if index.exact:
                    np.testing.assert_array_equal(ids, brute_force_knn(q16, db, len(db))[1])
            elif case.id == "search-k-zero":
                with pytest.raises(HashvizError, match=case.expect):
                    index.knn(q16, 0)
            elif case.id == "search-radius-negative":
                with pytest.raises(HashvizError, match=case.expect):
                    index.radius(q16, -1)
        if case.id == "search-pq-wrong-dim":
            rng = np.random.default_rng(0)
            pq = PQIndex(rng.integers(0, 16, (40, 2), dtype=np.uint8),
                         rng.standard_normal((2, 16, 4)).astype(np.float32), metric="l2")
            with pytest.raises(HashvizError, match=case.expect):
                pq.knn(rng.standard_normal((1, 5)).astype(np.float32), 3)
            assert pq.knn(rng.standard_normal((1, 8)).astype(np.float32), 10 ** 6)[1].shape == (1, 40)


# ---------------------------------------------------------------- training

KILLER = r"""
import os, signal, sys
stage = sys.argv[1]
def die(*_args, **_kw):
    os.kill(os.getpid(), signal.SIGKILL)
if stage == "encoding":                # trained; encoding the database
    import hashviz.estimators
    hashviz.estimators.DeepHasher.outputs = hashviz.estimators.ShallowImageHasher.outputs = die
elif stage == "saving":                # after three files of the model were written
    import numpy as np
    save, calls = np.save, []
    def counted(*a, **k):
        calls.append(1)
        if len(calls) > 3:
            die()
        return save(*a, **k)
    np.save = counted
elif stage == "renaming":              # everything written, just before the rename
    os.replace = die
from hashviz.cli import main
sys.exit(main(sys.argv[2:]))
"""
DEEP = ["--method", "dpsh", "--bits", "16", "--dataset", "digits", "--protocol", "digits-small", "--batch-size", "32"]
SHALLOW = ["--method", "lsh", "--bits", "16", "--dataset", "digits", "--protocol", "digits-small"]
KILLS = {"train-killed-training": ("training", DEEP + ["--epochs", "200"]),
         "train-killed-encoding": ("encoding", SHALLOW),
         "train-killed-saving": ("saving", SHALLOW),
         "train-killed-renaming": ("renaming", SHALLOW)}


@pytest.fixture(scope="module")
def killed_runs(corpus, tmp_path_factory):
    """All four killed runs at once (each a fresh process): {case: (models root, returncode, stderr)}.
    Each root already holds a valid model, `keep`, that must come through untouched."""
    runs = {}
    for case_id, (stage, args) in KILLS.items():
        root = tmp_path_factory.mktemp(case_id)
        shutil.copytree(corpus / "models" / VALID, root / "keep")
        out = ["train", *args, "--out", str(root / "killed")]
        if stage == "training":
            cmd = [sys.executable, "-m", "hashviz.cli", *out]
        else:
            cmd = [sys.executable, "-c", KILLER, stage, *out]
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=SUBPROCESS_ENV, cwd=REPO)
        runs[case_id] = [root, proc, bytearray(), snapshot(root / "keep")]
    seen_training = threading.Event()

    def drain(case_id):
        proc, buf = runs[case_id][1], runs[case_id][2]
        for chunk in iter(lambda: proc.stderr.read1(4096), b""):
            buf.extend(chunk)
            if case_id == "train-killed-training" and b"train:" in buf:
                seen_training.set()
    threads = [threading.Thread(target=drain, args=(c,), daemon=True) for c in runs]
    for t in threads:
        t.start()
    outside = runs["train-killed-training"][1]
    try:
        assert seen_training.wait(240), "training never started: " + runs["train-killed-training"][2].decode()
        time.sleep(0.5)
        outside.send_signal(signal.SIGKILL)           # from outside, in the middle of training
        for _root, proc, _buf, _snap in runs.values():
            proc.wait(240)
    finally:
        for _root, proc, _buf, _snap in runs.values():
            if proc.poll() is None:
                proc.kill()
    for t in threads:
        t.join(10)
    return {c: (root, proc.returncode, bytes(buf).decode(errors="replace"), snap)
            for c, (root, proc, buf, snap) in runs.items()}


def test_training_cases_cover_the_corpus():
    assert {c.id for c in CASES if c.kind == "train"} == set(KILLS) | {
        "train-disk-full", "train-read-only-root", "train-parent-is-a-file", "train-non-finite-loss",
        "train-overwrite-models-root"}


@pytest.mark.parametrize("case_id", list(KILLS))
def test_killed_run_leaves_no_half_model(case_id, killed_runs):
    from hashviz.encoders import read_weights
    from hashviz.zoo import discover, load_model_dir, save_model_dir
    root, code, err, keep_before = killed_runs[case_id]
    assert code == -signal.SIGKILL, err[-2000:]
    assert snapshot(root / "keep") == keep_before               # the model already there is intact
    assert not (root / "killed").exists()                         # absent (never half)
    valid, invalid = discover(root)
    assert [m.name for m in valid] == ["keep"] and invalid == []  # hidden .tmp-* dirs are ignored
    leftovers = [p for p in root.iterdir() if p.name.startswith(".tmp-killed-")]
    if case_id in ("train-killed-saving", "train-killed-renaming"):
        assert len(leftovers) == 1
        written = sorted(f.name for f in leftovers[0].rglob("*") if f.is_file())
        if case_id == "train-killed-saving":
            assert len(written) == 3 and not (leftovers[0] / "config.json").exists(), written
        else:
            assert "config.json" in written and len(written) > 5, written   # complete, never renamed
        # A later save of the same name removes temporaries older than an hour, not younger ones.
        keep = load_model_dir(root / "keep")
        young = root / ".tmp-killed-young123"
        young.mkdir()
        hour_ago = time.time() - 2 * 3600
        os.utime(leftovers[0], (hour_ago, hour_ago))
        save_model_dir(root / "killed", keep.config, dict(keep.arrays), read_weights(keep.path))
        assert not leftovers[0].exists() and young.exists()
        assert load_model_dir(root / "killed").name == "killed"
    else:
        assert leftovers == []


@pytest.mark.parametrize("case", of_kind("train-arg"))
def test_train_argument(case, tmp_path, capsys):
    """Each bad argument: one line, exit 2, before any data is loaded or a step is trained."""
    out = tmp_path / "never"
    code, _, err = run_cli(capsys, "train", "--bits", 16, "--dataset", "digits", "--protocol", "digits-small",
                           *case.extra["args"], "--out", out)
    assert_one_error_line(code, err, case.expect)
    assert "train:" not in err and not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("case", of_kind("zoo-cmd"))
def test_zoo_command(case, tmp_path, capsys):
    """Refused before any training: one line, exit 2, the folder left empty (no stray temporary)."""
    code, _, err = run_cli(capsys, *[a.replace("TMP", str(tmp_path)) for a in case.extra["args"]])
    assert_one_error_line(code, err, case.expect.replace("TMP", re.escape(str(tmp_path))))
    assert "train:" not in err and list(tmp_path.iterdir()) == []


TWO_CTRL_C = r"""
import os, shutil, signal, sys, time
import numpy as np
# a terminal's Ctrl-C: Python's own handler, even when this test runs from a background job (a
# non-interactive shell starts those with SIGINT ignored, and the interrupt would never arrive)
signal.signal(signal.SIGINT, signal.default_int_handler)
save, calls, rmtree = np.save, [], shutil.rmtree
def interrupted_twice(*a, **k):
    calls.append(1)
    if len(calls) == 3:                  # in the middle of writing the model: Ctrl-C, a moment, Ctrl-C
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)
    return save(*a, **k)
def interrupted_cleanup(path, *a, **k):  # (where the first Ctrl-C stops the save at once, the second
    if ".tmp-" in str(path):              #  lands in its cleanup)
        os.kill(os.getpid(), signal.SIGINT)
    return rmtree(path, *a, **k)
np.save, shutil.rmtree = interrupted_twice, interrupted_cleanup
from hashviz.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_two_quick_ctrl_c_while_saving(tmp_path):
    """Issue 19 #10: the save finishes (or is cleaned up) before the interrupt is acted on: exit
    130, one line, no traceback, no .tmp-* folder; the model is either complete or absent."""
    root = tmp_path / "models"
    proc = subprocess.run([sys.executable, "-c", TWO_CTRL_C, "train", *SHALLOW, "--out", str(root / "new")],
                          capture_output=True, text=True, timeout=300, env=SUBPROCESS_ENV, cwd=REPO)
    assert proc.returncode == 130, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    lines = [line for line in re.split(r"[\r\n]+", proc.stderr) if line.strip()]
    assert lines[-1] == "hashviz: interrupted; nothing half-written was kept", proc.stderr[-2000:]
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == []
    from hashviz.zoo import discover
    valid, invalid = discover(root)
    assert invalid == [] and [m.name for m in valid] in ([], ["new"])


def test_umap_request_is_bounded_and_a_second_map_need_not_wait(corpus, monkeypatch):
    """Issue 19 #9: a UMAP request over MAX_UMAP_POINTS is refused with one message (PCA takes any
    size); with the code map's two workers a short job finishes while a long one still runs; a
    queued job says it is waiting, not 'running for 0 s'."""
    import threading
    from hashviz import codemap
    from hashviz.background import JobRunner
    from hashviz.zoo import load_model_dir
    model = load_model_dir(corpus / "models" / VALID)
    monkeypatch.setattr(codemap, "MAX_UMAP_POINTS", 500)             # the tiny model has 1,697 codes
    jobs = JobRunner(workers=2)
    with pytest.raises(HashvizError, match=r"a UMAP map takes at most 500 points"):
        codemap.map_or_start(jobs, model, "umap", sample_size=1000, cache_dir=corpus / "never")
    assert not (corpus / "never").exists()
    release = threading.Event()
    long = jobs.submit("long", lambda: release.wait(60))
    short = jobs.submit("short", lambda: 42)
    assert short.wait(30) and short.result == 42 and long.state == "running"
    single = JobRunner(workers=1)
    blocker = single.submit("blocker", lambda: release.wait(60))
    queued = single.submit("queued", lambda: 1)
    assert blocker.wait(0.2) is False and queued.progress_text.startswith("waiting ")
    release.set()
    assert long.wait(30) and queued.wait(30) and queued.progress_text.startswith("running for ")


def test_smaller_ones(corpus, tmp_path, capsys, monkeypatch):
    """Issue 19 #13: saved model folders follow the umask (were 0700, weights 0600: a server run
    as another user could not read them); `eval` of a pq model names its ranking (it said
    Hamming); import-codes given a folder says so (it said "does not exist"); an EXIF orientation
    outside 2..8 is not reported as a rotation."""
    from hashviz.retrieval import decode_upload
    from PIL import Image
    os.umask(old := os.umask(0o022))
    try:
        code, _, err = run_cli(capsys, "train", *SHALLOW, "--out", tmp_path / "perm")
        assert code == 0, err
        modes = {p.relative_to(tmp_path).as_posix(): p.stat().st_mode & 0o777
                 for p in [tmp_path / "perm", *(tmp_path / "perm").rglob("*")]}
        assert modes["perm"] == modes["perm/codes"] == 0o755 and modes["perm/weights.safetensors"] == 0o644, modes
        assert {m for k, m in modes.items() if k.endswith((".npy", ".json"))} == {0o644}
    finally:
        os.umask(old)
    code, out, err = run_cli(capsys, "eval", corpus / "outside" / "dpsh-16")
    assert code == 0 and "ranking: Hamming distance" in out
    pq = shutil.copytree(corpus / "models" / "pq-codebooks-nan", tmp_path / "pq")
    np.save(pq / "codes" / "codebooks.npy", np.nan_to_num(np.load(pq / "codes" / "codebooks.npy")), allow_pickle=False)
    code, out, err = run_cli(capsys, "eval", pq)
    assert code == 0 and "ranking: asymmetric distance to the pq codewords" in out and "Hamming distance" not in out, out + err
    d = tmp_path / "folder.npy"
    d.mkdir()
    code, _, err = run_cli(capsys, "import-codes", "--database-codes", d, "--database-labels", d, "--query-codes", d,
                           "--query-labels", d, "--out", tmp_path / "imported")
    assert_one_error_line(code, err, r"folder\.npy is a folder, not a \.npy file")
    for orientation, rotated in ((9, False), (0, False), (6, True)):
        exif = Image.Exif()
        exif[0x0112] = orientation
        buf = io.BytesIO()
        Image.fromarray(np.zeros((40, 20), np.uint8)).save(buf, format="JPEG", exif=exif)
        notes = decode_upload(buf.getvalue(), (8, 8)).notes
        assert ("rotated as its EXIF orientation says" in notes) is rotated, (orientation, notes)


def test_app_root_missing_or_a_file_and_unknown_model_link(corpus, tmp_path, monkeypatch):
    """Issue 19 #13: a models root that is missing or a file gets one error and no zoo button (it
    offered to build the zoo there); a link naming an unknown model says so (it fell back silently)."""
    (tmp_path / "a-file").write_text("x")
    for root, what in ((tmp_path / "nowhere", "missing"), (tmp_path / "a-file", "a file")):
        at = app_on(root, monkeypatch)
        assert not at.exception and not at.button, [b.label for b in at.button]
        assert [e.value for e in at.error] and what in at.error[0].value, [e.value for e in at.error]
    from streamlit.testing.v1 import AppTest
    monkeypatch.setenv("HASHVIZ_MODELS", str(corpus / "models"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["model"] = "no-such-model"
    at.run()
    assert not at.exception
    assert any("No model named no-such-model in this root" in shown(w.value) for w in at.sidebar.warning), \
        [w.value for w in at.sidebar.warning]


def _lsh_train(capsys, out: Path):
    return run_cli(capsys, "train", *SHALLOW, "--out", out)


def test_overwrite_replaces_only_a_model_dir(corpus, tmp_path, capsys):
    """--overwrite --out naming a models root (two models, a notes file) is refused before any
    training and leaves it byte-identical; naming a model directory, it replaces that model."""
    case = CASES_BY_ID["train-overwrite-models-root"]
    root = tmp_path / "models"
    for name in ("keep", "other"):
        shutil.copytree(corpus / "models" / VALID, root / name)
    (root / "notes.txt").write_text("my notes\n")
    with untouched(corpus, root):
        code, _, err = run_cli(capsys, "train", *SHALLOW, "--overwrite", "--out", root)
        assert_one_error_line(code, err, case.expect)
        assert "train:" not in err and "encode" not in err               # refused before training
        (root / "keep" / "notes.txt").write_text("x")                    # a model dir plus a stray file
        code, _, err = run_cli(capsys, "train", *SHALLOW, "--overwrite", "--out", root / "keep")
        (root / "keep" / "notes.txt").unlink()
        assert_one_error_line(code, err, r"keep is not a model directory \(it holds notes\.txt\)")
    code, out, err = run_cli(capsys, "train", *SHALLOW, "--overwrite", "--out", root / "other")
    assert code == 0, err
    from hashviz.zoo import load_model_dir
    assert load_model_dir(root / "other").method == "lsh" and load_model_dir(root / "keep").method == "dpsh"
    assert sorted(p.name for p in root.iterdir()) == ["keep", "notes.txt", "other"]


@pytest.mark.parametrize("case", [p for p in of_kind("train")
                                  if p.id not in KILLS and p.id != "train-overwrite-models-root"])
def test_training_failure(case, corpus, tmp_path, capsys, monkeypatch):
    root = tmp_path / "models"
    shutil.copytree(corpus / "models" / VALID, root / "keep")
    with untouched(corpus, root / "keep", corpus / "train"):
        if case.id == "train-disk-full":
            save, calls = np.save, []

            def full(*a, **k):
                calls.append(1)
                if len(calls) > 2:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                return save(*a, **k)
            monkeypatch.setattr(np, "save", full)
            code, _, err = _lsh_train(capsys, root / "new")
        elif case.id == "train-read-only-root":
            def read_only(src, dst):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS))
            monkeypatch.setattr(os, "replace", read_only)
            code, _, err = _lsh_train(capsys, root / "new")
        elif case.id == "train-parent-is-a-file":
            code, _, err = _lsh_train(capsys, corpus / "train" / "not-a-dir" / "new")
        elif case.id == "train-non-finite-loss":
            code, _, err = run_cli(capsys, "train", *DEEP, "--epochs", "1", "--max-train", "64", "--lr", "1e30",
                                   "--out", root / "new")
        assert_one_error_line(code, err, case.expect)
    assert sorted(p.name for p in root.iterdir()) == ["keep"]     # no model, no temporary left
