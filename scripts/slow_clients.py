#!/usr/bin/env python3
"""Slow clients against the default `serve`: do normal requests still get answered quickly?

Starts `attendance-policy serve` with its default configuration (its own directory, a free
port), opens `--slow` connections that each send a decision request one byte every
`--interval` seconds (the head, then the body; a connection the server closes is opened
again), and meanwhile sends normal decisions from `--clients` clients for `--seconds`.
Prints p50/p99/max of the normal requests, their statuses, how many slow connections were
open at the end and how many the server closed, and the worker pids before and after.
Passes (exit 0) when every normal request got its 200, p99 is under `--p99-ms`, at least
one slow connection was still open when the run ended, and the workers are the same.

    .venv/bin/python scripts/slow_clients.py [--slow 64] [--seconds 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the project, and tests/support
from support.live import HOST, LiveServer  # noqa: E402
from support.rawhttp import http_request  # noqa: E402

JSON = {"Content-Type": "application/json"}


def _facts(session: str) -> dict[str, Any]:
    return {"session": {"id": session, "type": "couples"}, "attendance": {"partners_present": 1,
                                                                          "absence_reason": "work"}}


def _trickle(port: int, payload: bytes, interval: float, until: float, stats: dict[str, int]) -> None:
    """Send `payload` a byte at a time until `until`; reconnect whenever the server closes the connection."""
    while time.monotonic() < until:
        try:
            with socket.create_connection((HOST, port), timeout=5) as sock:
                stats["opened"] += 1
                for byte in payload:
                    if time.monotonic() >= until:
                        stats["open_at_end"] += 1
                        return
                    sock.sendall(bytes([byte]))
                    time.sleep(interval)
        except OSError:
            pass
        stats["closed"] += 1


def _normal(server: LiveServer, until: float, tag: str, out: list[tuple[int, float]]) -> None:
    i = 0
    while time.monotonic() < until:
        started = time.perf_counter()
        try:
            status = server.request("POST", "/v1/decisions", {"facts": _facts(f"{tag}-{i}")}, role="evaluate",
                                    timeout=30).status
        except OSError:
            status = 0
        out.append((status, (time.perf_counter() - started) * 1000))
        i += 1
        time.sleep(0.01)


def measure(server: LiveServer, slow: int, clients: int, seconds: float, interval: float) -> dict[str, Any]:
    """Slow connections and normal clients at once against a running server."""
    body = json.dumps({"facts": _facts("slow")}).encode()
    payload = http_request("POST", "/v1/decisions", body=body, headers=JSON)
    stats = {"opened": 0, "closed": 0, "open_at_end": 0}
    pids = server.worker_pids()
    until = time.monotonic() + seconds
    tricklers = [threading.Thread(target=_trickle, args=(server.port, payload, interval, until + 1, stats))
                 for _ in range(slow)]
    for t in tricklers:
        t.start()
    time.sleep(min(2.0, seconds / 4))  # every slow connection open and started before the normal traffic
    results: list[tuple[int, float]] = []
    normals = [threading.Thread(target=_normal, args=(server, until, f"n{k}", results)) for k in range(clients)]
    for t in normals:
        t.start()
    for t in [*normals, *tricklers]:
        t.join(timeout=seconds + 60)
    latencies = sorted(ms for _, ms in results)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0] if latencies else 0.0] * 99
    statuses: dict[str, int] = {}
    for status, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {"slow_connections": slow, "interval_s": interval, "seconds": seconds, "normal_clients": clients,
            "requests": len(results), "statuses": statuses, "p50_ms": round(q[49], 1), "p99_ms": round(q[98], 1),
            "max_ms": round(latencies[-1], 1) if latencies else None, "slow": stats,
            "same_workers": server.worker_pids() == pids}


def passed(result: dict[str, Any], p99_ms: float) -> bool:
    return (set(result["statuses"]) == {"200"} and result["p99_ms"] < p99_ms and result["same_workers"]
            and result["slow"]["open_at_end"] > 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slow", type=int, default=64, help="slow connections at once (default 64)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between a slow client's bytes")
    parser.add_argument("--clients", type=int, default=2, help="normal clients meanwhile (default 2)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the normal traffic runs")
    parser.add_argument("--p99-ms", type=float, default=1000.0, help="pass when p99 is under this (default 1000)")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="slow-clients-") as tmp:
        server = LiveServer.create(Path(tmp), server={"max_requests": None}).start()  # the defaults, all of them
        try:
            result = measure(server, args.slow, args.clients, args.seconds, args.interval)
        finally:
            server.stop()
    result["ok"] = passed(result, args.p99_ms)
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
