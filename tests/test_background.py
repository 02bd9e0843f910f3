"""hashviz.background: training in a thread, progress snapshots, cancel, errors as messages."""

import shutil
import threading
import time

import pytest

from hashviz import background as bg
from hashviz.errors import HashvizError
from hashviz.training import TrainSpec
from hashviz.zoo import discover, load_model_dir


def digits(method="dpsh", epochs=1, **kw):
    return TrainSpec(method, 16, dataset="digits", epochs=epochs, width=8, batch_size=64, **kw)


def test_output_name_is_derived_from_method_bits_regs_and_dataset():
    assert bg.output_name("dpsh", 32) == "dpsh-32"
    assert bg.output_name("dpsh", 32, {"balance": 0.1}) == "dpsh-32-balance"       # as the zoo's ablations
    assert bg.output_name("csq", 64, {"quantization": 0.1, "balance": 0.5}) == "csq-64-balance0.5-quantization"
    assert bg.output_name("itq", 16, dataset="digits") == "itq-16-digits"
    assert bg.output_name("lsh", 16, dataset="folder:/data/my pics") == "lsh-16-data_my_pics"


def test_output_path_refuses_existing_and_odd_names(tmp_path):
    (tmp_path / "dpsh-32").mkdir()
    with pytest.raises(HashvizError, match="already exists"):
        bg.output_path(tmp_path, "dpsh-32")
    for bad in ("", "../x", "a/b", ".hidden", "-x", "x" * 81):
        with pytest.raises(HashvizError, match="not allowed"):
            bg.output_path(tmp_path, bad)
    assert bg.output_path(tmp_path, " new-1 ") == tmp_path / "new-1"


def test_a_run_reports_progress_and_history_then_saves(tmp_path):
    job = bg.start_training(digits(epochs=2), tmp_path / "m")
    seen = []
    while job.alive:
        seen.append(job.snapshot())
        job.join(0.05)
    snap = job.snapshot()
    assert snap.state == bg.DONE and snap.out == tmp_path / "m" and snap.fraction == 1.0
    assert [h["epoch"] for h in snap.history] == [1, 2] and all(0 <= h["val_map"] <= 1 for h in snap.history)
    assert load_model_dir(tmp_path / "m").config["history"][-1]["epoch"] == 2
    fractions = [s.fraction for s in seen]
    assert fractions == sorted(fractions) and all(0 <= f <= 1 for f in fractions)
    assert "done" in snap.text and snap.finished


def test_cancel_stops_and_writes_nothing(tmp_path):
    started = threading.Event()
    job = bg.TrainingJob(digits(epochs=50), tmp_path / "m")
    original = job._progress

    def progress(stage, done, total, info):
        original(stage, done, total, info)
        started.set()
    job._progress = progress
    job.start()
    assert started.wait(120)
    job.cancel()
    snap = job.join(120)
    assert snap.state == bg.CANCELLED and "nothing was saved" in snap.message
    assert list(tmp_path.iterdir()) == [] and snap.cancel_requested


def test_errors_become_messages_not_exceptions(tmp_path, monkeypatch):
    import hashviz.training as training

    def boom(*a, **k):
        raise HashvizError("the loss became nan")
    monkeypatch.setattr(training, "build_model", boom)
    snap = bg.start_training(digits(), tmp_path / "a").join(30)
    assert snap.state == bg.FAILED and snap.message == "the loss became nan" and "failed" in snap.text

    def crash(*a, **k):
        raise RuntimeError("CUDA went away")
    monkeypatch.setattr(training, "build_model", crash)
    snap = bg.start_training(digits(), tmp_path / "b").join(30)
    assert snap.state == bg.FAILED and "RuntimeError" in snap.message and "CUDA went away" in snap.message


def test_bad_specs_are_refused_before_a_thread_starts(tmp_path):
    with pytest.raises(HashvizError, match="shallow"):
        bg.start_training(TrainSpec("lsh", 16, dataset="digits", regularizers={"balance": 0.1}), tmp_path / "a")
    with pytest.raises(HashvizError, match="unknown regulariser"):
        bg.start_training(digits(regularizers={"sparsity": 0.1}), tmp_path / "a")
    with pytest.raises(HashvizError, match="learning rate"):
        bg.start_training(digits(lr=-1.0), tmp_path / "a")
    with pytest.raises(HashvizError, match="unknown method"):
        bg.start_training(TrainSpec("nope", 16), tmp_path / "a")
    (tmp_path / "a").mkdir()
    with pytest.raises(HashvizError, match="exists"):
        bg.start_training(digits(), tmp_path / "a")


def test_shallow_run_lands_next_to_the_zoo(tiny_zoo, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(tiny_zoo, root)
    snap = bg.start_training(TrainSpec("pcah", 16, dataset="digits"), bg.output_path(root, "pcah-16")).join(120)
    assert snap.state == bg.DONE and snap.history == ()
    assert "pcah-16" in {m.name for m in discover(root)[0]}


def test_jobs_run_once_per_key_in_the_background():
    jobs = bg.JobRunner()
    gate, calls = threading.Event(), []

    def work():
        calls.append(1)
        gate.wait(5)
        return "map"
    job = jobs.submit("k", work)
    assert jobs.submit("k", work) is job                         # queued or running: the same job
    waiting = jobs.submit("k2", lambda: "other")
    assert jobs.ahead_of(waiting) >= 1
    gate.set()
    for _ in range(200):
        if job.state == "done" and waiting.state == "done":
            break
        time.sleep(0.01)
    assert (job.state, job.result, waiting.result, calls) == ("done", "map", "other", [1])
    assert jobs.submit("k", work) is job and calls == [1]         # done: kept, not rerun
    assert job.elapsed >= 0


def test_the_runner_runs_up_to_its_workers_at_once_and_keeps_failures_as_errors():
    runner, gate, running = bg.JobRunner(workers=2), threading.Event(), []

    def work(name):
        running.append(name)
        gate.wait(5)
        return name
    first, second, third = (runner.submit(k, lambda k=k: work(k)) for k in ("a", "b", "c"))
    for _ in range(500):
        if len(running) == 2:
            break
        time.sleep(0.01)
    assert sorted(running) == ["a", "b"] and third.state == bg.QUEUED and runner.ahead_of(third) == 2
    gate.set()
    assert all(job.wait(5) for job in (first, second, third)) and third.result == "c"
    broken = runner.submit("x", lambda: 1 / 0)
    assert broken.wait(5) and broken.state == bg.FAILED and isinstance(broken.error, ZeroDivisionError)
    assert runner.submit("x", lambda: "again") is not broken          # a failed job is replaced


def test_two_quick_submissions_run_at_once_on_an_idle_runner():
    """A worker that is idle, woken by a first submission, still counted as idle when a second
    came at once: the second job then waited behind the first (a whole training run) although
    the runner had free workers. Repeated: each round starts from one idle worker."""
    runner = bg.JobRunner(workers=4, idle_s=30)
    assert runner.submit("warm", lambda: 1).wait(5)               # one worker, now idle
    for round_ in range(20):
        release, started = threading.Event(), threading.Semaphore(0)

        def long_run():
            started.release()
            release.wait(10)
        first = runner.submit(f"long{round_}", long_run)
        second = runner.submit(f"quick{round_}", lambda: "done")
        assert started.acquire(timeout=5)
        assert second.wait(5) and second.result == "done", f"round {round_}: waited behind the long job"
        release.set()
        assert first.wait(5)
        for _ in range(500):                                      # back to idle workers only
            if not any(j.active for j in (first, second)):
                break
            time.sleep(0.01)


def test_a_second_run_to_the_same_name_is_refused_at_its_start(tmp_path):
    """Two sessions starting runs to one model name: the second is refused at once (it used to
    train for the whole run, then fail to save); once the first ends the name is taken by its
    model, and a cancelled run frees it."""
    out = tmp_path / "root" / "dpsh-16-digits"
    first = bg.start_training(digits(epochs=3), out)
    with pytest.raises(HashvizError, match=r"^another training run is already saving a model named dpsh-16-digits; "
                                           r"choose another model name or wait for it to finish$"):
        bg.start_training(digits(epochs=3), out)
    assert first.join(300).state == bg.DONE
    with pytest.raises(HashvizError, match=r"already exists; choose another model name"):
        bg.start_training(digits(epochs=3), out)
    other = tmp_path / "root" / "cancelled"
    job = bg.start_training(digits(epochs=50), other)
    job.cancel()
    assert job.join(300).state == bg.CANCELLED and not other.exists()
    again = bg.start_training(digits(epochs=1), other)              # nothing was written: the name is free
    assert again.join(300).state == bg.DONE and other.is_dir()
