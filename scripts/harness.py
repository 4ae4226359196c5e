"""A real `attendance-policy serve` on loopback for the reliability scripts (and their short CI runs).

Starts gunicorn through the CLI with its own configuration, keys, rules and decision
log in one directory; finds the master and worker pids through /proc; sends plain
HTTP/1.1 requests; reads the decision log back. Loopback only, Linux only (/proc).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
ROLES = ("evaluate", "audit", "admin")
HOST = "127.0.0.1"


def make_tokens() -> dict[str, str]:
    """Fresh random keys for one run: one per role and `all` with every role."""
    return {name: f"apk_{name}_{secrets.token_urlsafe(32)}" for name in (*ROLES, "all")}


def key_entries(tokens: dict[str, str]) -> list[dict[str, Any]]:
    return [{"id": name, "sha256": hashlib.sha256(tok.encode()).hexdigest(),
             "roles": list(ROLES) if name == "all" else [name]} for name, tok in tokens.items()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _toml_value(v: Any) -> str:
    return json.dumps(v)  # strings, numbers, booleans and lists of them are the same in TOML


def write_config(directory: Path, tokens: dict[str, str], *, rules: Iterable[str | Path] = (RULES,),
                 database: str = "decisions.sqlite3", server: dict[str, Any] | None = None,
                 decision_log: dict[str, Any] | None = None, limits: dict[str, Any] | None = None) -> Path:
    """service.toml with the given sections (`server.max_requests` 0 unless said: pids stay comparable)."""
    sections = {
        "server": {"max_requests": 0, **(server or {})},
        "policies": {"rules": [str(r) for r in rules]},
        "decision_log": {"path": database, **(decision_log or {})},
        "limits": dict(limits or {}),
    }
    lines: list[str] = []
    for name, values in sections.items():
        if values:
            lines.append(f"[{name}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    for k in key_entries(tokens):
        lines += ["[[keys]]", f"id = {_toml_value(k['id'])}", f"sha256 = {_toml_value(k['sha256'])}",
                  f"roles = {_toml_value(k['roles'])}"]
    path = directory / "service.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def serve_command() -> list[str]:
    script = Path(sys.executable).with_name("attendance-policy")
    return [str(script)] if script.exists() else [sys.executable, "-m", "engine.cli.main"]


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


@dataclass
class LiveServer:
    """One running `attendance-policy serve` (start it with `start`)."""

    directory: Path
    tokens: dict[str, str]
    port: int
    workers: int = 2
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.directory / "server.log"

    @property
    def database(self) -> Path:
        return self.directory / "decisions.sqlite3"

    @classmethod
    def create(cls, directory: Path, *, workers: int = 2, **config: Any) -> LiveServer:
        directory.mkdir(parents=True, exist_ok=True)
        tokens = make_tokens()
        write_config(directory, tokens, **config)
        return cls(directory, tokens, free_port(), workers)

    def start(self, timeout: float = 60.0) -> LiveServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATTENDANCE_POLICY_")}
        env["TMPDIR"] = str(self.directory)  # serve's metrics directory goes here
        cmd = [*serve_command(), "serve", "--host", HOST, "--port", str(self.port), "--workers", str(self.workers),
               "--config", str(self.directory / "service.toml")]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=self.directory, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)  # its own process group: kill -9 all at once
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}:\n{self.log_text()[-4000:]}")
            try:
                if self.request("GET", "/readyz").status == 200 and len(self.worker_pids()) == self.workers:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"serve did not become ready within {timeout}s:\n{self.log_text()[-4000:]}")

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

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
        """One request on a fresh connection (gunicorn's sync workers close after each response)."""
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

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int | None:
        """Stop the server (SIGTERM: graceful); returns the master's exit status."""
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


def rss_kb(pid: int) -> int | None:
    """Resident memory of a process (VmRSS, kB), None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def logged_ids(database: Path) -> set[str]:
    """Every decision id in the log (read-only connection)."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT decision_id FROM decisions")}
    finally:
        conn.close()


def integrity_check(database: Path) -> str:
    """`PRAGMA integrity_check` of the log: 'ok' when sound."""
    conn = sqlite3.connect(database)
    try:
        return "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def bundle_openapi(doc: dict[str, Any]) -> dict[str, Any]:
    """The served document with every `$ref` rewritten to a local `#/components/schemas/...` pointer.

    The service embeds each schema with its `$id` and keeps the relative `$ref`s between
    them (valid OpenAPI 3.1). Tools that do not resolve `$id` (Schemathesis 4 among them)
    skip those parts; this form is the same contract with plain local pointers.
    """
    schemas = doc["components"]["schemas"]
    by_uri = {s["$id"]: name for name, s in schemas.items() if "$id" in s}

    def rewrite(node: Any, base: str) -> Any:
        if isinstance(node, dict):
            out = {k: rewrite(v, base) for k, v in node.items() if k != "$id"}
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#/components/"):
                target = urljoin(base, ref)
                uri, _, pointer = target.partition("#")
                name = by_uri.get(uri)
                if name is None:
                    raise ValueError(f"cannot bundle $ref {ref!r} (from {base})")
                out["$ref"] = f"#/components/schemas/{name}{pointer}"
            return out
        if isinstance(node, list):
            return [rewrite(v, base) for v in node]
        return node

    bundled = dict(doc)
    bundled["components"] = {**doc["components"],
                             "schemas": {name: rewrite(s, s.get("$id", "")) for name, s in schemas.items()}}
    bundled["paths"] = rewrite(doc["paths"], "")
    return bundled


def base_url(server: LiveServer) -> str:
    return f"http://{HOST}:{server.port}"


def is_loopback_url(url: str) -> bool:
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")
