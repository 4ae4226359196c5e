"""The real `attendance-policy serve`: gunicorn, 2 workers, real HTTP, the log on disk, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from support.live import LiveServer, serving, wait_for
from support.logdb import logged_counts
from support.metrics import samples
from support.rawhttp import read_all
from support.service import TOKENS, facts

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gunicorn needs a POSIX system")
needs_proc = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads worker pids and sockets in /proc")

# Exact sums across workers right after each request: every worker publishes its metrics after every request.
CONFIG: dict[str, Any] = {"tokens": TOKENS, "server": {"metrics_flush_ms": 0}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the tests that leave it as they found it: each checks only what it did itself."""
    with serving(tmp_path_factory.mktemp("serve"), **CONFIG) as srv:
        yield srv


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server of its own, for a test that kills a worker or stops the server."""
    with serving(tmp_path, **CONFIG) as srv:
        yield srv


def decide_on_both_workers(server: LiveServer, prefix: str, n: int = 60) -> list[str]:
    """`n` concurrent decisions; fails unless both workers answered some of them."""
    since = len(server.log_text())
    with ThreadPoolExecutor(max_workers=12) as pool:
        ids = list(pool.map(server.decide, [f"{prefix}-{i}" for i in range(n)]))
    pids = {e["pid"] for e in server.logged_requests(since) if e["route"] == "/v1/decisions" and e["status"] == 200}
    assert pids == set(server.worker_pids()), pids  # both workers served decisions
    return ids


def test_round_trip_over_http(server: LiveServer) -> None:
    decision_id = server.decide("sess-http-1")
    status, record = server.call("GET", f"/v1/decisions/{decision_id}", role="audit")
    assert status == 200 and record["decision"]["decision_id"] == decision_id
    assert record["key_id"] == "evaluate"
    conn = sqlite3.connect(f"file:{server.database}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT session_id, key_id, facts FROM decisions WHERE decision_id = ?",
                           (decision_id,)).fetchone()
    finally:
        conn.close()
    assert row[:2] == ("sess-http-1", "evaluate")
    assert json.loads(row[2])["session"]["scheduled_start"] == "[redacted]"


@pytest.mark.parametrize(("method", "path", "body", "role", "status", "code"), [
    ("POST", "/v1/decisions", {"facts": {}}, "evaluate", 400, "invalid_facts"),
    ("POST", "/v1/decisions", {"facts": facts()}, None, 401, "unauthenticated"),
    ("POST", "/v1/decisions", {"facts": facts()}, "audit", 403, "forbidden"),
    ("DELETE", "/v1/decisions", None, "all", 405, "method_not_allowed"),
    ("GET", "/nowhere", None, "all", 404, "not_found"),
])
def test_errors_over_http_are_problems(server: LiveServer, method: str, path: str, body: Any, role: str | None,
                                       status: int, code: str) -> None:
    got, problem = server.call(method, path, body, role)
    assert (got, problem["code"]) == (status, code)


def test_concurrent_requests_across_workers_are_each_logged_once(server: LiveServer) -> None:
    started = time.perf_counter()
    ids = decide_on_both_workers(server, "sess-c", 240)
    elapsed = time.perf_counter() - started
    print(f"\n{len(ids)} decisions over HTTP in {elapsed:.2f}s ({len(ids) / elapsed:.0f}/s, 2 workers)")
    assert len(set(ids)) == len(ids)
    assert set(logged_counts(server.database, ids).values()) == {1}


def _decisions_counted(server: LiveServer) -> int:
    status, text = server.call("GET", "/metrics", role="admin")
    assert status == 200
    return int(sum(v for (name, _), v in samples(text).items() if name == "attendance_decisions_total"))


def test_metrics_are_summed_over_workers(server: LiveServer) -> None:
    before = _decisions_counted(server)
    ids = decide_on_both_workers(server, "sess-m")
    assert _decisions_counted(server) == before + len(ids)


@needs_proc
def test_a_killed_worker_is_replaced_and_its_counts_kept(own_server: LiveServer) -> None:
    server = own_server
    made = decide_on_both_workers(server, "sess-k")  # so the worker killed below has counted some of them
    victim = server.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)  # what a native crash in the engine would do
    made.append(server.decide("sess-after-kill"))  # the other worker (or a new one) answers
    wait_for(lambda: len(server.worker_pids()) == 2 and victim not in server.worker_pids(), "a replacement worker")
    assert _decisions_counted(server) == len(made)
    assert set(logged_counts(server.database, made).values()) == {1}


def _accepted(server_port: int, client_port: int) -> bool:
    """Whether a worker has accept()ed our connection: the kernel gives its socket an inode only then."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        local, remote, inode = parts[1], parts[2], parts[9]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return inode != "0"
    return False


@needs_proc
def test_sigterm_finishes_the_request_in_flight_then_stops(own_server: LiveServer) -> None:
    server = own_server
    body = json.dumps({"facts": facts("sess-in-flight")}).encode()
    head = (f"POST /v1/decisions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {TOKENS['evaluate']}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + body[:10])  # a worker is now reading this request's body
        wait_for(lambda: _accepted(server.port, sock.getsockname()[1]), "a worker to accept the request")
        server.master.send_signal(signal.SIGTERM)
        wait_for(lambda: "Handling signal: term" in server.log_text(), "the master to handle SIGTERM")
        sock.sendall(body[10:])
        response = read_all(sock)
    assert response.startswith(b"HTTP/1.1 200 ")
    decision_id = json.loads(response.split(b"\r\n\r\n", 1)[1])["decision_id"]
    assert server.master.wait(timeout=60) == 0
    assert "Shutting down: Master" in server.log_text()
    assert logged_counts(server.database, [decision_id]) == {decision_id: 1}
    assert not list(server.directory.glob("attendance-policy-metrics-*"))  # the master cleaned up
