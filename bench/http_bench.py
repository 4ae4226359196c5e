"""Benchmarks 3 and 4: the service over HTTP vs a bare Flask endpoint; batch vs single calls.

Both servers: gunicorn, 2 workers, loopback, same load (wrk if installed, else a
Python client), run alternately in the same session so the ratio is fair.
Run: python bench/http_bench.py [--seconds S] [--connections C]
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, realistic_facts, write_result
from loadgen import BODY, load

VENV_BIN = Path(sys.executable).parent


def _arg(name: str, default: int) -> int:
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, path: str, deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not become ready")


def start_service(port: int, db: Path, threads: int = 1) -> subprocess.Popen[bytes]:
    env = dict(os.environ, ATTENDANCE_POLICY_DATABASE=str(db), ATTENDANCE_POLICY_PORT=str(port),
               ATTENDANCE_POLICY_WORKERS="2", ATTENDANCE_POLICY_THREADS=str(threads))
    proc = subprocess.Popen([str(VENV_BIN / "attendance-policy"), "serve"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port, "/healthz")
    return proc


def start_bare(port: int, threads: int = 1) -> subprocess.Popen[bytes]:
    """The bare endpoint in the service's configuration: 2 workers, sync or gthread with `threads`."""
    workers = ["-k", "gthread", "--threads", str(threads)] if threads > 1 else []
    proc = subprocess.Popen([str(VENV_BIN / "gunicorn"), "-w", "2", *workers, "-b", f"127.0.0.1:{port}",
                             "bare_app:app"], cwd=ROOT / "bench", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port, "/")
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


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


def main() -> None:
    seconds, conns, items = _arg("--seconds", 15), _arg("--connections", 8), _arg("--items", 1000)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, threads in (("bare", 1), ("bare_threads", 4)):
            port = free_port()
            bare = start_bare(port, threads)
            try:
                load(port, "/v1/decisions", BODY, conns, 2)  # warm-up
                results[name] = load(port, "/v1/decisions", BODY, conns, seconds)
            finally:
                stop(bare)
        for name, threads in (("service", 1), ("service_threads", 4)):
            port = free_port()
            service = start_service(port, Path(tmp) / f"{name}.sqlite3", threads)
            try:
                load(port, "/v1/decisions", BODY, conns, 2)
                results[name] = load(port, "/v1/decisions", BODY, conns, seconds)
                if threads == 1:
                    results["batch"] = batch_vs_single(port, items)
            finally:
                stop(service)
    ratio = results["service"]["rps"] / results["bare"]["rps"]
    ratio_threads = results["service_threads"]["rps"] / results["bare_threads"]["rps"]
    for name in ("bare", "service", "bare_threads", "service_threads"):
        r = results[name]
        print(f"{name:16s} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms  "
              f"errors {r['errors']}  ({r['tool']}, {conns} connections, {seconds}s)")
    print(f"throughput ratio service/bare in the same configuration: {ratio:.2f} with sync workers (the default), "
          f"{ratio_threads:.2f} with 4 threads per worker (goal >= 0.6, decision log on)")
    b = results["batch"]
    print(f"batch of {b['items']}: {b['batch_per_s']:.0f} decisions/s vs {b['single_per_s']:.0f}/s single calls "
          f"(x{b['ratio']})")
    path = write_result("http", {"connections": conns, "seconds": seconds, "ratio": round(ratio, 2),
                                  "ratio_threads": round(ratio_threads, 2), **results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
