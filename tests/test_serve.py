"""`hashviz serve [--demo]`: what the server is started with, and each demo restriction, checked in
Streamlit's AppTest and in real headless Chromium (a session that asks for the hidden pages by URL
gets nothing of them)."""

from __future__ import annotations

import argparse
import io
import shutil
import signal
import time

import numpy as np
import pytest
from PIL import Image

from app_support import app_on
from browser_support import chromium_page, running_app, screenshot_on_failure, wait_for_app
from conftest import TINY_ZOO
from hashviz import cli
from hashviz.deployment import Deployment, first_model, serve_plan
from hashviz.errors import HashvizError


def serve_args(root, *argv):
    args = cli.build_parser().parse_args(["serve", "--models", str(root), *map(str, argv)])
    for flag, demo, other in (("max_upload_mb", 4, 10), ("max_upload_mp", 16, 16)):
        if getattr(args, flag) is None:
            setattr(args, flag, demo if args.demo else other)
    return args


@pytest.fixture(scope="module")
def demo_root(tiny_zoo, tmp_path_factory):
    """The tiny zoo's model dirs alone (other tests write caches into tiny_zoo/.cache)."""
    root = tmp_path_factory.mktemp("demo") / "models"
    for name in TINY_ZOO:
        shutil.copytree(tiny_zoo / name, root / name)
    return root


def snapshot(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


def best_by_hand(root):
    from hashviz.zoo import discover
    models = discover(root)[0]
    return max(models, key=lambda m: (m.metrics["map_all"], -models.index(m))).name


# ---------------------------------------------------------------- the server's plan

def test_serve_plan_binds_loopback_and_passes_demo_settings_by_environment(demo_root, tmp_path, monkeypatch):
    monkeypatch.setenv("HASHVIZ_DEMO", "1")             # left over in the caller's shell: never inherited
    argv, env = serve_plan(serve_args(demo_root, "--port", 8600))
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[argv.index("--server.port") + 1] == "8600" and argv[argv.index("--server.maxUploadSize") + 1] == "10"
    assert "HASHVIZ_DEMO" not in env and env["HASHVIZ_MODELS"] == str(demo_root.resolve())

    argv, env = serve_plan(serve_args(demo_root, "--demo", "--address", "0.0.0.0", "--default-model", "lsh-16",
                                      "--cache", tmp_path / "cache"))
    assert argv[argv.index("--server.address") + 1] == "0.0.0.0" and argv[argv.index("--server.maxUploadSize") + 1] == "4"
    server = Deployment.from_env(env)
    assert (server.demo, server.models_root, server.default_model, server.backend) == \
        (True, str(demo_root.resolve()), "lsh-16", "faiss")
    assert (server.upload_max_bytes, server.upload_max_pixels) == (4 * 2**20, 16_000_000)
    assert env["HASHVIZ_PROJECTION_CACHE"] == str(tmp_path / "cache" / "projections")
    assert server.default_milvus_uri == str(tmp_path / "cache" / "milvus.db")


@pytest.mark.parametrize("argv, message", [
    (["--default-model", "nope"], "--default-model 'nope' is not a valid model in"),
    (["--port", "70000"], "--port must be 1..65535, got 70000"),
])
def test_serve_refuses_bad_flags_in_one_line(demo_root, capsys, argv, message):
    assert cli.main(["serve", "--models", str(demo_root), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("hashviz: error: ") and message in err


def test_serve_refuses_a_missing_root(tmp_path):
    with pytest.raises(HashvizError, match="models root .*nowhere is not a folder"):
        serve_plan(serve_args(tmp_path / "nowhere"))


def test_first_model_is_the_named_one_else_the_best_map(demo_root):
    from hashviz.zoo import discover
    models = discover(demo_root)[0]
    scores = {m.name: m.metrics["map_all"] for m in models}
    best = max(scores, key=scores.get)               # the definition, over the tiny zoo
    assert first_model(models).name == best
    assert first_model(models, "lsh-16").name == "lsh-16" and first_model(models, "nope").name == best
    assert first_model([]) is None


def test_upload_caps_in_bytes_and_pixels():
    from hashviz.retrieval import decode_upload
    png = io.BytesIO()
    Image.fromarray(np.zeros((3000, 2000), np.uint8)).save(png, format="PNG")
    data = png.getvalue()
    with pytest.raises(HashvizError, match=r"the image is 2000×3000 = 6 megapixels; the limit is 4 MP"):
        decode_upload(data, (28, 28), max_pixels=4_000_000)
    with pytest.raises(HashvizError, match=r"the file is 0\.0 MB; this server takes images up to 0\.0 MB"):
        decode_upload(data, (28, 28), max_bytes=len(data) - 1)
    assert decode_upload(data, (28, 28), max_bytes=len(data), max_pixels=6_000_000).image.shape == (28, 28)


# ---------------------------------------------------------------- demo restrictions, in AppTest

@pytest.fixture
def demo_env(monkeypatch, demo_root, tmp_path):
    env = Deployment(demo=True, models_root=str(demo_root), cache_dir=str(tmp_path / "cache")).environment()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return demo_root


def test_demo_sidebar_has_no_root_box_no_backend_choice_and_ignores_a_session_root(demo_env, tmp_path,
                                                                                    monkeypatch):
    other = tmp_path / "other-root"
    other.mkdir()
    at = app_on(demo_env, "pages/retrieval.py", monkeypatch, models_root=str(other), search_backend="Milvus",
                milvus_uri=str(tmp_path / "typed.db"))
    labels = [w.label for w in at.sidebar.text_input] + [w.label for w in at.sidebar.radio]
    assert labels == []                                      # no models root, no backend, no Milvus URI
    assert at.session_state["model_name"] == best_by_hand(demo_env)     # the root's, not the session's
    assert "Search: faiss (in-process) (set by the server)" in at.sidebar.caption[-1].value
    assert not (tmp_path / "typed.db").exists() and at.title[0].value == "Retrieval"


def test_demo_has_no_train_page_and_no_zoo_button(demo_env, tmp_path, monkeypatch):
    at = app_on(demo_env, "pages/train.py", monkeypatch)
    assert "Train a model" not in [t.value for t in at.title] and not at.button
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("HASHVIZ_MODELS", str(empty))
    at = app_on(empty, "pages/retrieval.py", monkeypatch)
    assert [b.label for b in at.button] == [] and "no trained model to show" in at.markdown[0].value


# ---------------------------------------------------------------- the demo server in Chromium

@pytest.mark.browser
def test_demo_server_in_the_browser(demo_root, tmp_path):
    before = snapshot(demo_root)
    cache = tmp_path / "cache"
    with running_app(demo_root, serve_args=["--demo", "--cache", cache]) as (url, proc, _), chromium_page() as page:
        try:
            page.goto(url)
            page.locator(".hv-grid .hv-tile").first.wait_for(timeout=90000)     # Retrieval, with images
            wait_for_app(page)
            assert page.locator(".hv-grid .hv-tile img").count() > 0
            sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
            assert "Models root" not in sidebar and "Milvus URI" not in sidebar and "Search backend" not in sidebar
            nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
            assert "Retrieval" in nav and "Train" not in nav
            first = best_by_hand(demo_root)
            page.wait_for_function("(m) => new URLSearchParams(location.search).get('model') === m", arg=first)

            for hidden in ("train", "train?model=lsh-16"):          # the hidden page by URL: Retrieval instead
                page.goto(f"{url}/{hidden}")
                page.locator(".hv-grid .hv-tile").first.wait_for(timeout=60000)
                wait_for_app(page)
                body = page.locator('[data-testid="stMain"]').inner_text()
                assert "Train a model" not in body and "Start training" not in body, hidden
                assert page.get_by_role("button", name="Start training").count() == 0
            page.goto(f"{url}/pages/train.py")                     # the file's path: Streamlit's empty shell
            page.wait_for_timeout(3000)
            assert "Train a model" not in page.content() and "Start training" not in page.content()
        except Exception:
            screenshot_on_failure(page, "demo")
            raise
        # `hashviz serve` became the server (exec): its pid is Streamlit's, and SIGTERM stops it
        assert "streamlit" in open(f"/proc/{proc.pid}/cmdline", "rb").read().decode(errors="replace")
        proc.send_signal(signal.SIGTERM)
        start = time.monotonic()
        assert proc.wait(20) is not None and time.monotonic() - start < 20
    assert snapshot(demo_root) == before                      # the read-only zoo: nothing written there
    assert cache.is_dir()                                     # made by `hashviz serve`
