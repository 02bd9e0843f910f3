"""Background training: one thread runs hashviz.training.build_model while the app stays responsive.

    job = start_training(spec, models_root / name)   # returns at once
    snap = job.snapshot()                            # thread-safe copy: state, progress, history
    job.cancel()                                     # build_model stops at its next check; nothing is written
    job.join(timeout)                                # wait (tests)

The thread only writes into the job (under its lock); readers only take snapshots. States:
"running" -> "done" (snap.out is the new model dir), "failed" (snap.message says why; no traceback)
or "cancelled" (nothing written: build_model saves atomically and checks should_stop before saving).
Nothing here imports streamlit.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from hashviz.errors import HashvizError
from hashviz.training import TrainingCancelled, TrainSpec

__all__ = ["JobSnapshot", "TrainingJob", "start_training", "output_name", "output_path", "RUNNING",
           "DONE", "FAILED", "CANCELLED", "STAGE_TEXT"]

RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"
STAGE_TEXT = {"starting": "loading the data", "train": "training", "epoch": "validating",
              "encode": "encoding the database", "evaluate": "evaluating on the queries"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def output_name(method: str, bits: int, regularizers: dict | None = None, dataset: str = "fashion-mnist") -> str:
    """A model dir name from the run: "dpsh-32", "dpsh-32-balance" (weight 0.1, as the zoo's
    ablations), "dpsh-32-balance0.5-quantization", "dpsh-16-digits" (non-default dataset)."""
    parts = [method, str(int(bits))]
    for name, weight in sorted((regularizers or {}).items()):
        parts.append(name if math.isclose(float(weight), 0.1) else f"{name}{float(weight):g}")
    if dataset != "fashion-mnist":
        parts.append(re.sub(r"[^A-Za-z0-9._-]+", "_", dataset.replace("folder:", "")).strip("_") or "data")
    return "-".join(parts)


def output_path(root, name: str) -> Path:
    """root / name after checking the name is a plain, new directory name (HashvizError otherwise)."""
    name = (name or "").strip()
    if not _NAME.match(name):
        raise HashvizError(f"model name {name!r} is not allowed: use letters, digits, '.', '_' or '-' "
                           "(no '/', not starting with '.' or '-', at most 80 characters)")
    out = Path(root) / name
    if out.exists():
        raise HashvizError(f"{out} already exists; choose another model name (existing models are "
                           "never overwritten)")
    return out


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of a job's state. fraction: 0..1 over the whole run."""

    state: str
    stage: str
    done: int
    total: int
    epoch: int
    epochs: int
    last_loss: float
    history: tuple = ()
    message: str = ""
    out: Path | None = None
    name: str = ""
    seconds: float = 0.0
    cancel_requested: bool = False

    @property
    def finished(self) -> bool:
        return self.state != RUNNING

    @property
    def fraction(self) -> float:
        """Training steps count 90 %, encoding and evaluating the last 10 %."""
        if self.state == DONE:
            return 1.0
        part = min(self.done / self.total, 1.0) if self.total else 0.0
        if self.stage == "train":
            return 0.9 * part
        if self.stage == "epoch":
            return 0.9 * min(self.epoch / max(self.epochs, 1), 1.0)
        if self.stage == "encode":
            return 0.9 + 0.08 * part
        return 0.98 if self.stage == "evaluate" else 0.0

    @property
    def text(self) -> str:
        """One line for a progress bar."""
        if self.state == DONE:
            return f"done in {self.seconds:.0f} s: {self.name}"
        if self.state != RUNNING:
            return f"{self.state}: {self.message}"
        what = STAGE_TEXT.get(self.stage, self.stage)
        if self.stage in ("train", "epoch") and self.epochs:
            loss = "" if math.isnan(self.last_loss) else f", loss {self.last_loss:.4f}"
            what += f", epoch {max(self.epoch, 1)}/{self.epochs}{loss}"
        elif self.total:
            what += f" {self.done}/{self.total}"
        stop = " (cancelling…)" if self.cancel_requested else ""
        return f"{what} · {self.seconds:.0f} s{stop}"


class TrainingJob:
    """One build_model run in a daemon thread; every method is safe to call from any thread."""

    def __init__(self, spec: TrainSpec, out: Path):
        self.spec, self.out = spec, Path(out)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._start = time.perf_counter()
        self._end: float | None = None
        epochs = spec.resolved().epochs or 0
        self._snap = JobSnapshot(RUNNING, "starting", 0, 0, 0, int(epochs), math.nan, name=self.out.name)
        self._thread = threading.Thread(target=self._run, name=f"hashviz-train-{self.out.name}", daemon=True)

    # ------------------------------------------------------------ reading
    def snapshot(self) -> JobSnapshot:
        with self._lock:
            end = self._end if self._end is not None else time.perf_counter()
            return replace(self._snap, seconds=end - self._start, cancel_requested=self._stop.is_set())

    def cancel(self) -> None:
        """Ask the run to stop; it stops at the trainer's next check (within one training step)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> JobSnapshot:
        self._thread.join(timeout)
        return self.snapshot()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # ------------------------------------------------------------ the thread
    def start(self) -> "TrainingJob":
        self._thread.start()
        return self

    def _update(self, **changes) -> None:
        with self._lock:
            self._snap = replace(self._snap, **changes)

    def _progress(self, stage: str, done: int, total: int, info: dict) -> None:
        changes = {"stage": stage, "done": int(done), "total": int(total)}
        if stage == "train":
            changes["epoch"] = int(info.get("epoch", 0))
            if "loss" in info:
                changes["last_loss"] = float(info["loss"])
        elif stage == "epoch":
            entry = {k: info[k] for k in ("epoch", "loss", "val_map", "seconds") if k in info}
            with self._lock:
                self._snap = replace(self._snap, history=self._snap.history + (entry,), epoch=int(done), **changes)
            return
        self._update(**changes)

    def _run(self) -> None:
        from hashviz.training import build_model
        try:
            out = build_model(self.spec, self.out, progress=self._progress, should_stop=self._stop.is_set)
            final = {"state": DONE, "out": Path(out), "message": f"saved {Path(out).name}"}
        except TrainingCancelled:
            final = {"state": CANCELLED, "message": "training cancelled; nothing was saved"}
        except HashvizError as exc:
            final = {"state": FAILED, "message": str(exc)}
        except Exception as exc:  # noqa: BLE001 - shown as a message, never a traceback
            final = {"state": FAILED, "message": f"unexpected problem ({type(exc).__name__}): {exc}"}
        with self._lock:
            self._end = time.perf_counter()
            self._snap = replace(self._snap, **final)


def start_training(spec: TrainSpec, out: Path) -> TrainingJob:
    """Check the spec and the target (HashvizError before any thread starts), then start the run."""
    from hashviz.methods import method_info
    info = method_info(spec.method)
    if spec.bits <= 0 or spec.bits % 8:
        raise HashvizError(f"bits must be a positive multiple of 8, got {spec.bits}")
    if spec.regularizers and not info.deep:
        raise HashvizError(f"{spec.method} is a shallow method: regularisers only apply to deep methods")
    if spec.regularizers:
        from hashviz.methods.regularizers import parse_reg
        parse_reg([f"{k}={v}" for k, v in spec.regularizers.items()])
    if info.deep and spec.epochs is not None and spec.epochs < 1:
        raise HashvizError("a deep method needs at least one epoch")
    if spec.lr is not None and not (spec.lr > 0 and math.isfinite(spec.lr)):
        raise HashvizError(f"the learning rate must be a positive number, got {spec.lr}")
    if Path(out).exists():
        raise HashvizError(f"{out} already exists; choose another model name")
    return TrainingJob(spec, out).start()

