"""Benchmarks 3 and 4: the service over HTTP vs a bare Flask endpoint; batch vs single calls.

Every server: gunicorn, 2 workers, loopback, the same load (wrk if installed, else a
Python client; realistic facts for 2,000 sessions, each connection cycling through
them), run one after the other in the same session so the ratios are fair.
Run: python bench/http_bench.py [--seconds S] [--rounds R] [--connections C] [--items N]
"""

from __future__ import annotations

import http.client
import json
import os
import signal
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

from support.live import LiveServer, answers, free_port, wait_for

VENV_BIN = Path(sys.executable).parent


def _arg(name: str, default: int) -> int:
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


@dataclass
class Running:
    """A server under measurement: where it listens, and how to stop it."""

    port: int
    stop: Callable[[], object]


def _gunicorn(args: list[str], app: str, path: str, env: dict[str, str] | None = None) -> Running:
    """gunicorn itself (not `attendance-policy serve`), 2 workers, in bench/; ready once `path` answers below 500."""
    port = free_port()
    proc = subprocess.Popen([str(VENV_BIN / "gunicorn"), "-w", "2", *args, "-b", f"127.0.0.1:{port}", app],
                            cwd=ROOT / "bench", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: (answers(port, path) or 500) < 500, f"the server on port {port}", timeout=60, interval=0.2)

    def stop() -> None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)

    return Running(port, stop)


def start_service(folder: Path, db: Path, threads: int = 1) -> Running:
    """`attendance-policy serve` as configured by default (recycling included), without keys (loopback callers
    are anonymous), its configuration in `folder`, its decision log at `db`."""
    server = LiveServer.create(folder, tokens={}, database=str(db), server={"threads": threads, "max_requests": None})
    server.start(quiet=True)
    return Running(server.port, server.stop)


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


def start_lean(folder: Path, db: Path) -> Running:
    """bench/lean_app.py: the same decision work without Flask, served like the service (2 workers)."""
    env = dict(os.environ, ATTENDANCE_POLICY_DATABASE=str(db), ATTENDANCE_POLICY_METRICS_DIR=str(db.parent),
               ATTENDANCE_POLICY_RULES=str(ROOT / "rules"))
    return _gunicorn(["-k", BUFFERED, "--preload"], "lean_app:lean", "/healthz", env)


# (name, what runs given a folder of its own and its decision log, where that log is). Runs in RAM (tmpfs) are
# measurements, not configurations to use: there an fsync costs nothing, so the gap to the same run on disk is
# what durability costs.
Run = tuple[str, Callable[[Path, Path], Running], str]
RUNS: tuple[Run, ...] = (
    ("bare", lambda folder, db: start_bare(), "disk"),
    ("service", lambda folder, db: start_service(folder, db), "disk"),
    ("bare_threads", lambda folder, db: start_bare(4), "disk"),
    ("bare_buffered", lambda folder, db: start_bare(1), "disk"),
    ("service_threads", lambda folder, db: start_service(folder, db, 4), "disk"),
    ("service_log_in_ram", lambda folder, db: start_service(folder, db), "ram"),
    ("lean", start_lean, "disk"),
    ("lean_log_in_ram", start_lean, "ram"),
)


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median throughput (its latencies with it); errors summed over every round."""
    ordered = sorted(runs, key=lambda r: r["rps"])
    return {**ordered[len(ordered) // 2], "errors": sum(r["errors"] for r in runs),
            "rounds_rps": [round(r["rps"], 1) for r in runs]}


def main() -> None:
    seconds, conns, items = _arg("--seconds", 5), _arg("--connections", 8), _arg("--items", 1000)
    rounds = _arg("--rounds", 3)
    # Realistic traffic (bench/common.py): 2,000 sessions, each connection cycling through them.
    bodies = [{"facts": f} for f in realistic_facts(2000, seed=5)]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in RUNS}
    servers: dict[str, Running] = {}
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory(
            dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as ram:
        try:
            for name, start, where in RUNS:  # all up at once, measured in turn: the machine drifts, rounds interleave
                folder, logs = Path(tmp) / name, Path(ram if where == "ram" else tmp) / name
                logs.mkdir(exist_ok=True)
                servers[name] = start(folder, logs / "decisions.sqlite3")
                load(servers[name].port, "/v1/decisions", bodies, conns, min(2, seconds))  # warm-up
            for _ in range(rounds):
                for name, _, _ in RUNS:
                    runs[name].append(load(servers[name].port, "/v1/decisions", bodies, conns, seconds))
            batch = batch_vs_single(servers["service"].port, items)
        finally:
            for server in servers.values():
                server.stop()
    results = {name: _median_run(r) for name, r in runs.items()}
    # Every server against the same baseline: the bare endpoint under gunicorn's defaults (issue 15).
    ratios = {name: round(results[name]["rps"] / results["bare"]["rps"], 2) for name, _, _ in RUNS if name != "bare"}
    for name, _, where in RUNS:
        r = results[name]
        vs = f"x{ratios[name]:.2f} of bare" if name in ratios else ""
        print(f"{name:19s} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms  "
              f"errors {r['errors']}  {'no log' if name.startswith('bare') else 'log on ' + where:11s} {vs}")
    print(f"(median of {rounds} interleaved rounds of {seconds}s, {results['bare']['tool']}, {conns} connections; "
          f"goal: service >= 0.6 of bare (gunicorn's defaults, same workers) with the decision log on: "
          f"{ratios['service']:.2f} as configured by default, {ratios['service_threads']:.2f} with 4 threads)")
    print(f"batch of {batch['items']}: {batch['batch_per_s']:.0f} decisions/s vs {batch['single_per_s']:.0f}/s single "
          f"calls (x{batch['ratio']})")
    path = write_result("http", {"connections": conns, "seconds": seconds, "rounds": rounds, "ratio": ratios["service"],
                                  "ratio_threads": ratios["service_threads"], "ratios": ratios, "batch": batch,
                                  **results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
