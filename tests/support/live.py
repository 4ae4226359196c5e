"""The one live-server harness: a real `attendance-policy serve` on loopback, for tests, scripts and benchmarks.

Starts gunicorn through the CLI with its own configuration, keys, rules and decision log in one
directory, in its own process group; waits until /readyz answers and every worker is up; finds
the master's workers through /proc; sends plain HTTP/1.1 requests (support/logdb.py reads the
decision log back). Loopback only, Linux only (/proc).
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.service import RULES, key_entries
from support.service import facts as session_facts

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def serve_command() -> list[str]:
    """The `attendance-policy` command of this interpreter's environment."""
    script = Path(sys.executable).with_name("attendance-policy")
    return [str(script)] if script.exists() else [sys.executable, "-m", "engine.cli.main"]


def make_tokens() -> dict[str, str]:
    """Fresh random keys for one run: one per role and `all` with every role."""
    return {name: f"apk_{name}_{secrets.token_urlsafe(32)}" for name in ("evaluate", "audit", "admin", "studio", "all")}


def _toml_value(v: Any) -> str:
    return json.dumps(v)  # strings, numbers, booleans and lists of them are the same in TOML


def write_config(directory: Path, tokens: dict[str, str], *, rules: Iterable[str | Path] = (RULES,),
                 database: str = "decisions.sqlite3", server: dict[str, Any] | None = None,
                 policies: dict[str, Any] | None = None, decision_log: dict[str, Any] | None = None,
                 limits: dict[str, Any] | None = None) -> Path:
    """service.toml with the given sections and one key per token (none: authentication off).

    `server.max_requests` is 0 unless said, so worker pids stay comparable; a value of None
    leaves a setting out (the service's default).
    """
    sections = {
        "server": {"max_requests": 0, **(server or {})},
        "policies": {"rules": [str(r) for r in rules], **(policies or {})},
        "decision_log": {"path": database, **(decision_log or {})},
        "limits": dict(limits or {}),
    }
    lines: list[str] = []
    for name, values in sections.items():
        values = {k: v for k, v in values.items() if v is not None}
        if values:
            lines.append(f"[{name}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    for k in key_entries(tokens):
        lines += ["[[keys]]", f"id = {_toml_value(k['id'])}", f"sha256 = {_toml_value(k['sha256'])}",
                  f"roles = {_toml_value(k['roles'])}"]
    path = directory / "service.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0, interval: float = 0.02) -> Any:
    """Poll until `condition()` is truthy and return it (no timing assertion: only a generous deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def answers(port: int, path: str, timeout: float = 2.0) -> int | None:
    """The status of `GET path` on a loopback port, None while nothing answers there."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):  # not listening yet, or closed before answering
        return None
    finally:
        conn.close()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()

    @property
    def data(self) -> Any:
        """The body decoded: JSON when the content type says so, else text."""
        return self.json() if "json" in self.content_type else self.body.decode("utf-8", "replace")


@dataclass
class LiveServer:
    """One `attendance-policy serve` in `directory` (make it with `create`, run it with `start`)."""

    directory: Path
    tokens: dict[str, str]
    port: int
    database: Path
    worker_count: int = 2
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.directory / "server.log"

    @classmethod
    def create(cls, directory: Path, *, tokens: dict[str, str] | None = None, workers: int = 2,
               database: str = "decisions.sqlite3", **config: Any) -> LiveServer:
        """Write the configuration (`config`: the sections of `write_config`); fresh random keys unless given."""
        directory.mkdir(parents=True, exist_ok=True)
        tokens = make_tokens() if tokens is None else tokens
        write_config(directory, tokens, database=database, **config)
        return cls(directory, tokens, free_port(), directory / database, workers)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def master(self) -> subprocess.Popen[bytes]:
        """The master process (once started)."""
        if self.proc is None:
            raise RuntimeError("the server was never started")
        return self.proc

    def config(self) -> dict[str, Any]:
        """The service.toml it was given."""
        with open(self.directory / "service.toml", "rb") as fh:
            return tomllib.load(fh)

    def start(self, timeout: float = 60.0, *, quiet: bool = False, ready: bool = True) -> LiveServer:
        """Start serving and wait until ready (`ready=False`: until it answers `/healthz`, e.g. on a full disk);
        `quiet` sends the server's output nowhere instead of `log`."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATTENDANCE_POLICY_")}
        env["TMPDIR"] = str(self.directory)  # serve's metrics directory goes here
        cmd = [*serve_command(), "serve", "--host", HOST, "--port", str(self.port),
               "--workers", str(self.worker_count), "--config", str(self.directory / "service.toml")]
        with open(os.devnull if quiet else self.log, "ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=self.directory, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)  # its own process group: kill -9 all at once
        self.wait_ready(timeout, "/readyz" if ready else "/healthz")
        return self

    def wait_ready(self, timeout: float = 60.0, path: str = "/readyz") -> None:
        """Until `path` answers 200 and every worker is up; RuntimeError if serve exits or takes too long."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}:\n{self.log_text()[-4000:]}")
            if answers(self.port, path) == 200 and len(self.worker_pids()) == self.worker_count:
                return
            time.sleep(0.05)
        raise RuntimeError(f"serve did not become ready within {timeout}s:\n{self.log_text()[-4000:]}")

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def logged_requests(self, since: int = 0) -> list[dict[str, Any]]:
        """The service's `http_request` log events, from character `since` of `log_text()` on."""
        events = [json.loads(x) for x in self.log_text()[since:].splitlines() if x.startswith('{"time"')]
        return [e for e in events if e.get("event") == "http_request"]

    def worker_pids(self) -> list[int]:
        """The master's live children (gunicorn workers), from /proc."""
        if self.proc is None:
            return []
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return sorted(int(p) for p in children.read_text().split())
        except OSError:
            return []

    def request(self, method: str, path: str, body: Any = None, *, role: str | None = None,
                headers: dict[str, str] | None = None, raw: bytes | None = None, timeout: float = 60.0) -> Reply:
        """One request on a fresh connection, with the key of `role` (none: anonymous)."""
        head = dict(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            head.setdefault("Content-Type", "application/json")
        if role:
            head["Authorization"] = f"Bearer {self.tokens[role]}"
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=head)
            resp = conn.getresponse()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    def call(self, method: str, path: str, body: Any = None, role: str | None = None) -> tuple[int, Any]:
        """(status, decoded body) of one request: the short form the tests use."""
        reply = self.request(method, path, body, role=role)
        return reply.status, reply.data

    def decide(self, session: str) -> str:
        """One decision on the standard test facts for `session`; its id."""
        status, body = self.call("POST", "/v1/decisions", {"facts": session_facts(session)}, role="evaluate")
        assert status == 200, body
        return str(body["decision_id"])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int | None:
        """Stop the server (SIGTERM: graceful, then kill -9 after `timeout`); the master's exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_all()
            return self.proc.returncode

    def kill_all(self) -> None:
        """kill -9 the master and every worker at once (its process group), as a power cut would, minus the disk."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)


@contextmanager
def serving(directory: Path, **options: Any) -> Iterator[LiveServer]:
    """A started server (`options` as for `LiveServer.create`), stopped on leaving."""
    server = LiveServer.create(directory, **options)
    try:
        yield server.start()
    finally:
        server.stop()


def rss_kb(pid: int) -> int | None:
    """Resident memory of a process (VmRSS, kB), None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None
