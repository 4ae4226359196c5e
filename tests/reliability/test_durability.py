"""Durability: a full disk or a read-only log yields 503s, never a decision that was not logged nor a crash;
kill -9 of a worker and then of the whole server loses no acknowledged decision (a short run of
scripts/crash_durability.py).

Faults, three ways: SQLite's own limits in process (`PRAGMA max_page_count` for a full log,
`PRAGMA query_only` for a read-only one); the kernel refusing the live workers' writes
(RLIMIT_FSIZE lowered on the running workers: every write past byte 1 fails with EFBIG, as
on a full disk, logs included); and, in scripts/disk_faults.py (root only), a real full tmpfs
and a read-only remount.
"""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from api import create_app
from api.log.sqlite import SQLiteStore
from support.live import LiveServer, wait_for
from support.logdb import integrity_check, logged_counts
from support.scripts import script_json
from support.service import RULES, facts

needs_proc = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads worker pids in /proc")


class FaultyStore(SQLiteStore):
    """The real store, whose connections can be made full or read-only (each reopened connection too)."""

    fault: str | None = None

    def _open(self) -> sqlite3.Connection:
        conn = super()._open()
        if self.fault == "full":
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")  # not one page more: SQLITE_FULL
        elif self.fault == "read-only":
            conn.execute("PRAGMA query_only = 1")  # SQLITE_READONLY on every write
        return conn

    def set_fault(self, fault: str | None) -> None:
        self.fault = fault
        self.close()  # the next request opens a connection with the fault


@pytest.fixture
def faulty(engine: Any, tmp_path: Path) -> Iterator[tuple[Flask, FaultyStore]]:
    store = FaultyStore(str(tmp_path / "log.sqlite3"))
    store.migrate()
    app = create_app({"policies": {"rules": [RULES]}, "decision_log": {"path": store.path}}, engine=engine,
                     store=store)
    yield app, store
    app.extensions["attendance_policy"].close()


def _count(path: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM decisions").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_a_log_that_cannot_be_written_gives_503s_and_no_decision(faulty: tuple[Flask, FaultyStore],
                                                                  fault: str) -> None:
    app, store = faulty
    client = app.test_client()
    first = client.post("/v1/decisions", json={"facts": facts("before")})
    assert first.status_code == 200
    store.set_fault(fault)
    for path, body in (("/v1/decisions", {"facts": facts("during"), "explain": True}),
                       ("/v1/decisions:batch", {"items": [{"facts": facts(f"during-{i}"), "explain": True}
                                                          for i in range(20)]})):
        resp = client.post(path, json=body)
        problem = resp.get_json()
        assert (resp.status_code, problem["code"]) == (503, "decision_log_unavailable"), problem
        assert resp.headers["Retry-After"] == "5"
        assert "decision_id" not in resp.get_data(as_text=True)  # no decision was made
    for _ in range(3):  # for as long as commits fail (a full log too: the probe must find room for new pages)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["checks"]["decision_log"].startswith("not writable")
    assert client.get(f"/v1/decisions/{first.get_json()['decision_id']}").status_code == 200  # reads go on
    assert _count(store.path) == 1
    store.set_fault(None)
    after = client.post("/v1/decisions", json={"facts": facts("after")})
    assert after.status_code == 200 and client.get("/readyz").status_code == 200
    assert _count(store.path) == 2
    assert integrity_check(Path(store.path)) == "ok"


Serve = Callable[..., AbstractContextManager[LiveServer]]


@pytest.fixture
def fault_server(serve_like_live: Serve, tmp_path: Path) -> Iterator[LiveServer]:
    with serve_like_live(tmp_path / "disk-full", rules=[RULES]) as server:
        yield server


@needs_proc
def test_live_workers_that_cannot_write_answer_503_and_recover(fault_server: LiveServer) -> None:
    server = fault_server
    before = [server.decide(f"fsize-ok-{i}") for i in range(5)]
    workers = server.worker_pids()
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    for pid in workers:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, hard))  # every write past byte 1 fails: EFBIG
    try:
        for i in range(6):  # both workers, single and batch
            path, body = (("/v1/decisions", {"facts": facts(f"fsize-{i}")}) if i % 2 else
                          ("/v1/decisions:batch", {"items": [{"facts": facts(f"fsize-b{i}")}]}))
            status, problem = server.call("POST", path, body, role="evaluate")
            assert (status, problem["code"]) == (503, "decision_log_unavailable"), problem
        status, ready = server.call("GET", "/readyz")
        assert status == 503 and ready["code"] == "not_ready"
    finally:
        for pid in workers:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))
    after = [server.decide(f"fsize-after-{i}") for i in range(4)]
    assert server.call("GET", "/readyz")[0] == 200
    assert server.worker_pids() == workers  # nobody crashed
    assert set(logged_counts(server.database, before + after).values()) == {1}
    assert integrity_check(server.database) == "ok"


@needs_proc
def test_kill_9_of_a_worker_and_of_the_server_loses_no_acknowledged_decision() -> None:
    status, report = script_json("crash_durability.py", "--cycles", "1", "--seconds", "2", "--clients", "4")
    (cycle,) = report["cycles"]
    assert status == 0, report
    assert cycle["acknowledged"] > 0 and cycle["missing_from_log"] == 0 and cycle["missing_from_api"] == 0
    assert cycle["integrity_after_crash"] == cycle["integrity_after_restart"] == "ok"
    assert cycle["ready_after_restart"] and cycle["restart_log_clean"]


@needs_proc
def test_a_master_that_cannot_write_survives_a_worker_exit(serve_like_live: Serve, tmp_path: Path) -> None:
    """D12: with its disk full, the master's child_exit hook raised OSError (metrics `retire`) out of gunicorn's
    main loop: the first worker to crash or be recycled stopped the whole service (exit 255)."""
    with serve_like_live(tmp_path, rules=[RULES]) as server:
        master = server.master
        victim, other = server.worker_pids()
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.prlimit(master.pid, resource.RLIMIT_FSIZE, (1, hard))  # the master can write nothing
        try:
            os.kill(victim, signal.SIGKILL)
            deadline = time.monotonic() + 30
            while (victim in server.worker_pids() or len(server.worker_pids()) < 2) and time.monotonic() < deadline:
                assert master.poll() is None, "the master exited"
                time.sleep(0.05)
        finally:
            for pid in [master.pid, *server.worker_pids()] if master.poll() is None else []:
                resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))  # the new worker inherited the limit
        assert master.poll() is None
        assert len(server.worker_pids()) == 2 and victim not in server.worker_pids() and other in server.worker_pids()
        assert server.decide("after-master-fault")


@needs_proc
def test_a_server_started_on_a_full_disk_answers_503_then_recovers_by_itself(tmp_path: Path) -> None:
    """Issue 15: a start on a full disk exited 2 ("cannot open the decision log"): no service and no reason given.
    Now it starts, `/readyz` and decisions answer 503 with the reason, and it is ready once writes succeed."""
    server = LiveServer.create(tmp_path)
    server.start()
    before = server.decide("before-full-start")
    server.stop()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1, hard))  # inherited by the server started now: no write succeeds
    try:
        server.start(quiet=True, ready=False)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    try:
        for _ in range(4):  # both workers
            status, ready = server.call("GET", "/readyz")
            assert status == 503 and ready["checks"]["decision_log"].startswith("not writable: "), ready
            status, problem = server.call("POST", "/v1/decisions", {"facts": facts("during")}, role="evaluate")
            assert (status, problem["code"]) == (503, "decision_log_unavailable"), problem
        workers = server.worker_pids()
        for pid in [server.master.pid, *workers]:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))
        wait_for(lambda: server.call("GET", "/readyz")[0] == 200, "readiness after the disk has room", timeout=30)
        after = [server.decide(f"after-full-start-{i}") for i in range(4)]
        assert server.worker_pids() == workers
    finally:
        assert server.stop() == 0
    assert set(logged_counts(server.database, [before, *after]).values()) == {1}
    assert integrity_check(server.database) == "ok"
