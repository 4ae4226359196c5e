"""The real `attendance-policy serve`: gunicorn, 2 workers, real HTTP, the log on disk, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from support.service import KEYS, RULES, TOKENS, facts

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gunicorn needs a POSIX system")
needs_proc = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads worker pids and sockets in /proc")


@dataclass
class Server:
    port: int
    proc: subprocess.Popen[bytes]
    database: Path
    log: Path
    made: list[str] = field(default_factory=list)  # every decision id returned so far

    def request(self, method: str, path: str, body: Any = None, role: str | None = "all") -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if role:
            req.add_header("Authorization", f"Bearer {TOKENS[role]}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw, ctype = resp.status, resp.read(), resp.headers.get_content_type()
        except urllib.error.HTTPError as e:
            with e:
                status, raw, ctype = e.code, e.read(), e.headers.get_content_type()
        return status, (json.loads(raw) if "json" in ctype else raw.decode())

    def decide(self, session: str) -> str:
        status, body = self.request("POST", "/v1/decisions", {"facts": facts(session)}, role="evaluate")
        assert status == 200, body
        self.made.append(body["decision_id"])
        return str(body["decision_id"])

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _command() -> list[str]:
    script = Path(sys.executable).with_name("attendance-policy")
    return [str(script)] if script.exists() else [sys.executable, "-m", "engine.cli.main"]


def _config(directory: Path) -> Path:
    keys = "\n".join(f'[[keys]]\nid = "{k["id"]}"\nsha256 = "{k["sha256"]}"\nroles = {json.dumps(k["roles"])}\n'
                     for k in KEYS)
    path = directory / "service.toml"
    path.write_text(f'[policies]\nrules = ["{RULES}"]\n[decision_log]\npath = "decisions.sqlite3"\n'
                    # exact sums across workers right after each request: publish after every request
                    f"[server]\nmax_requests = 0\nmetrics_flush_ms = 0\n{keys}")
    return path


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"serve exited with {server.proc.returncode}:\n{server.log.read_text()}")
        try:
            if server.request("GET", "/readyz", role=None)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"serve did not become ready:\n{server.log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("serve")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTENDANCE_POLICY_")}
    env["TMPDIR"] = str(directory)  # where serve makes its metrics directory
    cmd = [*_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
           "--config", str(_config(directory))]
    log = directory / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=directory, env=env, stdout=out, stderr=subprocess.STDOUT)
    srv = Server(port, proc, directory / "decisions.sqlite3", log)
    try:
        _wait_ready(srv)
        yield srv
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


def _logged(database: Path, ids: list[str]) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT decision_id, count(*) FROM decisions GROUP BY decision_id").fetchall()
    finally:
        conn.close()
    counts = dict(rows)
    return {i: counts.get(i, 0) for i in ids}


def test_round_trip_over_http(server: Server) -> None:
    decision_id = server.decide("sess-http-1")
    status, record = server.request("GET", f"/v1/decisions/{decision_id}", role="audit")
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
def test_errors_over_http_are_problems(server: Server, method: str, path: str, body: Any, role: str | None,
                                       status: int, code: str) -> None:
    got, problem = server.request(method, path, body, role)
    assert (got, problem["code"]) == (status, code)


def test_concurrent_requests_across_workers_are_each_logged_once(server: Server) -> None:
    sessions = [f"sess-c{i}" for i in range(240)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=12) as pool:
        ids = list(pool.map(server.decide, sessions))
    elapsed = time.perf_counter() - started
    print(f"\n{len(ids)} decisions over HTTP in {elapsed:.2f}s ({len(ids) / elapsed:.0f}/s, 2 workers)")
    assert len(set(ids)) == len(ids)
    assert set(_logged(server.database, ids).values()) == {1}
    lines = [json.loads(x) for x in server.log.read_text().splitlines() if x.startswith('{"time"')]
    pids = {x["pid"] for x in lines if x.get("event") == "http_request" and x["route"] == "/v1/decisions"}
    assert len(pids) >= 2  # both workers served decisions


def _decisions_counted(server: Server) -> int:
    status, text = server.request("GET", "/metrics", role="admin")
    assert status == 200
    return sum(int(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("attendance_decisions_total{"))


def test_metrics_are_summed_over_workers(server: Server) -> None:
    assert _decisions_counted(server) == len(server.made)


@needs_proc
def test_a_killed_worker_is_replaced_and_its_counts_kept(server: Server) -> None:
    before = server.workers()
    assert len(before) == 2
    os.kill(before[0], signal.SIGKILL)  # what a native crash in the engine would do
    server.decide("sess-after-kill")  # the other worker (or a new one) answers
    deadline = time.monotonic() + 30
    while (len(server.workers()) < 2 or before[0] in server.workers()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(server.workers()) == 2 and before[0] not in server.workers()
    assert _decisions_counted(server) == len(server.made)
    assert set(_logged(server.database, server.made).values()) == {1}


def _accepted(server_port: int, client_port: int) -> bool:
    """Whether a worker has accept()ed our connection: the kernel gives its socket an inode only then."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        local, remote, inode = parts[1], parts[2], parts[9]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return inode != "0"
    return False


def _wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@needs_proc
def test_sigterm_finishes_the_request_in_flight_then_stops(server: Server) -> None:
    body = json.dumps({"facts": facts("sess-in-flight")}).encode()
    head = (f"POST /v1/decisions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {TOKENS['evaluate']}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + body[:10])  # a worker is now reading this request's body
        _wait_for(lambda: _accepted(server.port, sock.getsockname()[1]), "a worker to accept the request")
        server.proc.send_signal(signal.SIGTERM)
        _wait_for(lambda: "Handling signal: term" in server.log.read_text(), "the master to handle SIGTERM")
        sock.sendall(body[10:])
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 200 ")
    decision_id = json.loads(response.split(b"\r\n\r\n", 1)[1])["decision_id"]
    assert server.proc.wait(timeout=60) == 0
    log = server.log.read_text()
    assert "Shutting down: Master" in log
    assert _logged(server.database, [decision_id]) == {decision_id: 1}
    assert not list(server.database.parent.glob("attendance-policy-metrics-*"))  # the master cleaned up
