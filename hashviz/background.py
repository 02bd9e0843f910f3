"""Background work, one runner for all of it: training runs and code-map projections.

`JobRunner` runs submitted functions in daemon worker threads (at most `workers` at once), one job
per key, shared by every caller; finished jobs are kept (up to `keep`) so their results can be read.
A `Job` says its state ("queued", "running", "done", "failed", "cancelled"), its result or error,
and carries a stop flag the work may check. The Code map submits UMAP maps to one app-wide runner
(hashviz.map_jobs.MapJobs; the fits run one at a time in hashviz.projection's UMAP process); training runs go to
`TRAINING_RUNNER` (several workers, so one session's run never waits behind another's).

Training on top of it: `TrainingJob` turns build_model's progress into snapshots.

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

import itertools
import math
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from hashviz.errors import HashvizError

if TYPE_CHECKING:
    from hashviz.training import TrainSpec

__all__ = ["Job", "JobRunner", "TRAINING_RUNNER", "JobSnapshot", "TrainingJob", "start_training", "output_name",
           "output_path", "QUEUED", "RUNNING", "DONE", "FAILED", "CANCELLED", "STAGE_TEXT"]

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
STAGE_TEXT = {"starting": "loading the data", "train": "training", "epoch": "validating",
              "encode": "encoding the database", "evaluate": "evaluating on the queries",
              "features": "computing the pretrained features (once per dataset and resolution)"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


# --------------------------------------------------------------------------------------------
# the runner


@dataclass(eq=False)
class Job:
    """One piece of background work. state: QUEUED, RUNNING, DONE or FAILED (error holds why)."""

    key: str
    description: str
    state: str = QUEUED
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    result: Any = None
    error: BaseException | None = None
    _ended: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def elapsed(self) -> float:
        """Seconds since the job started running (0 while queued)."""
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    @property
    def progress_text(self) -> str:
        """The true wait: 'waiting 42 s for a free worker' while queued, 'running for 12 s' after."""
        if self.started is None:
            return f"waiting {time.monotonic() - self.submitted:.0f} s for a free worker"
        return f"running for {self.elapsed:.0f} s"

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ended (True) or `timeout` seconds passed (False)."""
        return self._ended.wait(timeout)


class JobRunner:
    """Runs submitted work in daemon threads, at most `workers` at once, in submission order.

    submit(key, fn) queues fn() unless a job with that key is queued, running or done; a failed
    job is replaced by a new one. Finished jobs are kept (up to `keep`) so their results can be read.
    Idle workers end after `idle_s` seconds and come back with the next job.
    """

    def __init__(self, workers: int = 1, keep: int = 32, idle_s: float = 60.0):
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._queue: list[tuple[Job, Callable[[], Any]]] = []
        self._workers, self._keep, self._idle_s = int(workers), int(keep), float(idle_s)
        self._threads = self._idle = 0

    def get(self, key: str) -> Job | None:
        with self._lock:
            return self._jobs.get(key)

    def submit(self, key: str, fn: Callable[[], Any], description: str = "") -> Job:
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.state != FAILED:
                return job
            job = Job(key, description)
            self._jobs[key] = job
            self._jobs.move_to_end(key)
            self._queue.append((job, fn))
            self._trim()
            # An idle worker that was woken takes one job, but counts as idle until it does: a new
            # thread is needed whenever more jobs wait than workers idle, or the second of two
            # quick submissions would wait behind the first (a whole training run).
            if len(self._queue) > self._idle and self._threads < self._workers:
                self._threads += 1
                threading.Thread(target=self._work, name=f"hashviz-jobs-{self._threads}", daemon=True).start()
            self._wake.notify()
            return job

    def forget(self, key: str) -> None:
        """Drop a finished or failed job (a queued or running one stays)."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and not job.active:
                del self._jobs[key]

    def ahead_of(self, job: Job) -> int:
        """How many jobs run or wait before `job` (0 when it runs or is finished)."""
        with self._lock:
            queued = [j for j, _ in self._queue]
            if not any(j is job for j in queued):
                return 0
            running = sum(j.state == RUNNING for j in self._jobs.values())
            return next(i for i, j in enumerate(queued) if j is job) + running

    def _trim(self) -> None:
        finished = [k for k, j in self._jobs.items() if not j.active]
        for k in finished[:max(0, len(self._jobs) - self._keep)]:
            del self._jobs[k]

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
                while not self._queue:
                    if not self._wake.wait(timeout=self._idle_s) and not self._queue:
                        self._idle -= 1
                        self._threads -= 1
                        return
                self._idle -= 1
                job, fn = self._queue.pop(0)
                job.state, job.started = RUNNING, time.monotonic()
            try:
                result, error, state = fn(), None, DONE
            except Exception as exc:                    # kept for the caller to show
                result, error, state = None, exc, FAILED
            with self._lock:
                job.result, job.error, job.state, job.finished = result, error, state, time.monotonic()
            job._ended.set()


TRAINING_RUNNER = JobRunner(workers=8, keep=16)
_RUN_IDS = itertools.count()


# --------------------------------------------------------------------------------------------
# training runs


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
        """Training steps count 90 %, encoding and evaluating the last 10 % (a frozen pretrained
        backbone's features, computed first, fill the bar on their own)."""
        if self.state == DONE:
            return 1.0
        part = min(self.done / self.total, 1.0) if self.total else 0.0
        if self.stage == "train":
            return 0.9 * part
        if self.stage == "epoch":
            return 0.9 * min(self.epoch / max(self.epochs, 1), 1.0)
        if self.stage == "encode":
            return 0.9 + 0.08 * part
        if self.stage == "features":        # a phase of its own before training: the bar fills for it
            return part
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
    """One build_model run on a JobRunner; every method is safe to call from any thread."""

    def __init__(self, spec: TrainSpec, out: Path, runner: JobRunner | None = None):
        self.spec, self.out = spec, Path(out)
        self._runner = runner or TRAINING_RUNNER
        self._job: Job | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._start = time.perf_counter()
        self._end: float | None = None
        epochs = spec.resolved().epochs or 0
        self._snap = JobSnapshot(RUNNING, "starting", 0, 0, 0, int(epochs), math.nan, name=self.out.name)

    # ------------------------------------------------------------ reading
    def snapshot(self) -> JobSnapshot:
        with self._lock:
            end = self._end if self._end is not None else time.perf_counter()
            return replace(self._snap, seconds=end - self._start, cancel_requested=self._stop.is_set())

    def cancel(self) -> None:
        """Ask the run to stop; it stops at the trainer's next check (within one training step)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> JobSnapshot:
        if self._job is not None:
            self._job.wait(timeout)
        return self.snapshot()

    @property
    def alive(self) -> bool:
        return self._job is not None and self._job.active

    # ------------------------------------------------------------ the work
    def start(self) -> "TrainingJob":
        key = f"train:{self.out}:{next(_RUN_IDS)}"      # every start is its own run
        self._job = self._runner.submit(key, self._run, f"training {self.out.name}")
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
        from hashviz.training import TrainingCancelled, build_model
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
        _release(self.out)    # saved (the name now exists) or nothing written (the name is free)


_RESERVED: set[str] = set()     # output folders of the runs under way in this process
_RESERVED_LOCK = threading.Lock()


def _reserve(out: Path) -> None:
    """Claim `out` for one run, so a second run to the same model name is refused at its start, not
    after training for the whole run and failing to save."""
    with _RESERVED_LOCK:
        if Path(out).exists():
            raise HashvizError(f"{out} already exists; choose another model name")
        if os.path.realpath(out) in _RESERVED:
            raise HashvizError(f"another training run is already saving a model named {Path(out).name}; "
                               "choose another model name or wait for it to finish")
        _RESERVED.add(os.path.realpath(out))


def _release(out: Path) -> None:
    with _RESERVED_LOCK:
        _RESERVED.discard(os.path.realpath(out))


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
    _reserve(out)
    try:
        return TrainingJob(spec, out).start()
    except BaseException:
        _release(out)
        raise

