"""The service on a PostgreSQL decision log, in process: decisions and audit reads, 503 while the database is
down, pins shared between replicas, and `/v1/status` listing every live replica with what it serves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask

from api.log.postgres import PostgresStore
from support.lifecycle import activate, lifecycle, status, version_of, write_version
from support.live import wait_for
from support.pg import Cluster
from support.service import auth, decide, facts


def _replica(make: Callable[..., Flask], url: str, port: int) -> Flask:
    return make({"decision_log": {"url": url}, "server": {"port": port}})


def test_decisions_are_logged_and_read_back(make: Callable[..., Flask], pg_url: str) -> None:
    client = _replica(make, pg_url, 9001).test_client()
    ids = [decide(client, {"facts": facts(f"sess-{i}")})["decision_id"] for i in range(3)]
    page = client.get("/v1/decisions?session_id=sess-1", headers=auth("audit")).get_json()
    assert [d["decision_id"] for d in page["items"]] == [ids[1]]
    one = client.get(f"/v1/decisions/{ids[2]}", headers=auth("audit"))
    assert one.status_code == 200 and one.get_json()["session_id"] == "sess-2"
    store = PostgresStore(pg_url)
    try:
        assert [store.get(i) is not None for i in ids] == [True] * 3
    finally:
        store.close()
    assert client.get("/readyz").get_json()["checks"]["decision_log"] == "ok"


def test_database_down_means_503_no_decision_and_not_ready(make: Callable[..., Flask], pg_url: str,
                                                          pg_cluster: Cluster) -> None:
    client = _replica(make, pg_url, 9002).test_client()
    decide(client)
    pg_cluster.stop("fast")
    try:
        resp = client.post("/v1/decisions", json={"facts": facts("sess-down")}, headers=auth("evaluate"))
        assert resp.status_code == 503 and resp.get_json()["code"] == "decision_log_unavailable"
        assert "decision_id" not in resp.get_json()
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["checks"]["decision_log"].startswith("not writable")
    finally:
        pg_cluster.start()
    wait_for(lambda: client.get("/readyz").status_code == 200, "the replica to be ready again")
    decide(client, {"facts": facts("sess-up")})
    page = client.get("/v1/decisions", headers=auth("audit")).get_json()
    assert [d["session_id"] for d in page["items"]] == ["sess-t1", "sess-up"]


def test_a_pin_through_one_replica_is_in_force_on_the_other(make: Callable[..., Flask], pg_url: str,
                                                           rules: Path) -> None:
    write_version(rules, "1.1.0", "2026-02-01")
    a, b = (_replica(make, pg_url, port).test_client() for port in (9003, 9004))
    assert version_of(a) == version_of(b) == "1.1.0"
    activate(a, "1.0.0")
    wait_for(lambda: version_of(b) == "1.0.0", "the pin to reach the other replica")
    listed = status(b)["replicas"]
    assert listed["converged"] is True and listed["problems"] == []
    by_replica = {r["replica"].rsplit(":", 1)[1]: r for r in listed["live"]}
    assert sorted(by_replica) == ["9003", "9004"]
    for r in by_replica.values():
        (worker,) = r["workers"]
        assert worker["active"] == {"couples-attendance": "1.0.0"} and worker["pins"] == {"couples-attendance": "1.0.0"}
        assert worker["versions"] == ["couples-attendance@1.0.0", "couples-attendance@1.1.0"]


def test_status_names_a_replica_that_serves_another_policy_set(make: Callable[..., Flask], pg_url: str,
                                                              rules: Path, tmp_path: Path) -> None:
    a = _replica(make, pg_url, 9005)
    write_version(rules, "1.1.0", "2026-02-01")
    b = _replica(make, pg_url, 9006)  # started later, with one more version: the newest set
    status(b.test_client())
    listed: Any = status(a.test_client())["replicas"]
    assert listed["converged"] is False
    (problem,) = listed["problems"]
    assert problem.startswith(f"replica {lifecycle(a).replicas.replica} worker ") and "not the newest" in problem
    flags = {r["replica"]: r["converged"] for r in listed["live"]}
    assert flags == {lifecycle(a).replicas.replica: False, lifecycle(b).replicas.replica: True}


def test_on_sqlite_there_is_no_replica_list(make: Callable[..., Flask]) -> None:
    assert status(make().test_client())["replicas"] is None
