"""WalSync: a commit returns only after an fsync of the WAL that began after it; one fsync serves every process."""

from __future__ import annotations

import errno
import multiprocessing
import os
import resource
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.log import walsync
from api.log.groupcommit import GroupCommit
from api.log.sqlite import SQLiteStore
from api.log.store import LogEntry
from api.log.walsync import WalSync
from engine.core.errors import StoreError


def entry(decision_id: str) -> LogEntry:
    return LogEntry(decision_id, "2026-06-01T12:00:00Z", "p", "1.0.0", "0" * 64, "s-1", "k", "r-1",
                    {"session": {"id": "s-1"}}, {"recommendations": []})


class FsyncCount:
    """os.fsync as the module calls it, counted per file (by inode)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail: bool = False) -> None:
        self.inodes: list[int] = []
        self.fail = fail
        real = os.fsync

        def fsync(fd: int) -> None:
            self.inodes.append(os.fstat(fd).st_ino)
            if self.fail:
                raise OSError(errno.EIO, "Input/output error")
            real(fd)

        monkeypatch.setattr(walsync.os, "fsync", fsync)


@pytest.fixture
def wal_db(tmp_path: Path) -> Iterator[str]:
    """A database in WAL mode with one committed row and the counters file, as `migrate` leaves it; its
    connection stays open meanwhile, so the WAL stays."""
    path = str(tmp_path / "log.sqlite3")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (1)")
    WalSync.create(path)
    yield path
    conn.close()


def test_one_fsync_covers_every_commit_counted_before_it(wal_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = wal_db
    count = FsyncCount(monkeypatch)
    first, second = WalSync(path), WalSync(path)  # two processes' views: descriptors and locks of their own
    t1, t2 = first.ticket(), second.ticket()
    second.durable(t2)
    first.durable(t1)  # covered by the other's fsync, which began after this commit was counted
    assert count.inodes == [os.stat(path + "-wal").st_ino]
    t3 = first.ticket()
    first.durable(t3)  # counted after that fsync began: a fsync of its own
    assert len(count.inodes) == 2
    assert WalSync.counters(path) == (3, 3, 2)


def test_without_the_counters_file_every_commit_syncs_on_its_own(wal_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = wal_db
    os.remove(path + ".sync")
    count = FsyncCount(monkeypatch)
    sync = WalSync(path)
    for _ in range(3):
        assert sync.ticket() == 0
        sync.durable(0)
    assert len(count.inodes) == 3


def test_a_replaced_wal_is_reopened_and_a_missing_one_syncs_the_database(wal_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = wal_db
    count = FsyncCount(monkeypatch)
    sync = WalSync(path)
    sync.durable(sync.ticket())
    old = os.stat(path + "-wal").st_ino
    os.rename(path + "-wal", path + "-old")  # the WAL replaced while this process held it open
    Path(path + "-wal").write_bytes(os.urandom(64))
    new = os.stat(path + "-wal").st_ino
    sync.durable(sync.ticket())
    os.remove(path + "-wal")  # no WAL: everything was checkpointed into the database
    sync.durable(sync.ticket())
    assert count.inodes == [old, new, os.stat(path).st_ino]


def test_a_failed_fsync_fails_the_write_and_is_tried_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SQLiteStore(str(tmp_path / "log.sqlite3"))
    store.migrate()
    count = FsyncCount(monkeypatch, fail=True)
    with pytest.raises(StoreError, match="cannot sync the log to disk"):
        store.append([entry("d-1")])
    count.fail = False
    store.append([entry("d-2")])  # the failed sync did not count as done: this one syncs again
    issued, synced, fsyncs = WalSync.counters(store.path)
    assert (issued, synced, fsyncs) == (2, 2, 1)
    assert len(count.inodes) == 2
    store.close()


def _append(path: str, prefix: str, threads: int, each: int) -> None:
    store = SQLiteStore(path)
    committer = GroupCommit(store.append)

    def run(t: int) -> None:
        for i in range(each):
            committer.submit([entry(f"{prefix}-{t}-{i}")])

    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    store.close()


def test_processes_and_threads_all_end_synced(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "log.sqlite3"))
    store.migrate()
    store.append([entry("d-parent")])  # the parent holds descriptors its children inherit and must not use
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append, args=(store.path, f"p{n}", 3, 20)) for n in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT count(*) FROM decisions").fetchone()[0] == 1 + 3 * 3 * 20
    issued, synced, fsyncs = WalSync.counters(store.path)
    assert issued == synced  # every commit's ticket was covered before its caller returned
    assert 0 < fsyncs <= issued
    store.close()


def test_a_log_migrated_by_its_first_write_after_a_full_disk_start_shares_fsyncs(tmp_path: Path) -> None:
    """A start on a full disk leaves the migration to the first write; that write also makes what migrate() makes
    (the shared fsync counters, the pins marker), or every later commit took its own fsync and every request read
    the pins from the log."""
    path = str(tmp_path / "log.sqlite3")
    store = SQLiteStore(path)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1, hard))  # no write succeeds (EFBIG; Python ignores SIGXFSZ)
    try:
        store.migrate()  # the service starts anyway
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert not os.path.exists(path + ".sync") and not os.path.exists(path + ".pins")
    store.append([entry("d-1")])
    store.append([entry("d-2")])
    assert WalSync.counters(path) == (2, 2, 2)  # both commits counted and covered by the shared counters
    assert os.path.exists(path + ".pins") and store.pins_version() == 0
    store.close()
