"""The PostgreSQL decision log's own guarantees, on a throwaway cluster: migrations, durability, pins, heartbeats."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import api.log.postgres as pg
from api.log.postgres import PostgresStore
from api.log.postgres_schema import SCHEMA_VERSION
from api.log.store import Heartbeat, LogEntry, Query
from engine.core.errors import StoreError
from support.live import free_port, wait_for
from support.pg import Cluster


def _entry(i: int) -> LogEntry:
    return LogEntry(f"d-{i}", "2026-06-01T12:00:00Z", "p", "1.0.0", "0" * 64, f"s-{i % 3}", "k", f"r-{i}",
                    {"session": {"id": f"s-{i % 3}"}}, {"decision_id": f"d-{i}"})


@pytest.fixture
def stores(pg_url: str) -> Iterator[Any]:
    """Stores on one fresh database (each stands for a worker of some replica), closed afterwards."""
    opened: list[PostgresStore] = []

    def make(url: str = pg_url, **kw: Any) -> PostgresStore:
        opened.append(PostgresStore(url, **{"timeout_ms": 2000, **kw}))
        return opened[-1]

    yield make
    for s in opened:
        s.close()


def _db(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_replicas_starting_together_migrate_once(stores: Any, pg_cluster: Cluster, pg_url: str) -> None:
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            stores().migrate()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=migrate) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    rows = pg_cluster.sql("SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version",
                          _db(pg_url))
    assert rows == [(v, 1) for v in range(1, SCHEMA_VERSION + 1)]


def test_a_schema_newer_than_this_release_is_refused(stores: Any, pg_cluster: Cluster, pg_url: str) -> None:
    stores().migrate()
    pg_cluster.sql(f"INSERT INTO schema_migrations (version, name, sha256) VALUES ({SCHEMA_VERSION + 1}, 'x', 'y')",
                   _db(pg_url))
    with pytest.raises(StoreError, match="upgrade the service, do not downgrade the log"):
        stores().migrate()


def test_every_connection_commits_synchronously_whatever_the_database_default(
        stores: Any, pg_cluster: Cluster, pg_url: str) -> None:
    pg_cluster.sql(f"ALTER DATABASE {_db(pg_url)} SET synchronous_commit = off")
    store = stores()
    store.migrate()
    assert store._run(lambda c: c.execute("SHOW synchronous_commit").fetchone()[0]) == "on"


def test_an_unreachable_database_is_a_store_error_without_a_decision(stores: Any) -> None:
    store = stores(f"postgresql://nobody@127.0.0.1:{free_port()}/none", timeout_ms=300)
    with pytest.raises(StoreError, match="cannot migrate the decision log"):
        store.migrate()
    for call in (lambda: store.append([_entry(1)]), store.probe, store.pins_version):
        with pytest.raises(StoreError, match="cannot reach the decision log"):
            call()


def test_a_reader_following_the_cursor_never_skips_a_row_committed_late(stores: Any) -> None:
    writer_a, writer_b, reader = stores(), stores(), stores()
    writer_a.migrate()
    done = threading.Event()

    def write(store: PostgresStore, start: int) -> None:
        for i in range(start, start + 150, 3):
            store.append([_entry(i), _entry(i + 1), _entry(i + 2)])

    threads = [threading.Thread(target=write, args=(w, n)) for w, n in ((writer_a, 0), (writer_b, 1000))]
    for t in threads:
        t.start()
    seen: list[str] = []
    after = 0
    while True:
        finished = done.is_set()
        page = reader.query(Query(after_seq=after, limit=7))
        seen += [r.entry.decision_id for r in page.records]
        after = page.records[-1].seq if page.records else after
        if finished and not page.records:
            break
        if not any(t.is_alive() for t in threads):
            done.set()
    assert sorted(seen) == sorted({f"d-{i}" for n in (0, 1000) for i in range(n, n + 150)})
    assert len(seen) == len(set(seen))


def test_a_pin_reaches_another_replica_by_notify_without_waiting_for_the_poll(
        stores: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg, "RECHECK_S", 3600.0)  # only a notification can make `other` read again
    store, other = stores(), stores()
    store.migrate()
    before = other.pins_version()
    wait_for(lambda: other._listener is not None and other._listener.connected, "the listener to connect")
    other.pins_version()  # whatever the (re)connection flagged
    assert other.pins_version() == before  # cached
    store.set_pin("p", "1.0.0", "k", "r")
    wait_for(lambda: other.pins_version() > before, "the NOTIFY to arrive")


def test_without_notifications_the_poll_still_finds_the_pin(stores: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    store, other = stores(), stores()
    store.migrate()
    before = other.pins_version()
    monkeypatch.setattr(pg.PinsListener, "take", lambda self: False)  # notifications lost
    store.set_pin("p", "1.0.0", "k", "r")
    assert other.pins_version() == before  # within RECHECK_S: the cached number
    monkeypatch.setattr(pg, "RECHECK_S", 0.0)
    assert other.pins_version() > before


def test_heartbeats_list_live_workers_and_forget_stopped_ones(stores: Any, pg_cluster: Cluster, pg_url: str) -> None:
    store = stores()
    store.migrate()
    store.heartbeat(Heartbeat("h:1", 10, {"fingerprint": "a"}))
    store.heartbeat(Heartbeat("h:2", 20, {"fingerprint": "a"}))
    store.heartbeat(Heartbeat("h:1", 10, {"fingerprint": "b"}))  # the same worker again: one row, updated
    beats = store.heartbeats(60)
    assert [(b.replica, b.pid, b.state) for b in beats] == [("h:1", 10, {"fingerprint": "b"}),
                                                           ("h:2", 20, {"fingerprint": "a"})]
    assert beats[0].at.endswith("Z")
    store.forget("h:1", 10)
    pg_cluster.sql("UPDATE replicas SET heartbeat_at = now() - interval '1 minute'", _db(pg_url))
    assert store.heartbeats(60) == [] and [b.pid for b in store.heartbeats(120)] == [20]


def test_a_restarted_server_costs_nothing_acknowledged_and_the_pool_recovers(stores: Any, pg_cluster: Cluster) -> None:
    store = stores()
    store.migrate()
    store.append([_entry(1)])
    pg_cluster.stop("immediate")  # a crash: only what was flushed survives
    try:
        with pytest.raises(StoreError):
            store.append([_entry(2)])
    finally:
        pg_cluster.start()
    store.append([_entry(3)])  # the dead pooled connection is replaced without an error
    assert store.get("d-1") is not None and store.get("d-3") is not None and store.get("d-2") is None
