"""Benchmarks 3 and 4: the service over HTTP vs a bare Flask endpoint; batch vs single calls.

Every server: gunicorn, the same number of workers (2, or --workers), loopback, the same
load (wrk if installed, else a Python client; realistic facts for 5,000 sessions, each
connection cycling through them), all started first and measured in interleaved rounds so
the ratios are fair. The baseline is the bare endpoint under gunicorn's defaults. Each run
reports throughput, p50/p99, the server's CPU per request (master and workers, /proc) and,
with a decision log, rows per commit (each transaction's rows share one `logged_at`) and per fsync
(the log's `<log>.sync` counters: one fsync covers every worker's commits made before it).
Run: python bench/http_bench.py [--seconds S] [--rounds R] [--connections C] [--items N]
     [--workers W] [--threads T (the service_threads run, default 8)] [--runs bare,service,...]
     [--before DIR: also the service from another checkout, e.g. `git archive <commit> | tar -x -C DIR`]
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import ROOT, realistic_facts, write_result
from loadgen import load

from api.config.settings import Settings
from api.log.walsync import WalSync
from support.live import LiveServer, answers, free_port, wait_for

VENV_BIN = Path(sys.executable).parent


def _arg(name: str, default: int) -> int:
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


@dataclass
class Running:
    """A server under measurement: where it listens, how to stop it, its master's pid, its decision log."""

    port: int
    stop: Callable[[], object]
    pid: int
    db: Path | None = None


_TICK_US = 1_000_000 / os.sysconf("SC_CLK_TCK")


def cpu_us(master: int) -> float:
    """CPU time (user + system) used so far by the master and its live workers, in µs."""
    pids = [master]
    try:
        pids += [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        pass
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total * _TICK_US


def log_position(db: Path | None) -> int:
    """The last seq of the decision log (0 without one)."""
    if db is None or not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT coalesce(max(seq), 0) FROM decisions").fetchone()[0])


def rows_per_commit(db: Path | None, after: int) -> float | None:
    """Decisions per transaction since seq `after`: each transaction's rows share one `logged_at`."""
    if db is None:
        return None
    with sqlite3.connect(db) as conn:
        rows, commits = conn.execute("SELECT count(*), count(DISTINCT logged_at) FROM decisions WHERE seq > ?",
                                     (after,)).fetchone()
    return round(rows / commits, 2) if commits else None


def fsyncs(db: Path | None) -> int:
    """The WAL fsyncs the log's writers have made so far (`api.log.walsync`; 0 for a log without its counters)."""
    return WalSync.counters(str(db))[2] if db is not None else 0


def measure(server: Running, bodies: list[dict[str, Any]], conns: int, seconds: int) -> dict[str, Any]:
    """One round: the load's figures, plus the server's CPU per request and the log's rows per commit and per
    fsync (one fsync covers the commits of every worker that finished before it)."""
    cpu, seq, synced = cpu_us(server.pid), log_position(server.db), fsyncs(server.db)
    result = load(server.port, "/v1/decisions", bodies, conns, seconds)
    result["cpu_us_per_request"] = round((cpu_us(server.pid) - cpu) / max(result["requests"], 1), 1)
    result["rows_per_commit"] = rows_per_commit(server.db, seq)
    done = fsyncs(server.db) - synced
    rows = log_position(server.db) - seq
    result["rows_per_fsync"] = round(rows / done, 2) if done and server.db is not None else None
    return result


def _gunicorn(args: list[str], app: str, path: str, env: dict[str, str] | None = None,
             db: Path | None = None) -> Running:
    """gunicorn itself (not `attendance-policy serve`), --workers, in bench/; ready once `path` answers below 500."""
    port = free_port()
    workers = str(_arg("--workers", 2))
    proc = subprocess.Popen([str(VENV_BIN / "gunicorn"), "-w", workers, *args, "-b", f"127.0.0.1:{port}", app],
                            cwd=ROOT / "bench", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: (answers(port, path) or 500) < 500, f"the server on port {port}", timeout=60, interval=0.2)

    def stop() -> None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)

    return Running(port, stop, proc.pid, db)


def start_service(folder: Path, db: Path, threads: int | None = None, code: str | None = None) -> Running:
    """`attendance-policy serve` as configured by default (recycling included), without keys (loopback callers
    are anonymous), its configuration in `folder`, its decision log at `db`; `code`: the project's code from
    another checkout (`--before DIR`: an earlier commit, measured in the same rounds); `threads` None: the
    default."""
    server = LiveServer.create(folder, tokens={}, database=str(db), workers=_arg("--workers", 2),
                               server={"threads": threads, "max_requests": None})
    saved = dict(os.environ)
    if code:
        os.environ["PYTHONPATH"] = code  # the server's processes import the project from there
    try:
        server.start(quiet=True)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return Running(server.port, server.stop, server.master.pid, db)


BUFFERED = "api.gunicorn.buffered.BufferedWorker"


def start_bare(threads: int = 0) -> Running:
    """The bare endpoint: gunicorn's defaults (sync workers, the baseline), or the service's worker class
    with `threads`."""
    workers = ["-k", BUFFERED, "--threads", str(threads)] if threads else []
    return _gunicorn(workers, "bare_app:app", "/")


def post(port: int, path: str, body: object) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, resp.read()


def batch_vs_single(port: int, items: int) -> dict[str, float]:
    facts = realistic_facts(items, seed=9)
    start = time.perf_counter()
    for f in facts:
        assert post(port, "/v1/decisions", {"facts": f})[0] == 200
    single = items / (time.perf_counter() - start)
    start = time.perf_counter()
    status, body = post(port, "/v1/decisions:batch", {"items": [{"facts": f} for f in facts]})
    batch = items / (time.perf_counter() - start)
    assert status == 200 and all(r["status"] == 200 for r in json.loads(body)["results"])
    return {"items": items, "single_per_s": round(single, 1), "batch_per_s": round(batch, 1),
            "ratio": round(batch / single, 2)}


def start_lean(folder: Path, db: Path, worker: str = BUFFERED) -> Running:
    """bench/lean_app.py: the same decision work without Flask, served like the service (its worker class and
    default threads), or by gunicorn's sync workers (`worker` "sync")."""
    return _lean_app("lean_app:lean", db, worker)


def _lean_app(app: str, db: Path, worker: str) -> Running:
    env = dict(os.environ, ATTENDANCE_POLICY_DATABASE=str(db), ATTENDANCE_POLICY_METRICS_DIR=str(db.parent),
               ATTENDANCE_POLICY_RULES=str(ROOT / "rules"))
    args = ["-k", worker, "--threads", str(Settings().threads)] if worker == BUFFERED else ["-k", worker]
    return _gunicorn([*args, "--preload"], app, "/healthz", env, db)


# (name, what runs given a folder of its own and its decision log, where that log is). Runs in RAM (tmpfs) are
# measurements, not configurations to use: there an fsync costs nothing, so the gap to the same run on disk is
# what durability costs.
Run = tuple[str, Callable[[Path, Path], Running], str]
RUNS: tuple[Run, ...] = (
    ("bare", lambda folder, db: start_bare(), "disk"),
    ("service", lambda folder, db: start_service(folder, db), "disk"),
    ("bare_threads", lambda folder, db: start_bare(4), "disk"),
    ("bare_buffered", lambda folder, db: start_bare(1), "disk"),
    ("service_one_thread", lambda folder, db: start_service(folder, db, 1), "disk"),
    ("service_threads", lambda folder, db: start_service(folder, db, _arg("--threads", 8)), "disk"),
    ("service_log_in_ram", lambda folder, db: start_service(folder, db), "ram"),
    ("lean", start_lean, "disk"),
    ("lean_log_in_ram", start_lean, "ram"),
    # gunicorn's sync workers (the baseline's class, no defence against slow clients): the issue's "8 sync workers
    # and a leaner request path" (run with --workers 8), with the service's Flask app and with lean_app.py.
    ("app_sync", lambda folder, db: _lean_app("lean_app:app", db, "sync"), "disk"),
    ("lean_sync", lambda folder, db: start_lean(folder, db, "sync"), "disk"),
)
BEFORE: tuple[Run, ...] = (  # with --before DIR
    ("service_before", lambda folder, db: start_service(folder, db, code=_before()), "disk"),
    ("service_threads_before", lambda folder, db: start_service(folder, db, _arg("--threads", 8), _before()), "disk"),
)


def _before() -> str:
    return sys.argv[sys.argv.index("--before") + 1]


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median throughput (its latencies with it); errors summed over every round."""
    ordered = sorted(runs, key=lambda r: r["rps"])
    return {**ordered[len(ordered) // 2], "errors": sum(r["errors"] for r in runs),
            "rounds_rps": [round(r["rps"], 1) for r in runs]}  # its CPU per request and rows per commit too


def main() -> None:
    seconds, conns, items = _arg("--seconds", 5), _arg("--connections", 8), _arg("--items", 1000)
    rounds = _arg("--rounds", 3)
    # Realistic traffic (bench/common.py): 5,000 sessions, each connection cycling through them.
    bodies = [{"facts": f} for f in realistic_facts(5000, seed=5)]
    wanted = sys.argv[sys.argv.index("--runs") + 1].split(",") if "--runs" in sys.argv else [n for n, _, _ in RUNS]
    every = RUNS + (BEFORE if "--before" in sys.argv else ())
    chosen = [r for r in every if r[0] in wanted or r[0] == "bare" or (r in BEFORE and "--runs" not in sys.argv)]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in chosen}
    servers: dict[str, Running] = {}
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory(
            dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as ram:
        try:
            for name, start, where in chosen:  # all up at once, measured in turn: the machine drifts, rounds interleave
                folder, logs = Path(tmp) / name, Path(ram if where == "ram" else tmp) / name
                logs.mkdir(exist_ok=True)
                servers[name] = start(folder, logs / "decisions.sqlite3")
                load(servers[name].port, "/v1/decisions", bodies, conns, min(2, seconds))  # warm-up
            for _ in range(rounds):
                for name, _, _ in chosen:
                    runs[name].append(measure(servers[name], bodies, conns, seconds))
            batch = batch_vs_single(servers["service"].port, items) if "service" in servers else None
        finally:
            for server in servers.values():
                server.stop()
    results = {name: _median_run(r) for name, r in runs.items()}
    # Every server against the same baseline: the bare endpoint under gunicorn's defaults (issue 15).
    ratios = {name: round(results[name]["rps"] / results["bare"]["rps"], 2) for name in results if name != "bare"}
    for name, _, where in chosen:
        r = results[name]
        vs = f"x{ratios[name]:.2f} of bare" if name in ratios else ""
        rows = f"{r['rows_per_commit']:5.2f} rows/commit" if r["rows_per_commit"] else " " * 16
        if r.get("rows_per_fsync"):
            rows += f" {r['rows_per_fsync']:5.2f} /fsync"
        print(f"{name:19s} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms  "
              f"cpu {r['cpu_us_per_request']:7.1f} us/req  {rows}  errors {r['errors']}  "
              f"{'no log' if name.startswith('bare') else 'log on ' + where:11s} {vs}")
    print(f"(median of {rounds} interleaved rounds of {seconds}s, {results['bare']['tool']}, {conns} connections, "
          f"{_arg('--workers', 2)} workers; goal: service >= 0.6 of bare (gunicorn's defaults, same workers) with the "
          f"decision log on: {ratios.get('service')} as configured by default, {ratios.get('service_threads')} with "
          f"{_arg('--threads', 8)} threads)")
    if batch:
        print(f"batch of {batch['items']}: {batch['batch_per_s']:.0f} decisions/s vs {batch['single_per_s']:.0f}/s "
              f"single calls (x{batch['ratio']})")
    path = write_result("http", {"connections": conns, "seconds": seconds, "rounds": rounds,
                                  "workers": _arg("--workers", 2), "ratio": ratios.get("service"),
                                  "ratio_threads": ratios.get("service_threads"), "ratios": ratios, "batch": batch,
                                  **results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
