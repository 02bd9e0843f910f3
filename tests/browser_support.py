"""Real Streamlit in real headless Debian Chromium: start the app on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
ARTIFACTS = REPO / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(models_root: Path, timeout: float = 90.0, extra_env: dict | None = None,
                serve_args: list | None = None):
    """Yield (base_url, process, cold_start_seconds) of `streamlit run app.py` on 127.0.0.1, or with
    `serve_args` of `hashviz serve --models ROOT --port P *serve_args` (which becomes the server)."""
    port = free_port()
    env = {**os.environ, "HASHVIZ_MODELS": str(models_root), **(extra_env or {})}
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true"]
    if serve_args is not None:
        cmd = [sys.executable, "-m", "hashviz.cli", "serve", "--models", str(models_root), "--port", str(port),
               *map(str, serve_args)]
    log = open(ARTIFACTS.mkdir(exist_ok=True) or ARTIFACTS / f"streamlit-{port}.log", "w")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.perf_counter() - start > timeout:
                raise RuntimeError(f"streamlit did not start; see {log.name}")
            time.sleep(0.25)
        yield url, proc, time.perf_counter() - start
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def chromium_page(width: int = 1500, height: int = 1000):
    """A Playwright page in Debian's headless Chromium (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def screenshot_on_failure(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with contextlib.suppress(Exception):
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def wait_for_app(page, timeout_ms: int = 60000) -> None:
    """Wait until Streamlit finished running the script (no 'Running' indicator)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)


def open_app(page, url: str) -> None:
    """Open the app's root and wait for its first run: a fresh server runs a deep link's page file
    alone until app.py has run once, so tests open / before any page URL."""
    page.goto(url)
    page.get_by_text("Models root").first.wait_for(timeout=60000)
    wait_for_app(page)


def download(page, button) -> tuple[bytes, str]:
    """Click a download button (a name or a pattern) and return the file's bytes and suggested name."""
    with page.expect_download() as file:
        page.get_by_role("button", name=button).click()
    return open(file.value.path(), "rb").read(), file.value.suggested_filename
