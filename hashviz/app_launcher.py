"""The app started from Python: `hashviz serve`'s own plan (hashviz.deployment.serve_plan) run as a
background process on a free loopback port, and a handle to it (url, close, context manager, an
inline IFrame in Jupyter). Returns once the server answers its health check.
"""

from __future__ import annotations

import html
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from hashviz.errors import HashvizError

HEALTH = "/_stcore/health"
START_TIMEOUT_S = 60.0

__all__ = ["AppHandle", "launch_app", "free_port", "models_root_for"]


class AppHandle:
    """A running app: `.url`, `.close()` (ends the server, frees its port, removes a temporary
    models root), usable as a context manager; shows the app inline in a Jupyter notebook."""

    def __init__(self, process: subprocess.Popen, url: str, port: int, root: Path, temporary: Path | None, log: Path):
        self.process, self.url, self.port, self.models_root = process, url, port, root
        self._temporary, self.log = temporary, log

    def __repr__(self) -> str:
        state = "running" if self.running else "closed"
        return f"AppHandle({self.url}, {state}, models {self.models_root})"

    def _repr_html_(self) -> str:
        url = html.escape(self.url, quote=True)
        return (f'<iframe src="{url}" width="100%" height="800" style="border:0"></iframe>'
                f'<p><a href="{url}" target="_blank">{url}</a></p>')

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def close(self, timeout: float = 10.0) -> None:
        """End the server (its whole process group) and free the port; safe to call twice."""
        if self.running:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
            except ProcessLookupError:
                pass
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None

    def __enter__(self) -> "AppHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close(timeout=2.0)
        except Exception:  # noqa: BLE001 - interpreter shutdown: best effort only
            pass


def free_port() -> int:
    """A loopback port no one listens on now (the OS's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def models_root_for(models) -> tuple[Path, Path | None]:
    """(models root, the temporary folder to remove or None): a models root as it is; one model
    directory, a list of model directories or Models (hashviz.api_models.Model) copied into a fresh
    temporary root (the app reads one root; links leaving it are refused there)."""
    from hashviz.api_models import Model, load
    if isinstance(models, (str, os.PathLike)):
        path = Path(models).expanduser()
        if not path.is_dir():
            raise HashvizError(f"{models} is not a folder: give a models root, model directories or Models")
        if not (path / "config.json").is_file():
            return path.resolve(), None
        models = [path]
    if isinstance(models, Model):
        models = [models]
    if not isinstance(models, (list, tuple)) or not models:
        raise HashvizError("models must be a models root, a model directory, or a non-empty list of model "
                           f"directories or Models; got {type(models).__name__}")
    temporary = Path(tempfile.mkdtemp(prefix="hashviz-app-"))
    try:
        seen = set()
        for item in models:
            model = item if isinstance(item, Model) else load(item)
            if model.name in seen:
                raise HashvizError(f"two models are named {model.name!r}: give them different names")
            seen.add(model.name)
            model.save(temporary / model.name)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return temporary, temporary


def launch_app(models, *, port: int | None = None, demo: bool = False, timeout: float = START_TIMEOUT_S) -> AppHandle:
    """See hashviz.api.launch_app."""
    from hashviz.cli import build_parser, serve_defaults
    from hashviz.deployment import PROJECTION_CACHE_ENV, serve_plan
    root, temporary = models_root_for(models)
    try:
        port = free_port() if port is None else port
        args = serve_defaults(build_parser().parse_args(
            ["serve", "--models", str(root), "--port", str(port), "--address", "127.0.0.1", *(["--demo"] if demo else [])]))
        argv, env = serve_plan(args)
        Path(env[PROJECTION_CACHE_ENV]).parent.mkdir(parents=True, exist_ok=True)
        log = Path(tempfile.mkstemp(prefix="hashviz-app-", suffix=".log")[1])
        with open(log, "wb") as out:
            process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)     # its own group: close() ends all of it
    except BaseException:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
        raise
    handle = AppHandle(process, f"http://127.0.0.1:{port}", port, root, temporary, log)
    _wait_healthy(handle, timeout)
    return handle


def _wait_healthy(handle: AppHandle, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not handle.running:
            tail = handle.log.read_text(errors="replace").strip().splitlines()[-3:]
            handle.close()
            raise HashvizError(f"the app stopped while starting: {' | '.join(tail) or 'no output'}")
        try:
            with urllib.request.urlopen(handle.url + HEALTH, timeout=1.0) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    handle.close()
    raise HashvizError(f"the app did not answer {HEALTH} within {timeout:.0f} s (log: {handle.log})")
