"""A million items: import, page readiness, clicks and memory, beside the Fashion-MNIST zoo.

    python bench/scale.py [--items 1000000] [--bits 64] [--queries 1000] [--zoo models]
                          [--zoo-model csq-32] [--work DIR] [--clicks 15]

1. Writes a DeepHash-pytorch export of a generated model into --work: save/ with
   nus-<bits>-0.7-trn_binary.npy etc. (float32 ±1 codes, 21 multi-hot labels as NUS-WIDE has;
   codes near one prototype per first label with a few noisy bits, so many items share a code) and
   data/ with database.txt / test.txt, every line naming one of 6 real image files (PNG grey, JPEG
   colour, different sizes): generated pictures are not needed for a million rows.
2. Times `hashviz import-codes --deephash-dir ... --database-list ... --query-list ...` (goal <= 60 s).
3. A models root with that model beside a copy of the zoo (--zoo); `streamlit run app.py` on
   127.0.0.1 and one headless Chromium (/usr/bin/chromium). For the 1M model and for --zoo-model:
   open Retrieval (the model's first opening), then Diagnostics, Code map and Evaluate, then every
   page again. A page is ready when Streamlit's "running" widget is gone and the page's own content
   is drawn (tiles, a chart, a table). Goal: <= 3 s for every page after its first computation for
   the model, which may take up to 10 s if it shows progress (the spinner/status the pages draw).
4. Retrieval clicks: a new query index, Enter, until the page names the query and its grid is
   drawn; median over --clicks (goal <= 0.35 s).
5. The server's resident memory with the 1M model open (after all its pages), beside that of its
   UMAP process (hashviz.projection runs every UMAP fit in one process of its own), and its peak (goal <=
   2 GiB).
Figures are printed side by side with the zoo model's and the goal, with the ratio to the goal.
The browser runs on the same machine as the server: on a small machine its CPU use is part of
every time measured. Say which CPU a figure came from when quoting it.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from load import CHROMIUM, CHROMIUM_ARGS, GRID_FOR, cpu_seconds, rss_mib, start_server, stop_server  # noqa: E402


def children_rss_mib(pid: int) -> float:
    """Resident memory of the server's child processes (the UMAP process and its helpers), MiB."""
    kids = [int(k) for k in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]
    return sum(rss_mib(k) for k in kids)

CLASSES = 21
PAGES = {   # page -> (url path, what the page draws when it is ready)
    "Retrieval": ("", ".hv-grid .hv-tile"),
    "Diagnostics": ("diagnostics", ".js-plotly-plot"),
    "Code map": ("code_map", ".js-plotly-plot"),
    "Evaluate": ("evaluate", '[data-testid="stDataFrame"]'),
}
READY = """([title, selector]) => !document.querySelector('[data-testid="stStatusWidget"]')
    && [...document.querySelectorAll('h1')].some(h => h.textContent.trim() === title)
    && !!document.querySelector(selector)"""
GOALS = {"import s": 60.0, "first page s": 10.0, "page s": 3.0, "click s": 0.35, "rss MiB": 2048.0}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} x {os.cpu_count()}"
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


# ---------------------------------------------------------------- the generated export

def write_export(work: Path, items: int, queries: int, bits: int, seed: int = 0) -> tuple[Path, Path, Path]:
    from PIL import Image
    rng = np.random.default_rng(seed)
    save, data = work / "save", work / "data"
    (data / "images").mkdir(parents=True, exist_ok=True)
    save.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(6):
        size = (40 + 24 * i, 64 - 4 * i)
        name = f"images/pic{i}.{'png' if i % 2 else 'jpg'}"
        pic = Image.new("L", size, 40 * i) if i % 2 else Image.new("RGB", size, (40 * i, 200 - 30 * i, 90))
        pic.save(data / name)
        files.append(name)
    n = items + queries
    first = rng.integers(0, CLASSES, n)
    labels = np.zeros((n, CLASSES), dtype=np.uint8)
    labels[np.arange(n), first] = 1
    second = rng.random(n) < 0.3
    labels[np.flatnonzero(second), rng.integers(0, CLASSES, int(second.sum()))] = 1
    prototypes = rng.random((CLASSES, bits)) < 0.5
    noisy_bits = rng.choice(bits, size=10, replace=False)
    flips = np.zeros((n, bits), dtype=bool)
    flips[:, noisy_bits] = rng.random((n, 10)) < 0.15          # most items: a few bits vary
    outliers = rng.random(n) < 0.05
    flips[outliers] = rng.random((int(outliers.sum()), bits)) < 0.1
    codes = np.where(prototypes[first] ^ flips, 1.0, -1.0).astype(np.float32)
    for part, rows in (("trn", slice(0, items)), ("tst", slice(items, n))):
        np.save(save / f"nus-{bits}-0.7-{part}_binary.npy", codes[rows])
        np.save(save / f"nus-{bits}-0.7-{part}_label.npy", labels[rows].astype(np.float32))
    text = np.where(labels == 1, "1", "0")
    for name, rows in (("database.txt", range(0, items)), ("test.txt", range(items, n))):
        with open(data / name, "w") as f:
            f.writelines(f"{files[i % len(files)]} {' '.join(text[i])}\n" for i in rows)
    return save, data / "database.txt", data / "test.txt"


def timed_import(save: Path, database_list: Path, query_list: Path, out: Path) -> tuple[float, float, float]:
    """(seconds, CPU seconds, peak RSS MiB of the import process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = [sys.executable, "-m", "hashviz.cli", "import-codes", "--deephash-dir", str(save),
           "--database-list", str(database_list), "--query-list", str(query_list), "--out", str(out)]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"import failed: {done.stderr.strip()}")
    print(done.stdout.strip())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, cpu, after.ru_maxrss / 1024


# ---------------------------------------------------------------- the app in a browser

def open_model(page, url: str, model: str, timeout_s: float) -> float:
    """Open the app on Retrieval with `model` (its first opening: load, index); seconds to ready."""
    start = time.perf_counter()
    page.goto(f"{url}/?model={model}&query=0", wait_until="commit", timeout=timeout_s * 1000)
    page.wait_for_timeout(300)
    page.wait_for_function(READY, arg=["Retrieval", PAGES["Retrieval"][1]], timeout=timeout_s * 1000, polling=100)
    return time.perf_counter() - start


def page_ready(page, name: str, timeout_s: float, pid: int, cpu: dict | None = None) -> float:
    """Click the page in the sidebar's navigation; seconds until it is ready (and, in `cpu`, the
    CPU seconds the server spent meanwhile: a figure the other programs on the machine do not inflate)."""
    link = page.locator('[data-testid="stSidebarNavLink"]', has_text=name).first
    used = cpu_seconds(pid)
    start = time.perf_counter()
    link.click()
    page.wait_for_timeout(200)                     # let the run start (the running widget appears)
    page.wait_for_function(READY, arg=[name, PAGES[name][1]], timeout=timeout_s * 1000, polling=50)
    if cpu is not None:
        cpu[name] = cpu_seconds(pid) - used
    return time.perf_counter() - start


def retrieval_clicks(page, url: str, model: str, n_queries: int, clicks: int, timeout_s: float) -> list[float]:
    page.goto(f"{url}/?model={model}&query=0", wait_until="commit")
    page.wait_for_function(GRID_FOR, arg=0, timeout=timeout_s * 1000, polling=100)
    box = page.locator('[data-testid="stNumberInput"] input')
    rng, times, current = random.Random(0), [], 0
    while len(times) < clicks:
        query = rng.randrange(n_queries)
        if query == current:
            continue
        box.fill(str(query))
        start = time.perf_counter()
        box.press("Enter")
        page.wait_for_function(GRID_FOR, arg=query, timeout=timeout_s * 1000, polling=20)
        times.append(time.perf_counter() - start)
        current = query
        page.wait_for_timeout(300)
    return times


UMAP_DRAWN = """() => [...document.querySelectorAll('.js-plotly-plot .xtitle')].some(t => t.textContent.startsWith('UMAP'))"""


def umap_ready(page, asked: float, timeout_s: float) -> float:
    """Open the Code map and wait until it swaps its instant PCA view for the UMAP map computed in the
    background since the first visit (`asked`, a perf_counter time): seconds since that visit."""
    page.locator('[data-testid="stSidebarNavLink"]', has_text="Code map").first.click()
    page.wait_for_function(UMAP_DRAWN, timeout=timeout_s * 1000, polling=250)
    return time.perf_counter() - asked


def measure_model(page, url: str, model: str, n_queries: int, clicks: int, timeout_s: float, pid: int) -> dict:
    """First visits (each page's first computation; the Code map's UMAP goes on in the background and
    its progress is shown), then, once that map is drawn, every page again: the later visits the
    3 s goal is about."""
    opened = open_model(page, url, model, timeout_s)
    order, cpu, first, asked = list(PAGES)[1:] + ["Retrieval"], {}, {}, 0.0
    for name in order:
        if name == "Code map":
            asked = time.perf_counter()
        first[name] = page_ready(page, name, timeout_s, pid, cpu)
    map_s = umap_ready(page, asked, timeout_s)
    again = {name: page_ready(page, name, timeout_s, pid) for name in order}
    times = retrieval_clicks(page, url, model, n_queries, clicks, timeout_s)
    return {"opened": opened, "cpu": cpu, "first": first, "umap": map_s, "again": again,
            "click median": statistics.median(times), "click max": max(times)}


# ---------------------------------------------------------------- report

def row(label: str, big, small, goal: float | None = None, unit: str = "") -> str:
    fmt = lambda v: "n/a" if v is None else f"{v:,.2f}{unit}"  # noqa: E731
    ratio = f"{big / goal:.2f}" if goal and big is not None else ""
    target = f"<= {goal:g}{unit}" if goal else ""
    return f"  {label:<34}{fmt(big):>14}{fmt(small):>14}{target:>12}{ratio:>8}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--zoo", default=str(REPO / "models"), help="the Fashion-MNIST zoo to copy beside it")
    parser.add_argument("--zoo-model", default="csq-32")
    parser.add_argument("--work", default=None, help="working folder (default: a temporary one, removed)")
    parser.add_argument("--clicks", type=int, default=15)
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds any one wait may take")
    args = parser.parse_args(argv)
    import tempfile
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="hashviz-scale-"))
    try:
        print(f"CPU: {cpu_name()}; work folder {work}")
        start = time.perf_counter()
        save, db_list, q_list = write_export(work / "export", args.items, args.queries, args.bits)
        print(f"generated {args.items:,} x {args.bits}-bit export in {time.perf_counter() - start:.1f} s")
        root = work / "models"
        shutil.copytree(args.zoo, root, ignore=shutil.ignore_patterns(".tmp-*", ".old-*"))
        big = f"nus-{args.items // 1000}k"
        import_s, import_cpu, import_rss = timed_import(save, db_list, q_list, root / big)
        from hashviz.distinct import distinct_codes
        from hashviz.zoo import load_model_dir
        distinct = len(distinct_codes(load_model_dir(root / big).database_codes).rows)
        print(f"imported in {import_s:.1f} s (peak {import_rss:,.0f} MiB); {distinct:,} distinct codes")

        from playwright.sync_api import sync_playwright
        os.environ["HASHVIZ_DATA_ROOTS"] = str(work / "export")      # the app reads images only under its data roots
        proc, url, log = start_server(root, work / "server.log")
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                results = {big: measure_model(page, url, big, args.queries, args.clicks, args.timeout, proc.pid)}
                rss_big, rss_maps = rss_mib(proc.pid), children_rss_mib(proc.pid)
                zoo_queries = len(load_model_dir(root / args.zoo_model).query_codes)
                results[args.zoo_model] = measure_model(page, url, args.zoo_model, zoo_queries, args.clicks,
                                                        args.timeout, proc.pid)
                rss_both = rss_mib(proc.pid)
                browser.close()
        finally:
            stop_server(proc, log)
        a, b = results[big], results[args.zoo_model]
        print(f"\n{'':<36}{big:>14}{args.zoo_model:>14}{'goal':>12}{'ratio':>8}")
        print(row("import (s)", import_s, None, GOALS["import s"]))
        print(row("import, CPU seconds", import_cpu, None, GOALS["import s"]))
        print(row("model first opened on Retrieval (s)", a["opened"], b["opened"]))
        for name in PAGES:
            print(row(f"{name}: first click (s)", a["first"][name], b["first"][name], GOALS["first page s"]))
            print(row(f"{name}: next click (s)", a["again"][name], b["again"][name], GOALS["page s"]))
            print(row(f"{name}: first click, server CPU s", a["cpu"][name], b["cpu"][name]))
        print(row("Code map: UMAP drawn after first click (s)", a["umap"], b["umap"]))
        print(row("Retrieval click -> grid, median (s)", a["click median"], b["click median"], GOALS["click s"]))
        print(row("Retrieval click -> grid, max (s)", a["click max"], b["click max"]))
        print(row("server RSS, 1M model open (MiB)", rss_big, None, GOALS["rss MiB"]))
        print(row("server RSS, both models open (MiB)", rss_both, None, GOALS["rss MiB"]))
        print(row("UMAP process RSS, 1M model (MiB)", rss_maps, None))
        print(f"\nPages are opened by clicking the sidebar's navigation after the model was first opened "
              f"(load + index); 'first click' includes each page's first computation (Code map: PCA at once, "
              f"UMAP in the background). load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.")
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
