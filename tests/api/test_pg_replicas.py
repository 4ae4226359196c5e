"""Replicas behind nginx on one PostgreSQL log: kill -9 one under load, nothing acknowledged is lost, the others
carry the traffic, the killed one rejoins; and PostgreSQL itself restarted under load."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.balancer import running_nginx
from support.live import LiveServer, make_tokens, wait_for
from support.load import Load
from support.pg import Cluster, running_cluster


def _replicas(root: Path, url: str, count: int, **log: object) -> list[LiveServer]:
    tokens = make_tokens()
    return [LiveServer.create(root / f"replica{i}", tokens=tokens, workers=1, decision_log={"url": url, **log},
                              policies={"poll_interval_ms": 500}) for i in range(count)]


def _logged(cluster: Cluster, url: str) -> list[str]:
    return [r[0] for r in cluster.sql("SELECT decision_id FROM decisions", url.rsplit("/", 1)[1])]


@pytest.fixture
def stop_all() -> Iterator[list[LiveServer]]:
    servers: list[LiveServer] = []
    yield servers
    for s in servers:
        s.stop(timeout=20)


@pytest.mark.parametrize("count", [2, 3])
def test_kill_9_one_replica_under_load(tmp_path: Path, pg_cluster: Cluster, pg_url: str,
                                       stop_all: list[LiveServer], count: int) -> None:
    servers = _replicas(tmp_path, pg_url, count)
    stop_all += servers
    for s in servers:
        s.start()
    victim = servers[0]
    with running_nginx(tmp_path / "nginx", [s.port for s in servers]) as port:
        load = Load(port, victim.tokens["evaluate"]).start()
        try:
            wait_for(lambda: load.count(200) >= 30, "decisions through the balancer", timeout=120)
            victim.kill_all()  # master and worker, as a crash would
            killed_at = load.mark()
            wait_for(lambda: load.count(200, killed_at) >= 40, "the survivors to carry the traffic", timeout=120)
            victim.start()
            since = len(victim.log_text())
            wait_for(lambda: any(e.get("decisions") for e in victim.logged_requests(since)),
                     "the restarted replica to get traffic again", timeout=120)
            status, body = servers[-1].call("GET", "/v1/status", role="evaluate")
            assert status == 200
            assert f":{victim.port}" in " ".join(r["replica"] for r in body["replicas"]["live"])
        finally:
            load.stop()
    statuses = {s for s, _ in load.answers}
    # 502 (from nginx), or no answer at all (0): a request in flight on the killed replica; neither acknowledges.
    assert statuses <= {200, 502, 0}, statuses
    logged = _logged(pg_cluster, pg_url)
    assert len(logged) == len(set(logged))
    assert load.acknowledged() - set(logged) == set()  # no decision that got a 200 is missing


def test_postgres_restarted_under_load(tmp_path: Path, stop_all: list[LiveServer]) -> None:
    with running_cluster() as cluster:
        url = cluster.fresh_database()
        (server,) = _replicas(tmp_path, url, 1, busy_timeout_ms=1000)
        stop_all.append(server)
        server.worker_count = 2
        server.start()
        load = Load(server.port, server.tokens["evaluate"]).start()
        try:
            wait_for(lambda: load.count(200) >= 20, "decisions", timeout=120)
            cluster.stop("immediate")  # a crash of the database server: only flushed commits survive
            down = load.mark()
            wait_for(lambda: load.count(503, down) >= 5, "503s while the database is down", timeout=120)
            ready = server.request("GET", "/readyz")
            assert ready.status == 503 and "decision_log" in ready.json()["detail"]
            cluster.start()
            up = load.mark()
            wait_for(lambda: load.count(200, up) >= 20, "the service to recover by itself", timeout=120)
        finally:
            load.stop()
        assert {s for s, _ in load.answers} <= {200, 503}
        assert load.count(200, down) < load.mark() - down  # some were refused meanwhile
        logged = set(_logged(cluster, url))
        assert load.acknowledged() - logged == set()  # none acknowledged without its row
        server.stop(timeout=20)
