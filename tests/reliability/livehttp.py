"""The live server of the reliability suite, and raw HTTP helpers (not in conftest: tests import them).

The server reuses the serve tests' helpers (tests/api/test_api_serve.py) and the scripts'
harness (scripts/harness.py), so scripts and suite start the service the same way. Its worker
timeout is short (4 s) so that a slow client meets the request deadline (2 s, api/gunicorn/worker.py)
within a test's patience.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from harness import write_config
from test_api_serve import Server, _command, _free_port, _wait_ready

from support.service import TOKENS

LIVE_TIMEOUT_S = 4  # gunicorn's silent-worker timeout on the live server: request deadline 2 s


def start_server(directory: Path, **config: Any) -> Server:
    """`attendance-policy serve` with 2 workers and the test keys, in its own process group."""
    directory.mkdir(parents=True, exist_ok=True)
    config.setdefault("server", {}).setdefault("timeout", LIVE_TIMEOUT_S)
    path = write_config(directory, TOKENS, **config)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTENDANCE_POLICY_")}
    env["TMPDIR"] = str(directory)
    log = directory / "server.log"
    cmd = [*_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2", "--config", str(path)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=directory, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    server = Server(port, proc, directory / "decisions.sqlite3", log)
    _wait_ready(server)
    deadline = time.monotonic() + 30
    while len(server.workers()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    return server


def stop_server(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait(timeout=30)


def raw_exchange(port: int, data: bytes, *, timeout: float = 30.0) -> bytes:
    """Send raw bytes, then read until the server closes; a reset after a partial send is kept as what it is."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before reading everything (413): its answer may still be there
        out = b""
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except ConnectionResetError:
            pass
        return out


def status_of(response: bytes) -> int:
    """The status code of a raw HTTP/1.1 response (0 when there was none)."""
    if not response.startswith(b"HTTP/1."):
        return 0
    return int(response.split(b" ", 2)[1])


def body_of(response: bytes) -> bytes:
    return response.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in response else b""


def header_of(response: bytes, name: str) -> str | None:
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


def decision_count(database: Path) -> int:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM decisions").fetchone()[0])
    finally:
        conn.close()


def http_request(method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """A raw request with Content-Length (when there is a body) and `Connection: close`."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
