"""The policy lifecycle in the real server: gunicorn, 2 workers, reload by API and SIGHUP, pins, a replaced worker.

The poller is slowed to a minute here, so what makes the workers converge is what
is under test: `POST /v1/admin/reload` (the master forwards it to every worker as
SIGHUP), a SIGHUP sent to the master, and a new worker catching up as it starts.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_api_lifecycle import wait_for, write_version
from test_api_serve import Server, _command, _free_port, _wait_ready

from support.service import KEYS, RULES, facts

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gunicorn needs a POSIX system")
needs_proc = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads worker pids in /proc")


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lifecycle-rules") / "couples-attendance"
    folder.mkdir()
    shutil.copy(Path(RULES, "couples-attendance", "1.0.0.yaml"), folder)
    return folder.parent


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, rules: Path) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("lifecycle-serve")
    keys = "".join(f'[[keys]]\nid = "{k["id"]}"\nsha256 = "{k["sha256"]}"\nroles = {json.dumps(k["roles"])}\n'
                   for k in KEYS)
    config = directory / "service.toml"
    config.write_text(f'[server]\nmax_requests = 0\n[policies]\nrules = ["{rules}"]\npoll_interval_ms = 60000\n'
                      f'[decision_log]\npath = "decisions.sqlite3"\n{keys}')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTENDANCE_POLICY_")}
    env["TMPDIR"] = str(directory)
    port = _free_port()
    log = directory / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([*_command(), "serve", "--port", str(port), "--workers", "2", "--config", str(config)],
                                cwd=directory, env=env, stdout=out, stderr=subprocess.STDOUT)
    srv = Server(port, proc, directory / "decisions.sqlite3", log)
    try:
        _wait_ready(srv)
        wait_for(lambda: len(status(srv)["workers"]) == 2, "both workers to publish their state")
        yield srv
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


def status(server: Server) -> dict[str, Any]:
    code, body = server.request("GET", "/v1/status", role="evaluate")
    assert code == 200, body
    return body  # type: ignore[no-any-return]


def converged_on(server: Server, fingerprint: str) -> bool:
    workers = status(server)["workers"]
    return len(workers) == 2 and all(w["fingerprint"] == fingerprint for w in workers)


def version(server: Server) -> str:
    code, body = server.request("POST", "/v1/decisions", {"facts": facts("sess-lc")}, role="evaluate")
    assert code == 200, body
    return str(body["policy"]["version"])


def test_status_reports_each_worker(server: Server) -> None:
    body = status(server)
    assert body["converged"] is True and body["newest_good_set"] is None and body["problems"] == []
    for worker in body["workers"]:
        assert [(v["version"], len(v["sha256"])) for v in worker["versions"]] == [("1.0.0", 64)]
        assert worker["active"] == {"couples-attendance": "1.0.0"} and worker["last_error"] is None
    assert len({w["pid"] for w in body["workers"]}) == 2
    assert server.request("GET", "/readyz", role=None)[0] == 200


def test_reload_while_requests_flow_over_http(server: Server, rules: Path) -> None:
    results: list[tuple[bool, int, str | None]] = []  # (sent after both workers converged, status, version)
    converged, stop = threading.Event(), threading.Event()

    def flow(n: int) -> None:
        i = 0
        while not stop.is_set():
            after = converged.is_set()
            code, body = server.request("POST", "/v1/decisions", {"facts": facts(f"http-flow-{n}-{i}")},
                                        role="evaluate")
            results.append((after, code, body.get("policy", {}).get("version") if code == 200 else str(body)))
            i += 1

    threads = [threading.Thread(target=flow, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(results) >= 80, "decisions before the reload")
        write_version(rules, "1.1.0")
        code, outcome = server.request("POST", "/v1/admin/reload", role="admin")
        assert (code, outcome["added"]) == (200, ["couples-attendance@1.1.0"]), outcome
        started = time.monotonic()
        newest = wait_for(lambda: status(server)["newest_good_set"], "the newest good set")["fingerprint"]
        wait_for(lambda: converged_on(server, newest), "both workers to converge")
        took = time.monotonic() - started
        converged.set()
        wait_for(lambda: sum(1 for a, _, _ in results if a) >= 80, "decisions after the workers converged")
    finally:
        stop.set()
        for t in threads:
            t.join()
    print(f"\nreload of the default policy in the worker that answered: {outcome['seconds'] * 1000:.0f} ms; "
          f"both workers converged {took * 1000:.0f} ms after the reload returned; {len(results)} decisions")
    assert {c for _, c, _ in results} == {200}  # zero failed requests
    assert {v for _, _, v in results} == {"1.0.0", "1.1.0"}
    assert {v for a, _, v in results if a} == {"1.1.0"}  # after the swap only the new version
    assert status(server)["converged"] is True


def ensure_version(server: Server, rules: Path, v: str) -> None:
    """`v` served by both workers, whether or not an earlier test of this module added it."""
    if not (rules / "couples-attendance" / f"{v}.yaml").exists():
        write_version(rules, v)
        code, outcome = server.request("POST", "/v1/admin/reload", role="admin")
        assert code == 200, outcome
    newest = wait_for(lambda: status(server)["newest_good_set"], "the newest good set")["fingerprint"]
    wait_for(lambda: converged_on(server, newest), "both workers to converge")


def test_a_pin_made_through_one_worker_holds_in_every_worker(server: Server, rules: Path) -> None:
    ensure_version(server, rules, "1.1.0")  # also when this test runs on its own
    code, body = server.request("POST", "/v1/admin/policies/couples-attendance/activate", {"version": "1.0.0"},
                                role="admin")
    assert (code, body["active_version"], body["scheduled_version"]) == (200, "1.0.0", "1.1.0")
    assert {version(server) for _ in range(30)} == {"1.0.0"}
    wait_for(lambda: all(w["pins"] == {"couples-attendance": "1.0.0"} for w in status(server)["workers"]),
             "both workers to show the pin")
    server.request("POST", "/v1/admin/policies/couples-attendance/activate", {"version": None}, role="admin")
    assert {version(server) for _ in range(30)} == {"1.1.0"}


def test_sighup_reloads_every_worker_in_place(server: Server, rules: Path) -> None:
    pids = {w["pid"] for w in status(server)["workers"]}
    broken = write_version(rules, "1.2.0", broken=True)
    server.proc.send_signal(signal.SIGHUP)

    def refused() -> bool:
        workers = status(server)["workers"]
        return len(workers) == 2 and all((w["last_error"] or {}).get("trigger") == "sighup" for w in workers)

    wait_for(refused, "both workers to refuse the broken file")
    body = status(server)
    assert {w["pid"] for w in body["workers"]} == pids  # reloaded in place, not restarted
    assert {w["last_error"]["problems"][0]["file"] for w in body["workers"]} == {str(broken)}
    assert version(server) == "1.1.0" and server.request("GET", "/readyz", role=None)[0] == 200
    broken.unlink()
    server.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: all(w["last_error"] is None for w in status(server)["workers"]), "the error to clear")


@needs_proc
def test_a_replacement_worker_catches_up_before_it_serves(server: Server) -> None:
    newest = status(server)["newest_good_set"]["fingerprint"]
    victim = server.workers()[0]
    os.kill(victim, signal.SIGKILL)  # its replacement forks from the master, which still holds 1.0.0 only
    wait_for(lambda: len(server.workers()) == 2 and victim not in server.workers(), "a replacement worker")
    wait_for(lambda: converged_on(server, newest) and victim not in {w["pid"] for w in status(server)["workers"]},
             "the replacement to publish the newest set")
    assert {version(server) for _ in range(20)} == {"1.1.0"}
    code, text = server.request("GET", "/metrics", role="admin")
    assert code == 200 and 'attendance_policy_reloads_total{outcome="failed",trigger="sighup"} 2' in text
