"""The decision log in SQLite: WAL, every commit durable before it returns, a writer connection per process.

Gunicorn forks workers; a SQLite connection must never cross a fork (its locks and
file descriptors would be shared by two processes). So the master only opens a
short-lived connection to migrate, and each worker opens its own on first use,
noticed by its pid. Writers of all processes queue on a kernel lock, then take
SQLite's (`BEGIN IMMEDIATE`, with a busy timeout behind it); WAL lets readers go on
meanwhile, each thread on its own connection.
"""

from __future__ import annotations

import datetime as _dt
import errno
import fcntl
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import orjson

from api.log import sqlite_cds
from api.log.sqlite_schema import HOOK_COLUMNS, MIGRATIONS, SCHEMA_VERSION, hook_json, record
from api.log.store import Activation, Feedback, LogEntry, Page, Pin, Query, Record, to_micros
from api.log.walsync import WalSync
from api.pid import pid
from engine.core.errors import StoreError
from engine.core.timefmt import utc_text

__all__ = ["MIN_FREE_BYTES", "SQLiteStore"]

_PINS_RECHECK_S = 1.0
MIN_FREE_BYTES = 1024 * 1024  # less than this on the log's file system: not ready (see probe)
PROBE_BYTES = 64 * 1024  # the new pages the probe must be able to allocate: a few dozen decisions' worth
_FULL = {13, 10}  # SQLITE_FULL, SQLITE_IOERR (its extended codes: a write, an fsync, the -shm file)
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
log = logging.getLogger("attendance_policy.store")


def _out_of_space(e: BaseException) -> bool:
    """A full disk, a quota or a file-size limit: a condition that passes, unlike a read-only or missing log."""
    if isinstance(e, sqlite3.Error):
        return (getattr(e, "sqlite_errorcode", 0) & 0xFF) in _FULL
    return isinstance(e, OSError) and e.errno in _FULL_ERRNOS

def _now() -> str:
    return utc_text(_dt.datetime.now(_dt.UTC), "microseconds")


class SQLiteStore:
    """DecisionStore on one SQLite file shared by every worker process.

    Per process: one writer connection, used under a thread lock and an exclusive `flock` on
    `<path>.writer` (so writers of all processes queue in the kernel and wake the moment the lock is
    free, instead of polling SQLite's busy handler, which sleeps 1, 2, 5, 10... ms), and one reader
    connection per thread (WAL readers never wait for a writer, so a read is not stuck behind a commit's
    fsync). The writer commits without syncing and each write returns once `WalSync` has synced the WAL
    after it, outside both locks: one fsync covers the commits of every process that finished before it.
    """

    def __init__(self, path: str, *, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._lock = threading.Lock()  # the writer connection
        self._registry = threading.Lock()  # the readers, and noticing a fork (taken briefly, never waits on I/O)
        self._writer: sqlite3.Connection | None = None
        self._lockfd = -1
        self._pid = 0
        self._local = threading.local()
        # Weak: a thread's reader lives in its thread-local; when the thread ends the reader is freed and
        # its connection closed, and the registry forgets it (close() closes the ones still alive).
        self._readers: weakref.WeakSet[_Reader] = weakref.WeakSet()
        self._pins_marker = path + ".pins"
        self._pins_seen: tuple[tuple[int, int] | None, float, int] | None = None  # (marker, when, version)
        self._unmigrated = False  # migrate() met a full disk: the first write migrates
        self._sync = WalSync(path)

    def _open(self) -> sqlite3.Connection:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: WAL journal mode is not available (got {mode!r})")
            conn.execute("PRAGMA synchronous = FULL")
        except BaseException:
            conn.close()
            raise
        return conn

    def _forked(self) -> None:
        # After a fork, inherited connections and descriptors belong to the parent: never use or close them.
        with self._registry:
            if self._pid != pid():
                self._writer, self._lockfd, self._local = None, -1, threading.local()
                self._readers = weakref.WeakSet()
                self._sync.reset(inherited=True)
                self._pid = pid()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """The writer connection, with this process's thread lock and the cross-process writer lock held; when
        the block has committed, both locks are released and the commit is made durable before returning."""
        with self._lock:
            self._forked()
            try:
                if self._lockfd < 0:
                    self._lockfd = os.open(self.path + ".writer", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                if self._writer is None:
                    self._writer = self._open()
                    self._writer.execute("PRAGMA synchronous = NORMAL")  # synced by WalSync, outside the locks
            except (sqlite3.Error, OSError) as e:
                raise StoreError(f"cannot open the decision log: {e}") from e
            try:
                fcntl.flock(self._lockfd, fcntl.LOCK_EX)
            except OSError as e:
                raise StoreError(f"cannot lock the decision log: {e}") from e
            try:
                if self._unmigrated:  # started on a full disk: the schema first, then what migrate() makes
                    self._migrate(self._writer)
                    self._side_files()
                    self._unmigrated = False
                yield self._writer
                ticket = self._sync.ticket()
            except (sqlite3.Error, OSError) as e:
                self._discard()
                raise StoreError(f"decision log error: {e}") from e
            except BaseException:
                self._discard()
                raise
            finally:
                fcntl.flock(self._lockfd, fcntl.LOCK_UN)
        try:
            self._sync.durable(ticket)
        except OSError as e:
            raise StoreError(f"decision log error: cannot sync the log to disk: {e}") from e

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """This thread's reader connection (opened on first use, reopened after an error)."""
        reader: _Reader | None = getattr(self._local, "reader", None)
        if reader is None or self._pid != pid():
            self._forked()
            try:
                reader = _Reader(self._open())
            except sqlite3.Error as e:
                raise StoreError(f"cannot open the decision log: {e}") from e
            with self._registry:
                self._readers.add(reader)
            self._local.reader = reader
        try:
            yield reader.conn
        except sqlite3.Error as e:
            self._drop_reader(reader)
            raise StoreError(f"decision log error: {e}") from e
        except BaseException:
            self._drop_reader(reader)
            raise

    def _drop_reader(self, reader: _Reader) -> None:
        self._local.reader = None
        with self._registry:
            self._readers.discard(reader)
        _close(reader.conn)

    def _discard(self) -> None:
        # A writer that failed mid-transaction is rolled back, closed and reopened on next use.
        conn, self._writer = self._writer, None
        if conn is not None:
            _close(conn)

    def migrate(self) -> None:
        """Create or upgrade the schema. On a full disk the service still starts (its probe and every commit
        answer 503 with the reason): the migration is then left to this process's first write, and each worker's."""
        try:
            conn = self._open()
        except sqlite3.Error as e:
            if _out_of_space(e):
                return self._defer_migration(e)
            raise StoreError(f"cannot open the decision log {self.path}: {e}") from e
        try:
            self._migrate(conn)
            self._side_files()
        except (sqlite3.Error, OSError) as e:
            if _out_of_space(e):
                return self._defer_migration(e)
            raise StoreError(f"cannot migrate the decision log {self.path}: {e}") from e
        finally:
            if conn.in_transaction:
                conn.rollback()
            conn.close()

    def _side_files(self) -> None:
        """The pins marker (`pins_version` stats it instead of reading the log) and the shared fsync counters
        (`WalSync`): without them every request reads the pins and every commit takes its own fsync."""
        os.close(os.open(self._pins_marker, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        WalSync.create(self.path)

    def _defer_migration(self, e: BaseException) -> None:
        log.warning("the decision log's disk is full (%s): serving 503 until it has room", e)
        self._unmigrated = True

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")  # one migrator at a time; others wait, then see the new version
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        if current > SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema version {current}; this release knows up to "
                             f"{SCHEMA_VERSION}: upgrade the service, do not downgrade the log")
        for step in MIGRATIONS[current:]:
            for statement in step:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")

    def append(self, entries: Sequence[LogEntry]) -> None:
        if not entries:
            return
        logged = _now()  # one time per transaction: its rows were committed together
        rows = [(e.decision_id, e.evaluated_at, to_micros(e.evaluated_at), logged, e.policy_id, e.policy_version,
                 e.policy_sha256, e.session_id, e.key_id, e.request_id,
                 orjson.dumps(e.facts).decode(), orjson.dumps(e.decision).decode(), hook_json(e.hook))
                for e in entries]
        with self._write() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO decisions (decision_id, evaluated_at, evaluated_us, logged_at, policy_id, "
                "policy_version, policy_sha256, session_id, key_id, request_id, facts, decision, hook) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            sqlite_cds.insert_cards(conn, entries)
            conn.execute("COMMIT")  # on disk once the block returns (WalSync)

    def get(self, decision_id: str) -> Record | None:
        with self._read() as conn:
            row = conn.execute(f"SELECT {HOOK_COLUMNS} FROM decisions WHERE decision_id = ?", (decision_id,)).fetchone()
        return record(row) if row else None

    def query(self, q: Query) -> Page:
        where: list[str] = ["seq > ?"]
        args: list[str | int] = [q.after_seq]
        for clause, value in (("session_id = ?", q.session_id), ("evaluated_us >= ?", q.since_us),
                              ("evaluated_us < ?", q.until_us)):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = f"SELECT {HOOK_COLUMNS} FROM decisions WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?"
        with self._read() as conn:
            rows = conn.execute(sql, (*args, q.limit + 1)).fetchall()
        records = [record(r) for r in rows[: q.limit]]
        return Page(records, records[-1].seq if len(rows) > q.limit else None)

    def probe(self) -> None:
        """Raise StoreError unless a decision could be committed now: the log's file system has MIN_FREE_BYTES
        left, PROBE_BYTES of new pages can be allocated (tried in a savepoint, rolled back: a log at its size
        limit still rewrites a small row in place), and a small write commits durably."""
        try:
            st = os.statvfs(Path(self.path).parent)
        except OSError as e:
            raise StoreError(f"cannot check the decision log's disk: {e}") from e
        if st.f_bavail * st.f_frsize < MIN_FREE_BYTES:
            raise StoreError(f"the decision log's disk is full ({st.f_bavail * st.f_frsize} bytes free, "
                             f"{MIN_FREE_BYTES} needed)")
        with self._write() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("SAVEPOINT room")
            conn.execute("INSERT OR REPLACE INTO probe (id, at) VALUES (1, ?)", ("." * PROBE_BYTES,))
            conn.execute("ROLLBACK TO room")
            conn.execute("RELEASE room")
            conn.execute("INSERT OR REPLACE INTO probe (id, at) VALUES (1, ?)", (_now(),))
            conn.execute("COMMIT")

    def pins_version(self) -> int:
        """Every worker asks on every request, so the answer comes from a stat() of `<path>.pins` when
        it can: `set_pin` appends a byte to that file after each commit, so a changed size (or a new
        file) means "read again". The token is taken before the read, so a change that lands between the
        two is seen on the next call; at least once a second the database is read anyway, in case a
        marker write failed."""
        try:
            st = os.stat(self._pins_marker)
            token: tuple[int, int] | None = (st.st_ino, st.st_size)
        except OSError:
            token = None
        now = time.monotonic()
        seen = self._pins_seen
        if token is not None and seen is not None and seen[0] == token and now - seen[1] < _PINS_RECHECK_S:
            return seen[2]
        with self._read() as conn:
            version = int(conn.execute("SELECT coalesce(max(seq), 0) FROM policy_activations").fetchone()[0])
        self._pins_seen = (token, now, version)
        return version

    def pins(self) -> tuple[int, dict[str, Pin]]:
        with self._read() as conn:
            conn.execute("BEGIN")  # one snapshot: the pins and the version they belong to
            version = conn.execute("SELECT coalesce(max(seq), 0) FROM policy_activations").fetchone()[0]
            rows = conn.execute("SELECT policy_id, version, pinned_by, pinned_at FROM policy_pins").fetchall()
            conn.execute("COMMIT")
        return int(version), {r[0]: Pin(*r) for r in rows}

    def set_pin(self, policy_id: str, version: str | None, key_id: str, request_id: str) -> Pin | None:
        at = _now()
        with self._write() as conn:
            conn.execute("BEGIN IMMEDIATE")
            if version is None:
                conn.execute("DELETE FROM policy_pins WHERE policy_id = ?", (policy_id,))
            else:
                conn.execute("INSERT OR REPLACE INTO policy_pins (policy_id, version, pinned_by, pinned_at) "
                             "VALUES (?, ?, ?, ?)", (policy_id, version, key_id, at))
            conn.execute("INSERT INTO policy_activations (policy_id, version, key_id, request_id, at) "
                         "VALUES (?, ?, ?, ?, ?)", (policy_id, version, key_id, request_id, at))
            conn.execute("COMMIT")
        self._pins_changed()
        return Pin(policy_id, version, key_id, at) if version is not None else None

    def _pins_changed(self) -> None:
        try:
            fd = os.open(self._pins_marker, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, b".")
            finally:
                os.close(fd)
        except OSError as e:  # the pin holds; other workers see it within _PINS_RECHECK_S
            log.warning("cannot mark the pins changed (%s): other workers apply the pin within %.0f s",
                        e, _PINS_RECHECK_S)

    def activations(self, policy_id: str, limit: int = 10) -> list[Activation]:
        with self._read() as conn:
            rows = conn.execute("SELECT seq, policy_id, version, key_id, request_id, at FROM policy_activations "
                                "WHERE policy_id = ? ORDER BY seq DESC LIMIT ?", (policy_id, limit)).fetchall()
        return [Activation(*r) for r in rows]

    def purge(self, before_us: int) -> int:
        with self._write() as conn:
            conn.execute("BEGIN IMMEDIATE")
            gone = conn.execute("DELETE FROM decisions WHERE evaluated_us < ?", (before_us,)).rowcount
            sqlite_cds.purge(conn)  # their cards and the feedback on them go with them
            conn.execute("COMMIT")  # AUTOINCREMENT: a purged seq is never handed out again
        return int(gone)

    def record_feedback(self, items: Sequence[Feedback]) -> list[str]:
        with self._write() as conn:
            conn.execute("BEGIN IMMEDIATE")
            unknown = sqlite_cds.record_feedback(conn, items, _now())
            conn.execute("ROLLBACK" if unknown else "COMMIT")
        return unknown

    def feedback_for(self, decision_id: str) -> list[Feedback]:
        with self._read() as conn:
            return sqlite_cds.feedback_for(conn, decision_id)

    def claim_token(self, key: str, expires_us: int) -> bool:
        with self._write() as conn:
            conn.execute("BEGIN IMMEDIATE")
            fresh = sqlite_cds.claim_token(conn, key, expires_us, to_micros(_now()))
            conn.execute("COMMIT")
        return fresh

    def close(self) -> None:
        with self._lock, self._registry:
            if self._pid == pid():
                for conn in [*(r.conn for r in list(self._readers)), *([self._writer] if self._writer else [])]:
                    conn.close()
                if self._lockfd >= 0:
                    os.close(self._lockfd)
            self._writer, self._lockfd, self._local = None, -1, threading.local()
            self._readers = weakref.WeakSet()
            self._sync.reset(inherited=self._pid != pid())


class _Reader:
    """One thread's read connection; freeing it (when its thread ends) frees and closes the connection."""

    __slots__ = ("conn", "__weakref__")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn


def _close(conn: sqlite3.Connection) -> None:
    try:
        conn.rollback()
    except sqlite3.Error:
        pass
    finally:
        conn.close()
