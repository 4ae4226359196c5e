#!/usr/bin/env python3
"""Crash durability: kill -9 a worker, then the whole server, while decisions flow; restart; nothing is lost.

Each cycle: clients POST decisions continuously (each with its own session id) and keep
every decision id that came back with a 200; after a while one worker gets SIGKILL, later
the master and all workers at once (their process group). The server is then started again
on the same decision log: it must start cleanly, every acknowledged decision must be in
the log (read back through the API and straight from SQLite), and `PRAGMA integrity_check`
must say ok. Loopback only; bounded by --cycles and --seconds.

    .venv/bin/python scripts/crash_durability.py                       # 5 cycles, 6 s of traffic each
    .venv/bin/python scripts/crash_durability.py --cycles 1 --seconds 2 --json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the project, and tests/support
from support.live import LiveServer  # noqa: E402
from support.logdb import integrity_check, logged_ids  # noqa: E402


@dataclass
class Traffic:
    """What the clients saw: ids acknowledged with a 200, and everything else."""

    acknowledged: set[str] = field(default_factory=set)
    failures: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def failed(self, what: str) -> None:
        with self.lock:
            self.failures[what] = self.failures.get(what, 0) + 1


def _client(server: LiveServer, traffic: Traffic, name: str) -> None:
    n = 0
    while not traffic.stop.is_set():
        n += 1
        facts = {"session": {"id": f"crash-{name}-{n}", "type": "couples"},
                 "attendance": {"partners_present": n % 3, "absence_reason": "work"}}
        try:
            reply = server.request("POST", "/v1/decisions", {"facts": facts}, role="evaluate", timeout=10)
        except OSError as e:
            traffic.failed(type(e).__name__)  # the server died under this request: no 200, nothing promised
            time.sleep(0.01)
            continue
        if reply.status == 200:
            with traffic.lock:
                traffic.acknowledged.add(reply.json()["decision_id"])
        else:
            traffic.failed(f"HTTP {reply.status}")


def _logged_through_api(server: LiveServer) -> set[str]:
    ids: set[str] = set()
    cursor = ""
    while True:
        reply = server.request("GET", f"/v1/decisions?limit=500{cursor}", role="audit")
        assert reply.status == 200, reply.body[:300]
        page = reply.json()
        ids.update(item["decision_id"] for item in page["items"])
        if not page["next_cursor"]:
            return ids
        cursor = f"&cursor={page['next_cursor']}"


def _clean_start(server: LiveServer) -> dict[str, Any]:
    started = time.monotonic()
    before = len(server.log_text())
    server.start()
    text = server.log_text()[before:]
    return {"restart_seconds": round(time.monotonic() - started, 2),
            "restart_log_clean": "Traceback" not in text and '"level":"error"' not in text}


def cycle(server: LiveServer, seconds: float, clients: int) -> dict[str, Any]:
    earlier = logged_ids(server.database)
    traffic = Traffic()
    tag = time.time_ns()
    threads = [threading.Thread(target=_client, args=(server, traffic, f"{tag}-{i}")) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(seconds / 2)
    victim = server.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)  # a native crash in one worker
    time.sleep(seconds / 2)
    server.kill_all()  # the whole server at once, requests in flight
    killed_with = len(traffic.acknowledged)
    time.sleep(0.3)
    traffic.stop.set()
    for t in threads:
        t.join(timeout=30)
    after_crash = integrity_check(server.database)
    restart = _clean_start(server)
    in_sqlite = logged_ids(server.database) - earlier
    in_api = _logged_through_api(server) - earlier
    missing = traffic.acknowledged - in_sqlite
    return {"acknowledged": len(traffic.acknowledged), "acknowledged_before_server_kill": killed_with,
            "client_failures": traffic.failures, "missing_from_log": len(missing),
            "missing_from_api": len(traffic.acknowledged - in_api),
            "logged_without_a_200": len(in_sqlite - traffic.acknowledged),  # in flight at the kill: allowed
            "integrity_after_crash": after_crash, "integrity_after_restart": integrity_check(server.database),
            "ready_after_restart": server.request("GET", "/readyz").status == 200, **restart}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds of traffic per cycle (default 6)")
    parser.add_argument("--clients", type=int, default=6, help="concurrent clients (default 6)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="crash-durability-") as tmp:
        server = LiveServer.create(Path(tmp)).start()
        try:
            for i in range(args.cycles):
                result = cycle(server, args.seconds, args.clients)
                results.append(result)
                if not args.json:
                    print(f"cycle {i + 1}: {json.dumps(result)}", flush=True)
        finally:
            server.stop()
    ok = all(r["missing_from_log"] == 0 and r["missing_from_api"] == 0 and r["integrity_after_crash"] == "ok"
             and r["integrity_after_restart"] == "ok" and r["ready_after_restart"] and r["restart_log_clean"]
             and r["acknowledged"] > 0 for r in results)
    summary = {"cycles": len(results), "acknowledged": sum(r["acknowledged"] for r in results),
               "missing": sum(r["missing_from_log"] for r in results),
               "logged_without_a_200": sum(r["logged_without_a_200"] for r in results), "ok": ok}
    print(json.dumps({"summary": summary, "cycles": results} if args.json else summary, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
