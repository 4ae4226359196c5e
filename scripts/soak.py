#!/usr/bin/env python3
"""Soak: a fixed number of clients against a real `attendance-policy serve` on loopback, for a fixed time.

The mix: 90% single decisions on generated valid facts (the seeded generator of tests/support/factgen.py
with its SOAK mix, so the memo sees realistic repetition), 5% batches of 10, 5% reads of a logged
decision. Every answer must be the expected 200; anything else is an error. Reported per
window (default 30 s): requests, throughput, p50/p95/p99 latency, and each worker's RSS.
Worker recycling is off by default (`--max-requests 0`) so that memory growth, if any,
shows instead of being reset every 1,000 requests.

Exit status 1 on any error, on latency drift (last window's p50 more than 1.5x the first's,
or p99 more than 2x), or on memory growth (any worker more than 20 MB over its size after
the first window).

    .venv/bin/python scripts/soak.py                                   # 5 minutes, 8 clients
    .venv/bin/python scripts/soak.py --seconds 10 --clients 4 --json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the project, and tests/support
from support.factgen import SOAK, random_facts  # noqa: E402
from support.live import LiveServer, rss_kb  # noqa: E402
from support.logdb import logged_ids  # noqa: E402


@dataclass
class Stats:
    samples: list[tuple[float, float, str]] = field(default_factory=list)  # (at, seconds, kind)
    errors: list[str] = field(default_factory=list)
    decided: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _one(server: LiveServer, rng: random.Random, i: int, stats: Stats) -> None:
    roll = rng.random()
    started = time.perf_counter()
    try:
        if roll < 0.05 and stats.decided:
            kind = "read"
            reply = server.request("GET", f"/v1/decisions/{rng.choice(stats.decided)}", role="audit")
        elif roll < 0.10:
            kind = "batch"
            body = {"items": [{"facts": random_facts(rng, i * 100 + j, SOAK)} for j in range(10)]}
            reply = server.request("POST", "/v1/decisions:batch", body, role="evaluate")
        else:
            kind = "decide"
            reply = server.request("POST", "/v1/decisions", {"facts": random_facts(rng, i, SOAK)}, role="evaluate")
    except OSError as e:
        with stats.lock:
            stats.errors.append(f"{type(e).__name__}: {e}")
        return
    elapsed = time.perf_counter() - started
    with stats.lock:
        if reply.status != 200:
            stats.errors.append(f"{kind}: HTTP {reply.status} {reply.body[:200]!r}")
            return
        stats.samples.append((time.monotonic(), elapsed, kind))
        if kind == "decide":
            stats.decided.append(reply.json()["decision_id"])
        elif kind == "batch":
            stats.decided += [r["decision"]["decision_id"] for r in reply.json()["results"] if r["status"] == 200]


def _client(server: LiveServer, seed: int, until: float, stats: Stats) -> None:
    rng = random.Random(seed)
    i = seed * 10_000_000
    while time.monotonic() < until:
        i += 1
        _one(server, rng, i, stats)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _window(samples: list[tuple[float, float, str]], start: float, end: float) -> dict[str, Any]:
    latencies = [s for at, s, kind in samples if start <= at < end and kind == "decide"]
    count = sum(1 for at, _, _ in samples if start <= at < end)
    return {"requests": count, "per_second": round(count / max(end - start, 1e-9), 1),
            "decide_p50_ms": round(_percentile(latencies, 0.50) * 1000, 2),
            "decide_p95_ms": round(_percentile(latencies, 0.95) * 1000, 2),
            "decide_p99_ms": round(_percentile(latencies, 0.99) * 1000, 2)}


def _memory(server: LiveServer, until: float, every: float, out: list[dict[str, Any]]) -> None:
    start = time.monotonic()
    while time.monotonic() < until:
        out.append({"t": round(time.monotonic() - start, 1),
                    "rss_mb": {pid: round((rss_kb(pid) or 0) / 1024, 1) for pid in server.worker_pids()}})
        time.sleep(every)


def soak(seconds: float, clients: int, window: float, max_requests: int,
         request_threads: int | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        server = LiveServer.create(Path(tmp), server={"max_requests": max_requests, "threads": request_threads}).start()
        pids = server.worker_pids()
        stats = Stats()
        memory: list[dict[str, Any]] = []
        began = time.monotonic()
        until = began + seconds
        threads = [threading.Thread(target=_client, args=(server, seed, until, stats))
                   for seed in range(1, clients + 1)]
        threads.append(threading.Thread(target=_memory, args=(server, until, min(5.0, window / 2), memory)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        lost = set(stats.decided) - logged_ids(server.database)
        same_workers = server.worker_pids() == pids
        status = server.stop()
    edges = [began + k * window for k in range(int(seconds // window) + 1)] + [until]
    windows = [_window(stats.samples, a, b) for a, b in zip(edges, edges[1:], strict=False) if b - a > window / 2]
    all_decides = [s for _, s, kind in stats.samples if kind == "decide"]
    return {
        "seconds": seconds, "clients": clients, "max_requests": max_requests,
        "requests": len(stats.samples) + len(stats.errors), "errors": len(stats.errors),
        "error_samples": stats.errors[:5],
        "per_second": round(len(stats.samples) / seconds, 1), "decisions_logged": len(stats.decided),
        "decisions_missing_from_log": len(lost), "same_workers": same_workers if max_requests == 0 else None,
        "server_exit": status,
        "decide_p50_ms": round(_percentile(all_decides, 0.5) * 1000, 2),
        "decide_p99_ms": round(_percentile(all_decides, 0.99) * 1000, 2),
        "decide_mean_ms": round(statistics.fmean(all_decides) * 1000, 2) if all_decides else 0,
        "windows": windows, "memory": memory,
    }


def verdict(result: dict[str, Any], window: float) -> list[str]:
    """Why the soak failed (empty when it passed)."""
    problems = []
    if result["errors"] or result["decisions_missing_from_log"]:
        problems.append(f"{result['errors']} errors, {result['decisions_missing_from_log']} decisions not logged")
    if result["same_workers"] is False:
        problems.append("a worker was replaced")
    windows = result["windows"]
    if len(windows) >= 2:
        first, last = windows[0], windows[-1]
        if last["decide_p50_ms"] > 1.5 * first["decide_p50_ms"] or last["decide_p99_ms"] > 2 * first["decide_p99_ms"]:
            problems.append(f"latency drift: p50 {first['decide_p50_ms']} -> {last['decide_p50_ms']} ms, "
                            f"p99 {first['decide_p99_ms']} -> {last['decide_p99_ms']} ms")
    warm = [m for m in result["memory"] if m["t"] >= window]
    if result["max_requests"] == 0 and warm:
        for pid, start in warm[0]["rss_mb"].items():
            end = warm[-1]["rss_mb"].get(pid, start)
            if end - start > 20:
                problems.append(f"worker {pid} grew from {start} to {end} MB")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300.0, help="how long (default 300)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--window", type=float, default=30.0, help="seconds per reported window (default 30)")
    parser.add_argument("--max-requests", type=int, default=0, help="worker recycling (default 0: off)")
    parser.add_argument("--threads", type=int, help="request threads per worker (default: the service's)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = soak(args.seconds, args.clients, min(args.window, args.seconds), args.max_requests, args.threads)
    result["problems"] = verdict(result, min(args.window, args.seconds))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key in ("requests", "errors", "per_second", "decide_p50_ms", "decide_p99_ms", "decisions_logged",
                    "decisions_missing_from_log", "same_workers", "problems"):
            print(f"{key:28} {result[key]}")
        print("windows:")
        for w in result["windows"]:
            print("  ", w)
        print("memory (first, last):", result["memory"][0] if result["memory"] else None,
              result["memory"][-1] if result["memory"] else None)
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
