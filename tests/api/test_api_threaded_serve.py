"""`server.threads` > 1: gunicorn's gthread worker, group commit, every decision logged exactly once."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from support.service import RULES, facts


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(port: int, session: str) -> str:
    body = json.dumps({"facts": facts(session)}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/decisions", body,
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200
        return str(json.loads(resp.read())["decision_id"])


def test_threaded_workers_log_every_decision_exactly_once(tmp_path: Path) -> None:
    config = tmp_path / "service.toml"
    config.write_text(f'[policies]\nrules = ["{RULES}"]\n[decision_log]\npath = "d.sqlite3"\n'
                      "[server]\nthreads = 4\nworkers = 2\nmax_requests = 0\n")
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTENDANCE_POLICY_")}
    log = tmp_path / "server.log"
    cli = Path(sys.executable).parent / "attendance-policy"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(cli), "serve", "--port", str(port), "--config", str(config)], cwd=tmp_path,
                                env=dict(env, TMPDIR=str(tmp_path)), stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        with ThreadPoolExecutor(12) as pool:
            ids = list(pool.map(lambda i: _post(port, f"sess-thr-{i}"), range(150)))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0
    assert "Using worker: gthread" in log.read_text()
    conn = sqlite3.connect(tmp_path / "d.sqlite3")
    try:
        counts = dict(conn.execute("SELECT decision_id, count(*) FROM decisions GROUP BY decision_id").fetchall())
    finally:
        conn.close()
    assert len(set(ids)) == 150 and all(counts.get(i) == 1 for i in ids)
