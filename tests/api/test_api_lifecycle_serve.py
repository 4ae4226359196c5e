"""The policy lifecycle in the real server: gunicorn, 2 workers, reload by API and SIGHUP, pins, a replaced worker.

The poller is slowed to a minute here, so what makes the workers converge is what
is under test: `POST /v1/admin/reload` (the master forwards it to every worker as
SIGHUP), a SIGHUP sent to the master, and a new worker catching up as it starts.
Each test has a server of its own over its own rules (1.0.0 only) and sets up the rest itself.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.lifecycle import write_version
from support.live import LiveServer, serving, wait_for
from support.metrics import sample
from support.service import TOKENS, facts

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gunicorn needs a POSIX system")
needs_proc = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads worker pids in /proc")


@pytest.fixture
def server(tmp_path: Path, rules: Path) -> Iterator[LiveServer]:
    """`rules` (conftest.py: the bundled 1.0.0) served by 2 workers that both published their state."""
    with serving(tmp_path / "serve", tokens=TOKENS, rules=[rules], policies={"poll_interval_ms": 60000}) as srv:
        wait_for(lambda: len(status(srv)["workers"]) == 2, "both workers to publish their state")
        yield srv


def status(server: LiveServer) -> dict[str, Any]:
    code, body = server.call("GET", "/v1/status", role="evaluate")
    assert code == 200, body
    return body  # type: ignore[no-any-return]


def converged_on(server: LiveServer, fingerprint: str) -> bool:
    workers = status(server)["workers"]
    return len(workers) == 2 and all(w["fingerprint"] == fingerprint for w in workers)


def version(server: LiveServer) -> str:
    code, body = server.call("POST", "/v1/decisions", {"facts": facts("sess-lc")}, role="evaluate")
    assert code == 200, body
    return str(body["policy"]["version"])


def add_version(server: LiveServer, rules: Path, v: str) -> None:
    """`v` written and reloaded through the API; returns once both workers serve the new set."""
    write_version(rules, v)
    code, outcome = server.call("POST", "/v1/admin/reload", role="admin")
    assert (code, outcome["added"]) == (200, [f"couples-attendance@{v}"]), outcome
    newest = wait_for(lambda: status(server)["newest_good_set"], "the newest good set")["fingerprint"]
    wait_for(lambda: converged_on(server, newest), "both workers to converge")


def sighup_a_broken_file(server: LiveServer, rules: Path) -> Path:
    """A broken 1.2.0 dropped in and the master sent SIGHUP; returns once both workers refused it."""
    broken = write_version(rules, "1.2.0", broken=True)
    server.master.send_signal(signal.SIGHUP)

    def refused() -> bool:
        workers = status(server)["workers"]
        return len(workers) == 2 and all((w["last_error"] or {}).get("trigger") == "sighup" for w in workers)

    wait_for(refused, "both workers to refuse the broken file")
    return broken


def remove_and_sighup(server: LiveServer, broken: Path) -> None:
    broken.unlink()
    server.master.send_signal(signal.SIGHUP)
    wait_for(lambda: all(w["last_error"] is None for w in status(server)["workers"]), "the error to clear")


def test_status_reports_each_worker(server: LiveServer) -> None:
    body = status(server)
    assert body["converged"] is True and body["newest_good_set"] is None and body["problems"] == []
    for worker in body["workers"]:
        assert [(v["version"], len(v["sha256"])) for v in worker["versions"]] == [("1.0.0", 64)]
        assert worker["active"] == {"couples-attendance": "1.0.0"} and worker["last_error"] is None
    assert len({w["pid"] for w in body["workers"]}) == 2
    assert server.call("GET", "/readyz")[0] == 200


def test_reload_while_requests_flow_over_http(server: LiveServer, rules: Path) -> None:
    results: list[tuple[bool, int, str | None]] = []  # (sent after both workers converged, status, version)
    converged, stop = threading.Event(), threading.Event()

    def flow(n: int) -> None:
        i = 0
        while not stop.is_set():
            after = converged.is_set()
            code, body = server.call("POST", "/v1/decisions", {"facts": facts(f"http-flow-{n}-{i}")},
                                     role="evaluate")
            results.append((after, code, body.get("policy", {}).get("version") if code == 200 else str(body)))
            i += 1

    threads = [threading.Thread(target=flow, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(results) >= 80, "decisions before the reload")
        write_version(rules, "1.1.0")
        code, outcome = server.call("POST", "/v1/admin/reload", role="admin")
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


def test_a_pin_made_through_one_worker_holds_in_every_worker(server: LiveServer, rules: Path) -> None:
    add_version(server, rules, "1.1.0")
    code, body = server.call("POST", "/v1/admin/policies/couples-attendance/activate", {"version": "1.0.0"},
                             role="admin")
    assert (code, body["active_version"], body["scheduled_version"]) == (200, "1.0.0", "1.1.0")
    assert {version(server) for _ in range(30)} == {"1.0.0"}
    wait_for(lambda: all(w["pins"] == {"couples-attendance": "1.0.0"} for w in status(server)["workers"]),
             "both workers to show the pin")
    server.call("POST", "/v1/admin/policies/couples-attendance/activate", {"version": None}, role="admin")
    assert {version(server) for _ in range(30)} == {"1.1.0"}


def test_sighup_reloads_every_worker_in_place(server: LiveServer, rules: Path) -> None:
    add_version(server, rules, "1.1.0")
    pids = {w["pid"] for w in status(server)["workers"]}
    broken = sighup_a_broken_file(server, rules)
    body = status(server)
    assert {w["pid"] for w in body["workers"]} == pids  # reloaded in place, not restarted
    assert {w["last_error"]["problems"][0]["file"] for w in body["workers"]} == {str(broken)}
    assert version(server) == "1.1.0" and server.call("GET", "/readyz")[0] == 200  # the good set still serves
    remove_and_sighup(server, broken)


@needs_proc
def test_a_replacement_worker_catches_up_before_it_serves(server: LiveServer, rules: Path) -> None:
    add_version(server, rules, "1.1.0")
    remove_and_sighup(server, sighup_a_broken_file(server, rules))  # one refused reload counted in each worker
    newest = status(server)["newest_good_set"]["fingerprint"]
    victim = server.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)  # its replacement forks from the master, which still holds 1.0.0 only
    wait_for(lambda: len(server.worker_pids()) == 2 and victim not in server.worker_pids(), "a replacement worker")
    wait_for(lambda: converged_on(server, newest) and victim not in {w["pid"] for w in status(server)["workers"]},
             "the replacement to publish the newest set")
    assert {version(server) for _ in range(20)} == {"1.1.0"}
    code, text = server.call("GET", "/metrics", role="admin")
    # both refusals counted, the killed worker's too
    assert code == 200 and sample(text, "attendance_policy_reloads_total", outcome="failed", trigger="sighup") == 2
