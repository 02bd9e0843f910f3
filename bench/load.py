"""Many users at once: N browser sessions pick queries on the Retrieval page for a while.

    python bench/load.py --models-root MODELS [--demo] [--sessions 20] [--seconds 60] [--think 1.0] [--ramp 0.5]

Starts `streamlit run app.py` (with --demo: `hashviz serve --demo`, the public demo server, its cache
in a temporary folder) on 127.0.0.1 (a free port; loopback only, nothing else is contacted),
opens one headless Debian Chromium (/usr/bin/chromium, never a downloaded browser) with one
context and page per session (joining --ramp s apart), and lets every session, once it has its
first grid (with --together: once every session has its first grid), pick random query indices on the Retrieval page (a pause of ~--think s between two
picks; sessions are spread over the valid models of the root) for --seconds or until it picked
--max-queries. Bounded: at most 50 sessions, 600 s and --max-queries per session; every wait has
a timeout.

Reports
  * errors: Streamlit exception blocks ([data-testid="stException"]), st.error boxes
    ([data-testid="stAlertContentError"]) and queries whose grid did not come within --timeout s
    (goal: 0);
  * time from the query change (Enter in the index box) to its grid: the page shows "query set #i",
    the run has finished and the thumbnail grid is drawn: median and p95 over all queries;
  * the server's resident memory: started, after one session has its first grid, after all
    sessions have theirs, at the end, and the peak. Models, indexes and the dataset are
    st.cache_resource (one copy per process, shared by all sessions), so what each further
    session adds is Streamlit's own session state, not another copy of a model.
The browsers run on the same machine as the server: on a small machine their CPU use is part of
the latency measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--disable-renderer-backgrounding",
                 "--disable-background-timer-throttling", "--disable-backgrounding-occluded-windows"]
MAX_SESSIONS, MAX_SECONDS = 50, 600
TILES = ".hv-grid .hv-tile"
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
# The query's grid is on screen: the page names query #n, the script run is over, tiles are drawn.
# (textContent, not innerText: no layout per poll; the query image's caption first, so a poll does not
# walk the whole page in 50 pages.)
GRID_FOR = """(n) => {
    if (document.querySelector('[data-testid="stStatusWidget"]')) return false;
    if (!document.querySelector('.hv-grid .hv-tile')) return false;
    const caption = document.querySelector('[data-testid="stImageCaption"]');
    const where = caption || document.querySelector('[data-testid="stMain"]') || document.body;
    return new RegExp('query set #' + n + '(?![0-9])').test(where.textContent);
}"""


@dataclass
class Stats:
    latencies: list = field(default_factory=list)     # seconds, query change -> grid
    first_grid: list = field(default_factory=list)    # seconds, page open -> first grid
    errors: list = field(default_factory=list)        # (session, query, text)
    timeouts: int = 0
    queries: int = 0
    failed_sessions: list = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def start_server(models_root: Path, log_path: Path, timeout: float = 120.0, demo_cache: Path | None = None):
    """`streamlit run app.py`, or with demo_cache `hashviz serve --demo` (which becomes the server: its
    pid is Streamlit's, so memory and CPU are read from it)."""
    port = free_port()
    env = {**os.environ, "HASHVIZ_MODELS": str(models_root), "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true"]
    if demo_cache is not None:
        cmd = [sys.executable, "-m", "hashviz.cli", "serve", "--demo", "--models", str(models_root),
               "--port", str(port), "--cache", str(demo_cache)]
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    start = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url, log
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() - start > timeout:
            stop_server(proc, log)
            raise SystemExit(f"streamlit did not start; see {log_path}")
        time.sleep(0.25)


def stop_server(proc, log) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


async def error_texts(page) -> list[str]:
    boxes = page.locator(ERRORS)
    return [t.strip()[:300] for t in await boxes.all_inner_texts()]


async def run_session(i: int, browser, url: str, model: str, n_queries: int, args,
                      stats: Stats, loaded: asyncio.Event | None = None, go: asyncio.Event | None = None) -> None:
    """Open the page, wait for the first grid, then (with `go`: once every session has its grid, so
    that all of them click at once) pick queries for args.seconds."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout
    rng = random.Random(i)
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(args.timeout * 1000)   # a starved browser's fill/press is not a failed session
    try:
        t0 = time.perf_counter()
        await page.goto(f"{url}/?model={model}&query=0&n={args.n}", wait_until="commit",
                        timeout=args.load_timeout * 1000)
        await page.wait_for_function(GRID_FOR, arg=0, timeout=args.load_timeout * 1000, polling=100)
        stats.first_grid.append(time.perf_counter() - t0)
        if loaded is not None:
            loaded.set()
        if go is not None:
            await go.wait()
        deadline = time.monotonic() + args.seconds
        box = page.locator('[data-testid="stNumberInput"] input')
        current, picked = 0, 0
        while time.monotonic() < deadline and picked < args.max_queries:
            await asyncio.sleep(rng.uniform(0.5, 1.5) * args.think)
            if time.monotonic() >= deadline:
                break
            query = rng.randrange(n_queries)
            if query == current:
                continue
            await box.fill(str(query))
            start = time.perf_counter()
            await box.press("Enter")
            picked += 1
            stats.queries += 1
            try:
                await page.wait_for_function(GRID_FOR, arg=query, timeout=args.timeout * 1000, polling=50)
                stats.latencies.append(time.perf_counter() - start)
            except PlaywrightTimeout:
                stats.timeouts += 1
            current = query
            for text in await error_texts(page):
                stats.errors.append((i, query, text))
    except Exception as exc:  # a session that could not even start counts as an error
        stats.failed_sessions.append((i, f"{type(exc).__name__}: {str(exc)[:300]}"))
        if loaded is not None:
            loaded.set()
    finally:
        await context.close()


async def drive(args, url: str, server_pid: int, models: list, stats: Stats) -> dict:
    from playwright.async_api import async_playwright
    rss = {"started": rss_mib(server_pid)}
    peak = [rss["started"]]

    async def sample():
        while True:
            peak[0] = max(peak[0], rss_mib(server_pid))
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample())
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            load_deadline = time.monotonic() + args.load_timeout + args.ramp * args.sessions
            first, go = asyncio.Event(), asyncio.Event()
            go_now = go if args.together else None
            tasks = []
            pick = lambda i: models[i % len(models)]  # noqa: E731
            # Session 0 alone first: its RSS is "one session"; then the others join.
            tasks.append(asyncio.create_task(run_session(0, browser, url, *pick(0), args, stats, first, go_now)))
            await asyncio.wait_for(first.wait(), timeout=args.load_timeout + 5)
            rss["one_session"] = rss_mib(server_pid)
            cpu0, wall0 = cpu_seconds(server_pid), time.monotonic()
            for i in range(1, args.sessions):          # a class does not all click at the same millisecond
                await asyncio.sleep(args.ramp)
                tasks.append(asyncio.create_task(run_session(i, browser, url, *pick(i), args, stats, go=go_now)))
            while len(stats.first_grid) + len(stats.failed_sessions) < args.sessions \
                    and time.monotonic() < load_deadline:
                await asyncio.sleep(0.2)
            rss["all_sessions"] = rss_mib(server_pid)
            go.set()                                    # --together: every session starts clicking now
            if args.together:                           # the server's CPU while all of them click
                cpu0, wall0 = cpu_seconds(server_pid), time.monotonic()
            await asyncio.wait_for(asyncio.gather(*tasks),
                                   timeout=args.seconds + args.load_timeout + args.ramp * args.sessions + 60)
            rss["end"] = rss_mib(server_pid)
            rss["server_cores_busy"] = (cpu_seconds(server_pid) - cpu0) / (time.monotonic() - wall0)
        finally:
            await browser.close()
            sampler.cancel()
    rss["peak"] = max(peak[0], rss["started"], rss["one_session"], rss["all_sessions"], rss["end"])
    return rss


def pct(values: list, q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="N browser sessions on the Retrieval page (loopback only)")
    parser.add_argument("--models-root", required=True, help="a models root with at least one valid model")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the sessions pick queries")
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between two queries of a session (s)")
    parser.add_argument("--max-queries", type=int, default=500, help="per session")
    parser.add_argument("--n", type=int, default=20, help="top n shown")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a query may take before it counts as an error")
    parser.add_argument("--load-timeout", type=float, default=120.0,
                        help="seconds a session may take to open the page and show its first grid")
    parser.add_argument("--ramp", type=float, default=0.5, help="seconds between two sessions joining")
    parser.add_argument("--demo", action="store_true", help="serve with `hashviz serve --demo` (the public demo)")
    parser.add_argument("--together", action="store_true",
                        help="sessions start picking queries only once all have their first grid, so all "
                             "--sessions click during the same --seconds (else each starts when it has loaded)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if not 1 <= args.sessions <= MAX_SESSIONS:
        parser.error(f"--sessions must be 1..{MAX_SESSIONS}")
    if not 1 <= args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be 1..{MAX_SECONDS}")
    if not Path(CHROMIUM).exists():
        parser.error(f"{CHROMIUM} is missing: apt-get install chromium")

    from hashviz.zoo import discover
    root = Path(args.models_root).resolve()
    valid, invalid = discover(root)
    models = [(m.name, len(m.query_codes)) for m in valid if m.has_images]
    if not models:
        parser.error(f"{root} holds no valid model with images")
    print(f"{args.sessions} sessions for {args.seconds:.0f} s on {len(models)} model(s) of {root} "
          f"({len(invalid)} invalid dir(s) listed in the sidebar); think time ~{args.think:g} s", flush=True)

    log_path = Path(tempfile.gettempdir()) / f"hashviz-load-{os.getpid()}.log"
    cache = Path(tempfile.mkdtemp(prefix="hashviz-load-cache-")) if args.demo else None
    proc, url, log = start_server(root, log_path, demo_cache=cache)
    stats = Stats()
    load_start = os.getloadavg()[0]
    t0 = time.monotonic()
    try:
        rss = asyncio.run(drive(args, url, proc.pid, models, stats))
    finally:
        stop_server(proc, log)
    wall = time.monotonic() - t0

    lat = stats.latencies
    n_errors = len(stats.errors) + stats.timeouts + len(stats.failed_sessions)
    busy = rss.pop("server_cores_busy")
    per_session = ((rss["all_sessions"] - rss["one_session"]) / (args.sessions - 1)) if args.sessions > 1 else 0.0
    figures = {
        "server": "hashviz serve --demo" if args.demo else "streamlit run app.py", "together": args.together,
        "sessions": args.sessions, "seconds": args.seconds, "think_s": args.think, "ramp_s": args.ramp,
        "models": len(models),
        "queries": stats.queries, "queries_timed": len(lat), "errors": n_errors,
        "exception_or_error_boxes": len(stats.errors), "timeouts": stats.timeouts,
        "failed_sessions": len(stats.failed_sessions),
        "latency_median_s": statistics.median(lat) if lat else float("nan"),
        "latency_p95_s": pct(lat, 0.95), "latency_max_s": max(lat) if lat else float("nan"),
        "first_grid_median_s": statistics.median(stats.first_grid) if stats.first_grid else float("nan"),
        "rss_mib": {k: round(v, 1) for k, v in rss.items()}, "rss_per_extra_session_mib": round(per_session, 2),
        "server_cpu_cores_busy": round(busy, 2), "wall_s": round(wall, 1), "cpus": os.cpu_count(),
        "load_average_start": round(load_start, 1), "load_average_end": round(os.getloadavg()[0], 1),
    }
    print(f"queries picked: {stats.queries} ({len(lat)} timed) in {wall:.0f} s wall")
    print(f"errors: {n_errors} (exception/st.error boxes {len(stats.errors)}, timeouts > {args.timeout:g} s "
          f"{stats.timeouts}, sessions that failed to start {len(stats.failed_sessions)})")
    for session, query, text in stats.errors[:5]:
        print(f"  session {session}, query {query}: {text}")
    for session, text in stats.failed_sessions[:5]:
        print(f"  session {session} failed: {text}")
    print(f"query change -> grid: median {figures['latency_median_s']:.3f} s, p95 {figures['latency_p95_s']:.3f} s, "
          f"max {figures['latency_max_s']:.3f} s; page open -> first grid median {figures['first_grid_median_s']:.2f} s")
    print(f"server RSS (MiB): started {rss['started']:.0f}, one session {rss['one_session']:.0f}, "
          f"all {args.sessions} sessions {rss['all_sessions']:.0f}, end {rss['end']:.0f}, peak {rss['peak']:.0f} "
          f"-> {per_session:.1f} MiB per extra session")
    print(f"server CPU while the sessions ran: {busy:.2f} cores busy on average ({os.cpu_count()} CPUs here, "
          f"load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 1 if n_errors else 0


if __name__ == "__main__":
    sys.exit(main())
