#!/usr/bin/env python3
"""Soak: a fixed number of clients against a real `attendance-policy serve` on loopback, for a time or a count.

The mix: 90% single decisions on generated valid facts (the seeded generator of tests/support/factgen.py
with its SOAK mix, so the memo sees realistic repetition), 5% batches of 10, 5% reads of a logged
decision. Every answer must be the expected 200; anything else is an error. Reported per
window (default 30 s): requests, throughput, p50/p95/p99 latency, and each worker's RSS
(VmRSS; `anon_mb`: RssAnon, the heap) and thread count at the window's end.
Worker recycling is off by default (`--max-requests 0`) so that memory growth, if any,
shows instead of being reset. `--requests N` runs until N requests were answered
(`--seconds` is then only a cap); `--env NAME=VALUE` is passed to the server (e.g.
MALLOC_ARENA_MAX=2). `--probe` samples each worker from inside (scripts/soak_probe: glibc's
heap in use and free, pymalloc's arenas, live Python blocks, SQLite's memory) into the
windows; `--trace` adds tracemalloc and reports what grew between the end of the first
window and the end of the run (slow: a diagnostic).

Exit status 1 on any error, on latency drift (last window's p50 more than 1.5x the first's,
or p99 more than 2x), or on memory growth: any worker more than GROWN_MB over its size after
the first window, or, with at least four windows, still growing in the second half of the
run (more than GROWING_MB from the middle, by requests, to the end: `memory_trend`).

    .venv/bin/python scripts/soak.py                                   # 5 minutes, 8 clients
    .venv/bin/python scripts/soak.py --requests 200000 --window 60 --json > soak.json
    .venv/bin/python scripts/soak.py --seconds 10 --clients 4 --json
"""

from __future__ import annotations

import argparse
import json
import os
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
from support.live import LiveServer  # noqa: E402
from support.logdb import logged_ids  # noqa: E402
from support.memprobe import attach_probe, probe_env, probe_report  # noqa: E402

GROWN_MB = 10.0  # a worker growing more than this after the first window (no recycling) fails the soak
GROWING_MB = 1.5  # and so does one growing more than this from the run's middle to its end: not levelled off


@dataclass
class Stats:
    samples: list[tuple[float, float, str]] = field(default_factory=list)  # (at, seconds, kind)
    errors: list[str] = field(default_factory=list)
    decided: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    target: int = 0  # stop once this many requests were answered (0: run for the time)
    done: threading.Event = field(default_factory=threading.Event)

    def answered(self) -> int:
        return len(self.samples) + len(self.errors)


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
    while time.monotonic() < until and not stats.done.is_set():
        i += 1
        _one(server, rng, i, stats)
        if stats.target and stats.answered() >= stats.target:
            stats.done.set()


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


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and RssAnon (kB) and Threads of a process, from /proc (empty once it is gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    fields = (line.split(":", 1) for line in lines if line.startswith(("VmRSS:", "RssAnon:", "Threads:")))
    return {name: int(value.split()[0]) for name, value in fields}


def _sample(server: LiveServer, start: float, stats: Stats) -> dict[str, Any]:
    status = {pid: proc_status(pid) for pid in server.worker_pids()}
    return {"t": round(time.monotonic() - start, 1), "requests": stats.answered(),
            "rss_mb": {pid: round(s.get("VmRSS", 0) / 1024, 1) for pid, s in status.items()},
            "anon_mb": {pid: round(s.get("RssAnon", 0) / 1024, 1) for pid, s in status.items()},
            "threads": {pid: s.get("Threads", 0) for pid, s in status.items()}}


def _memory(server: LiveServer, until: float, every: float, stats: Stats, out: list[dict[str, Any]]) -> None:
    start = time.monotonic()
    while time.monotonic() < until and not stats.done.wait(every):
        out.append(_sample(server, start, stats))
    out.append(_sample(server, start, stats))  # the end of the run


def _at(memory: list[dict[str, Any]], t: float) -> dict[str, Any]:
    """The last memory sample taken by `t` seconds into the run (the first one if none was)."""
    return ([m for m in memory if m["t"] <= t + 0.5] or memory[:1] or [{}])[-1]


def _windows(stats: Stats, memory: list[dict[str, Any]], began: float, ended: float,
             window: float) -> list[dict[str, Any]]:
    seconds = ended - began
    edges = [began + k * window for k in range(int(seconds // window) + 1)] + [ended]
    windows = []
    for a, b in zip(edges, edges[1:], strict=False):
        if b - a > window / 2:
            m = _at(memory, b - began)
            windows.append({"end_s": round(b - began, 1), **_window(stats.samples, a, b),
                            "requests_total": m.get("requests"), "rss_mb": m.get("rss_mb"),
                            "anon_mb": m.get("anon_mb"), "threads": m.get("threads")})
    return windows


def memory_trend(memory: list[dict[str, Any]], window: float) -> dict[str, dict[str, float]]:
    """Per worker: RSS after the first window (warm), at the run's middle (by requests) and at its end."""
    warm = [m for m in memory if m["t"] >= window] or memory[-1:]
    if not warm:
        return {}
    middle_count = (warm[0]["requests"] + warm[-1]["requests"]) / 2
    middle = next(m for m in warm if m["requests"] >= middle_count)
    trend = {}
    for pid, start in warm[0]["rss_mb"].items():
        mid, end = middle["rss_mb"].get(pid, start), warm[-1]["rss_mb"].get(pid, start)
        trend[str(pid)] = {"warm_mb": start, "middle_mb": mid, "end_mb": end,
                           "first_half_mb": round(mid - start, 1), "second_half_mb": round(end - mid, 1)}
    return trend


def soak(seconds: float, clients: int, window: float, max_requests: int, request_threads: int | None = None,
         requests: int = 0, probe: bool = False, trace: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        probe_dir = Path(tmp) / "probe"
        if probe or trace:
            probe_env(probe_dir, window if trace else min(10.0, window / 2), trace)
        server = LiveServer.create(Path(tmp), server={"max_requests": max_requests, "threads": request_threads}).start()
        pids = server.worker_pids()
        stats = Stats(target=requests)
        memory: list[dict[str, Any]] = []
        began, began_wall = time.monotonic(), time.time()
        until = began + seconds
        threads = [threading.Thread(target=_client, args=(server, seed, until, stats))
                   for seed in range(1, clients + 1)]
        sampler = threading.Thread(target=_memory, args=(server, until, min(5.0, window / 2), stats, memory))
        for t in [*threads, sampler]:
            t.start()
        for t in threads:
            t.join()
        ended = time.monotonic()
        stats.done.set()
        sampler.join()
        lost = set(stats.decided) - logged_ids(server.database)
        same_workers = server.worker_pids() == pids
        status = server.stop()
        probed = probe_report(probe_dir, pids, began_wall + window, trace) if probe or trace else None
    windows = _windows(stats, memory, began, ended, window)
    if probed:
        attach_probe(windows, probed, began_wall)
    all_decides = [s for _, s, kind in stats.samples if kind == "decide"]
    return {
        "seconds": round(ended - began, 1), "clients": clients, "max_requests": max_requests,
        "threads": request_threads, "target_requests": requests,
        "server_env": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
        "requests": stats.answered(), "errors": len(stats.errors),
        "error_samples": stats.errors[:5],
        "per_second": round(len(stats.samples) / max(ended - began, 1e-9), 1),
        "decisions_logged": len(stats.decided),
        "decisions_missing_from_log": len(lost), "same_workers": same_workers if max_requests == 0 else None,
        "server_exit": status,
        "decide_p50_ms": round(_percentile(all_decides, 0.5) * 1000, 2),
        "decide_p99_ms": round(_percentile(all_decides, 0.99) * 1000, 2),
        "decide_mean_ms": round(statistics.fmean(all_decides) * 1000, 2) if all_decides else 0,
        "windows": windows, "memory_trend": memory_trend(memory, window), "memory": memory,
        **({"probe": probed} if probed else {}),
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
    if result["max_requests"] == 0:
        for pid, t in result["memory_trend"].items():
            if t["end_mb"] - t["warm_mb"] > GROWN_MB:
                problems.append(f"worker {pid} grew from {t['warm_mb']} to {t['end_mb']} MB")
            elif len(windows) >= 4 and t["second_half_mb"] > GROWING_MB:
                problems.append(f"worker {pid} still growing: {t['middle_mb']} -> {t['end_mb']} MB "
                                f"in the second half of the run")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, help="how long (default 300; with --requests: a cap, 3600)")
    parser.add_argument("--requests", type=int, default=0, help="stop after this many requests (default: by time)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--window", type=float, default=30.0, help="seconds per reported window (default 30)")
    parser.add_argument("--max-requests", type=int, default=0, help="worker recycling (default 0: off)")
    parser.add_argument("--threads", type=int, help="request threads per worker (default: the service's)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the server (repeatable), e.g. MALLOC_ARENA_MAX=2")
    parser.add_argument("--probe", action="store_true", help="sample each worker's allocators from inside")
    parser.add_argument("--trace", action="store_true", help="--probe with tracemalloc snapshots (slow)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    seconds = args.seconds or (3600.0 if args.requests else 300.0)
    window = min(args.window, seconds)
    for item in args.env:
        name, _, value = item.partition("=")
        os.environ[name] = value  # the server inherits this process's environment
    result = soak(seconds, args.clients, window, args.max_requests, args.threads, args.requests,
                  args.probe, args.trace)
    result["problems"] = verdict(result, window)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key in ("requests", "errors", "per_second", "decide_p50_ms", "decide_p99_ms", "decisions_logged",
                    "decisions_missing_from_log", "same_workers", "problems"):
            print(f"{key:28} {result[key]}")
        print("windows:")
        for w in result["windows"]:
            print("  ", w)
        print("memory_trend:", result["memory_trend"])
        for pid, lines in result.get("probe", {}).get("traced_growth", {}).items():
            print(f"traced growth, worker {pid}:", *lines, sep="\n  ")
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
