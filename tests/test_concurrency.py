"""What several sessions of one server share: the upload cache and the models-root listing."""

from __future__ import annotations

import io
import sys
import threading
import time

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hashviz.retrieval import upload
from hashviz.retrieval.upload import decode_upload

REPO = Path(__file__).resolve().parent.parent


def png(seed: int) -> bytes:
    picture = np.random.default_rng(seed).integers(0, 256, (12, 12), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG")
    return buf.getvalue()


class YieldingDict(dict):
    """The cache's dict, handing the interpreter to other threads on every read: a session that
    reads its entry back after inserting it gives the others time to evict it, as a busy server
    may do at any moment."""

    def __getitem__(self, key):
        time.sleep(0.005)
        return super().__getitem__(key)

    def get(self, key, default=None):
        time.sleep(0.005)
        return super().get(key, default)


def test_sessions_uploading_at_once_share_the_cache_safely(monkeypatch):
    """Eight sessions decode more distinct uploads than a (small) cache holds, with thread
    switches forced often: every decode equals the same file decoded alone, one at a time, and no
    session gets a KeyError for an entry another evicted between its insert and its read."""
    monkeypatch.setattr(upload, "UPLOAD_CACHE_SIZE", 2)
    monkeypatch.setattr(upload, "_DECODED", YieldingDict())
    files = [png(seed) for seed in range(12)]
    truth = [decode_upload(f, (8, 8), invert=False).image for f in files]
    errors, wrong = [], []

    def session(offset: int):
        try:
            for k in range(2 * len(files)):
                i = (offset + k) % len(files)
                image = decode_upload(files[i], (8, 8), invert=False).image
                if not np.array_equal(image, truth[i]):
                    wrong.append(i)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(repr(exc))
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=session, args=(7 * t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        sys.setswitchinterval(interval)
    assert errors == [] and wrong == []


# ---------------------------------------------------------------- the models-root listing

def test_a_listing_keeps_one_copy_of_each_model_across_trainings(tiny_zoo, tmp_path):
    """New models arriving one after another (as trainings save them) re-read nothing else: the
    unchanged models are the very objects read first, so their arrays exist once; a model
    rewritten in place is read again and its old copy is released."""
    import gc
    import shutil
    import weakref

    from hashviz.encoders import read_weights
    from hashviz.model_listing import ModelListing
    from hashviz.zoo import load_model_dir, save_model_dir
    root = tmp_path / "models"
    for name in ("dpsh-16", "itq-16"):
        shutil.copytree(tiny_zoo / name, root / name)
    listing = ModelListing(root)
    first = {m.name: m for m in listing.current()[0]}
    for k in range(3):
        shutil.copytree(tiny_zoo / "lsh-16", root / f"trained-{k}")
        now = {m.name: m for m in listing.current()[0]}
        assert set(now) == {"dpsh-16", "itq-16", *(f"trained-{i}" for i in range(k + 1))}
        assert all(now[name] is first[name] for name in ("dpsh-16", "itq-16"))
    old = weakref.ref(first.pop("itq-16"))
    model = load_model_dir(root / "itq-16")
    flipped = {**model.arrays, "database": 255 - model.database_codes}
    save_model_dir(root / "itq-16", model.config, flipped, read_weights(model.path), overwrite=True)
    del model, flipped, now
    again = {m.name: m for m in listing.current()[0]}
    assert np.array_equal(again["itq-16"].database_codes, np.load(root / "itq-16" / "codes" / "database.npy"))
    assert again["dpsh-16"] is first["dpsh-16"]
    gc.collect()
    assert old() is None, "the listing still holds the rewritten model's old arrays"


UNREADABLE_ROOT = """
import sys
from hashviz.errors import HashvizError
from hashviz.model_listing import ModelListing
from hashviz.zoo import discover
listing = ModelListing(sys.argv[1])
print("listed", listing.current(), "problem", listing.problem)
try:
    discover(sys.argv[1])
except HashvizError as exc:
    print("discover:", exc)
"""


def test_an_unreadable_models_root_is_one_message(tmp_path):
    """A root the server's user may not list (mode 000): no models and one message naming it,
    not an uncaught PermissionError. Run as root here, the check drops the capabilities that let
    root read anything (setpriv), so the permission bits apply as they would to a server's user."""
    import os
    import shutil
    import subprocess
    root = tmp_path / "models"
    root.mkdir()
    root.chmod(0)
    try:
        prefix = []
        if os.geteuid() == 0:
            if not shutil.which("setpriv"):
                pytest.skip("running as root without setpriv: permission bits do not apply")
            prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
        proc = subprocess.run([*prefix, sys.executable, "-c", UNREADABLE_ROOT, str(root)], capture_output=True,
                              text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    finally:
        root.chmod(0o755)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    message = f"cannot read the models root {root}: Permission denied"
    assert proc.stdout.splitlines() == [f"listed ([], []) problem {message}", f"discover: {message}"]
