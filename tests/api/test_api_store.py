"""The decision log on both backends (SQLite, and PostgreSQL on a throwaway cluster): one suite, then each one's own."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.log.postgres import PostgresStore
from api.log.redaction import REDACTED, redact
from api.log.sqlite import SQLiteStore
from api.log.sqlite_schema import SCHEMA_VERSION
from api.log.store import DecisionStore, LogEntry, Query, to_micros
from engine.core.errors import StoreError


def _entry(i: int, session: str = "s") -> LogEntry:
    return LogEntry(f"d-{i}", f"2026-06-01T12:00:{i:02d}Z", "p", "1.0.0", "0" * 64, session, "k", f"r-{i}",
                    {"session": {"id": session}}, {"decision_id": f"d-{i}"})


def _open(kind: str, where: str) -> DecisionStore:
    """A store of `kind` on `where`: a second one on the same log stands for another worker or replica."""
    if kind == "sqlite":
        return SQLiteStore(where, busy_timeout_ms=50)
    return PostgresStore(where, timeout_ms=2000)


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[DecisionStore, Any]]:
    """Each backend in turn, migrated, with a factory for a second store on the same log."""
    where = str(tmp_path / "sub" / "log.sqlite3") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    opened: list[DecisionStore] = []

    def another() -> DecisionStore:
        opened.append(_open(request.param, where))
        return opened[-1]

    s = another()
    s.migrate()
    yield s, another
    for o in opened:
        o.close()


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = SQLiteStore(str(tmp_path / "sub" / "log.sqlite3"), busy_timeout_ms=50)
    s.migrate()
    yield s
    s.close()


def _pragma(path: str, name: str) -> Any:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


# ---- both backends -----------------------------------------------------------------------------------------


def test_append_get_query(any_store: Any) -> None:
    store, _ = any_store
    store.migrate()  # idempotent
    store.append([_entry(i, "a" if i % 2 else "b") for i in range(5)])
    record = store.get("d-3")
    assert record is not None and record.entry == _entry(3, "a") and record.seq == 4
    assert store.get("nope") is None
    page = store.query(Query(session_id="b", limit=2))
    assert [r.entry.decision_id for r in page.records] == ["d-0", "d-2"] and page.last_seq == 3
    rest = store.query(Query(session_id="b", limit=2, after_seq=3))
    assert [r.entry.decision_id for r in rest.records] == ["d-4"] and rest.last_seq is None
    window = store.query(Query(since_us=to_micros("2026-06-01T12:00:01Z"), until_us=to_micros("2026-06-01T12:00:03Z")))
    assert [r.entry.decision_id for r in window.records] == ["d-1", "d-2"]


def test_a_failed_batch_commits_nothing(any_store: Any) -> None:
    store, _ = any_store
    store.append([_entry(1)])
    with pytest.raises(StoreError, match="UNIQUE constraint failed|duplicate key value"):
        store.append([_entry(2), _entry(1)])
    assert store.get("d-2") is None
    store.append([_entry(2)])  # the connection recovered
    assert store.get("d-2") is not None


def test_another_process_reads_what_one_wrote_and_probes(any_store: Any) -> None:
    store, another = any_store
    other = another()
    store.append([_entry(1)])
    other.append([_entry(2)])
    assert [r.entry.decision_id for r in other.query(Query()).records] == ["d-1", "d-2"]
    store.probe()
    other.probe()


def test_pins_and_their_history(any_store: Any) -> None:
    store, another = any_store
    other = another()
    before, pins = other.pins()
    assert pins == {} and other.pins_version() == before
    pin = store.set_pin("p", "1.0.0", "k1", "r1")
    assert pin is not None and pin.version == "1.0.0"
    version, pins = other.pins()
    assert version > before and pins["p"].version == "1.0.0" and pins["p"].pinned_by == "k1"
    assert store.set_pin("p", None, "k2", "r2") is None
    later, pins = other.pins()
    assert later > version and pins == {}
    history = other.activations("p")
    assert [(a.version, a.key_id) for a in history] == [(None, "k2"), ("1.0.0", "k1")]
    assert other.activations("p", limit=1)[0].key_id == "k2" and other.activations("q") == []


def test_purge_deletes_only_older_decisions_and_seqs_are_not_reused(any_store: Any) -> None:
    store, _ = any_store
    store.append([_entry(i) for i in range(5)])
    assert store.purge(to_micros("2026-06-01T12:00:03Z")) == 3
    assert [r.entry.decision_id for r in store.query(Query()).records] == ["d-3", "d-4"]
    assert store.purge(to_micros("2026-06-01T12:00:03Z")) == 0
    store.append([_entry(9)])
    assert store.get("d-9").seq == 6  # type: ignore[union-attr]


def test_after_a_fork_the_child_opens_its_own_connections(any_store: Any) -> None:
    import os

    store, _ = any_store
    store.append([_entry(1)])
    assert store.get("d-1") is not None  # the parent holds its connections
    store.pins_version()
    pid = os.fork()
    if pid == 0:  # the child: the inherited objects are the parent's, so it must open its own
        code = 1
        try:
            store.append([_entry(2)])
            code = 0 if store.get("d-2") is not None and store.pins_version() == 0 else 3
            store.close()  # closes only what the child opened
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    store.append([_entry(3)])  # the parent's connections still work
    assert store.get("d-2") is not None and store.get("d-3") is not None


# ---- SQLite ----------------------------------------------------------------------------------------------


def test_schema_is_created_once_and_versioned(store: SQLiteStore) -> None:
    store.migrate()  # idempotent
    assert _pragma(store.path, "user_version") == SCHEMA_VERSION
    assert _pragma(store.path, "journal_mode") == "wal"


def test_newer_schema_is_refused(store: SQLiteStore) -> None:
    conn = sqlite3.connect(store.path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="upgrade the service, do not downgrade the log"):
        store.migrate()


def test_unopenable_path(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite3").mkdir()
    with pytest.raises(StoreError, match="cannot open the decision log"):
        SQLiteStore(str(tmp_path / "dir.sqlite3")).migrate()


@pytest.mark.parametrize(("text", "micros"), [
    ("1970-01-01T00:00:00Z", 0),
    ("1970-01-01T00:00:01.5Z", 1_500_000),
    ("1970-01-01T01:00:00+01:00", 0),
    ("2026-06-01T12:00:00.000001z", 1_780_315_200_000_001),
])
def test_to_micros(text: str, micros: int) -> None:
    assert to_micros(text) == micros


@pytest.mark.parametrize("text", ["2026-06-01T12:00:00", "2026-06-01 nonsense", ""])
def test_to_micros_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        to_micros(text)


def test_redact_copies_and_covers_conditions() -> None:
    facts = {"session": {"id": "s", "scheduled_start": "2026-06-01T12:00:00Z"}, "attendance": {"partners_present": 1}}
    decision = {"recommendations": [{"matched": [
        {"fact": "attendance.partners_present", "actual": 1, "expected": 2, "other_fact": "attendance.partners_expected"},
        {"fact": "session.type", "actual": "couples", "expected": "couples"}]}],
        "not_fired": [{"failed": {"fact": "attendance.partners_present", "actual": 1, "expected": 0}},
                      {"failed": None}]}
    f2, d2 = redact(facts, decision, ["attendance.partners_present", "attendance.partners_expected"])
    assert f2["attendance"]["partners_present"] == REDACTED and facts["attendance"]["partners_present"] == 1
    matched = d2["recommendations"][0]["matched"]
    assert (matched[0]["actual"], matched[0]["expected"]) == (REDACTED, REDACTED)
    assert matched[1]["actual"] == "couples"
    assert d2["not_fired"][0]["failed"]["actual"] == REDACTED
    assert decision["recommendations"][0]["matched"][0]["actual"] == 1
    assert redact(facts, decision, []) == (facts, decision)


def _in_thread(fn: Any) -> Any:
    import threading

    done = threading.Event()
    t = threading.Thread(target=lambda: (fn(), done.set()), daemon=True)
    t.start()
    return t, done


def test_writers_of_two_processes_queue_on_the_kernel_lock(store: SQLiteStore) -> None:
    # Two stores on one file stand for two worker processes (flock is per open file): while one holds the
    # writer lock the other's append waits (it does not fail after the 50 ms busy timeout), then succeeds.
    import time

    other = SQLiteStore(store.path, busy_timeout_ms=50)
    try:
        with store._write():
            t, done = _in_thread(lambda: other.append([_entry(1)]))
            assert not done.wait(0.3)  # six busy timeouts later, still queued
        t.join(5)
        assert done.is_set() and store.get("d-1") is not None
        started = time.monotonic()
        other.append([_entry(2)])  # the lock is free again at once
        assert time.monotonic() - started < 5
    finally:
        other.close()


def test_a_read_does_not_wait_for_a_commit_in_progress(store: SQLiteStore) -> None:
    store.append([_entry(1)])
    with store._write():  # a commit holding the writer (its fsync, say)
        t, done = _in_thread(lambda: store.get("d-1"))
        assert done.wait(5)


def test_a_pin_is_seen_by_another_process_at_once_and_without_the_marker_within_a_second(
        store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import api.log.sqlite as mod

    other = SQLiteStore(store.path, busy_timeout_ms=50)
    try:
        before = other.pins_version()
        assert other.pins_version() == before  # answered from the marker, no change
        store.set_pin("p", "1.0.0", "k", "r")
        assert other.pins_version() > before  # the marker grew: read again at once
        seen = other.pins_version()
        # A marker that cannot be written: the pin still holds, and the periodic read finds it.
        monkeypatch.setattr(mod.os, "write", lambda fd, data: (_ for _ in ()).throw(OSError(28, "No space left")))
        store.set_pin("p", None, "k", "r")
        monkeypatch.undo()
        assert other.pins_version() == seen  # within the recheck interval: the cached number
        monkeypatch.setattr(mod, "_PINS_RECHECK_S", 0.0)
        assert other.pins_version() > seen
    finally:
        other.close()


def test_a_broken_reader_is_dropped_and_the_next_read_reopens(store: SQLiteStore) -> None:
    store.append([_entry(1)])
    assert store.get("d-1") is not None
    store._local.reader.conn.close()  # a connection that went bad under this thread
    with pytest.raises(StoreError, match="decision log error"):
        store.get("d-1")
    assert store.get("d-1") is not None  # a fresh connection, still serving
    assert len(store._readers) == 1


def test_a_writer_lock_that_cannot_be_taken_is_a_store_error(store: SQLiteStore,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import api.log.sqlite as mod

    def refuse(fd: int, op: int) -> None:
        if op == mod.fcntl.LOCK_EX:
            raise OSError(37, "No locks available")

    monkeypatch.setattr(mod.fcntl, "flock", refuse)
    with pytest.raises(StoreError, match="cannot lock the decision log"):
        store.append([_entry(1)])
    monkeypatch.undo()
    store.append([_entry(2)])
    assert store.get("d-1") is None and store.get("d-2") is not None


def test_a_thread_that_ends_takes_its_reader_with_it(store: SQLiteStore) -> None:
    import gc
    import os
    import threading

    store.append([_entry(1)])
    assert store.get("d-1") is not None

    def wal_descriptors() -> int:
        """This process's descriptors on the log's WAL: one per open connection. (SQLite may keep a closed
        connection's descriptor on the database file for reuse, a number that depends on timing; never on the WAL.)"""
        targets = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                targets.append(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:
                pass  # the descriptor of the listing itself
        return targets.count(f"{store.path}-wal")

    def round_of_threads() -> int:
        threads = [threading.Thread(target=store.get, args=("d-1",)) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        gc.collect()
        return wal_descriptors()

    first = round_of_threads()
    assert len(store._readers) == 1  # this thread's own: each other reader was freed with its thread
    assert 1 <= first <= 3  # this thread's reader's (the writer's, and WalSync's): the 20 others were closed
    assert round_of_threads() == round_of_threads() == first
