"""What several sessions of one server share: the upload cache and the models-root listing."""

from __future__ import annotations

import io
import sys
import threading
import time

import numpy as np
from PIL import Image

from hashviz.retrieval import upload
from hashviz.retrieval.upload import decode_upload


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
