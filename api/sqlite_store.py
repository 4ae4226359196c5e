"""The decision log in SQLite: WAL, synchronous=FULL, one connection per process.

Gunicorn forks workers; a SQLite connection must never cross a fork (its locks and
file descriptors would be shared by two processes). So the master only opens a
short-lived connection to migrate, and each worker opens its own on first use,
noticed by its pid. Writers serialise on SQLite's lock (`BEGIN IMMEDIATE` plus a
busy timeout); WAL lets readers go on meanwhile.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from .store import Activation, LogEntry, Page, Pin, Query, Record, StoreError, to_micros

__all__ = ["SQLiteStore", "MIGRATIONS", "SCHEMA_VERSION"]

# Append only: each step runs once, in order; PRAGMA user_version records how many ran.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE decisions (
             seq INTEGER PRIMARY KEY AUTOINCREMENT,
             decision_id TEXT NOT NULL UNIQUE,
             evaluated_at TEXT NOT NULL,
             evaluated_us INTEGER NOT NULL,
             logged_at TEXT NOT NULL,
             policy_id TEXT NOT NULL,
             policy_version TEXT NOT NULL,
             policy_sha256 TEXT NOT NULL,
             session_id TEXT NOT NULL,
             key_id TEXT NOT NULL,
             request_id TEXT NOT NULL,
             facts TEXT NOT NULL,
             decision TEXT NOT NULL)""",
        "CREATE INDEX decisions_by_session ON decisions (session_id, seq)",
        "CREATE INDEX decisions_by_time ON decisions (evaluated_us, seq)",
        "CREATE TABLE probe (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL)",
    ),
    (
        # Admin pins (rollback / roll forward), kept with the log so they survive restarts and every worker
        # sees them; the history is append only, and its last seq is the cheap "did pins change" number.
        """CREATE TABLE policy_pins (
             policy_id TEXT PRIMARY KEY,
             version TEXT NOT NULL,
             pinned_by TEXT NOT NULL,
             pinned_at TEXT NOT NULL)""",
        """CREATE TABLE policy_activations (
             seq INTEGER PRIMARY KEY AUTOINCREMENT,
             policy_id TEXT NOT NULL,
             version TEXT,
             key_id TEXT NOT NULL,
             request_id TEXT NOT NULL,
             at TEXT NOT NULL)""",
        "CREATE INDEX activations_by_policy ON policy_activations (policy_id, seq)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
_COLUMNS = ("seq, logged_at, decision_id, evaluated_at, policy_id, policy_version, policy_sha256, session_id, "
            "key_id, request_id, facts, decision")


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class SQLiteStore:
    """DecisionStore on one SQLite file shared by every worker process."""

    def __init__(self, path: str, *, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

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

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None or self._pid != os.getpid():
                # After a fork the inherited object (if any) belongs to the parent: never use or close it here.
                self._conn = None
                try:
                    self._conn, self._pid = self._open(), os.getpid()
                except sqlite3.Error as e:
                    raise StoreError(f"cannot open the decision log: {e}") from e
            try:
                yield self._conn
            except sqlite3.Error as e:
                self._discard()
                raise StoreError(f"decision log error: {e}") from e
            except BaseException:
                self._discard()
                raise

    def _discard(self) -> None:
        # A connection that failed mid-transaction is rolled back, closed and reopened on next use.
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.rollback()
        except sqlite3.Error:
            pass
        finally:
            conn.close()

    def migrate(self) -> None:
        try:
            conn = self._open()
        except sqlite3.Error as e:
            raise StoreError(f"cannot open the decision log {self.path}: {e}") from e
        try:
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
        except sqlite3.Error as e:
            raise StoreError(f"cannot migrate the decision log {self.path}: {e}") from e
        finally:
            if conn.in_transaction:
                conn.rollback()
            conn.close()

    def append(self, entries: Sequence[LogEntry]) -> None:
        if not entries:
            return
        rows = [(e.decision_id, e.evaluated_at, to_micros(e.evaluated_at), _now(), e.policy_id, e.policy_version,
                 e.policy_sha256, e.session_id, e.key_id, e.request_id,
                 orjson.dumps(e.facts).decode(), orjson.dumps(e.decision).decode())
                for e in entries]
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO decisions (decision_id, evaluated_at, evaluated_us, logged_at, policy_id, "
                "policy_version, policy_sha256, session_id, key_id, request_id, facts, decision) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")  # synchronous=FULL: on disk when this returns

    def get(self, decision_id: str) -> Record | None:
        with self._connection() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM decisions WHERE decision_id = ?", (decision_id,)).fetchone()
        return _record(row) if row else None

    def query(self, q: Query) -> Page:
        where: list[str] = ["seq > ?"]
        args: list[str | int] = [q.after_seq]
        for clause, value in (("session_id = ?", q.session_id), ("evaluated_us >= ?", q.since_us),
                              ("evaluated_us < ?", q.until_us)):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = f"SELECT {_COLUMNS} FROM decisions WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?"
        with self._connection() as conn:
            rows = conn.execute(sql, (*args, q.limit + 1)).fetchall()
        records = [_record(r) for r in rows[: q.limit]]
        return Page(records, records[-1].seq if len(rows) > q.limit else None)

    def probe(self) -> None:
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT OR REPLACE INTO probe (id, at) VALUES (1, ?)", (_now(),))
            conn.execute("COMMIT")

    def pins_version(self) -> int:
        with self._connection() as conn:
            return int(conn.execute("SELECT coalesce(max(seq), 0) FROM policy_activations").fetchone()[0])

    def pins(self) -> tuple[int, dict[str, Pin]]:
        with self._connection() as conn:
            conn.execute("BEGIN")  # one snapshot: the pins and the version they belong to
            version = conn.execute("SELECT coalesce(max(seq), 0) FROM policy_activations").fetchone()[0]
            rows = conn.execute("SELECT policy_id, version, pinned_by, pinned_at FROM policy_pins").fetchall()
            conn.execute("COMMIT")
        return int(version), {r[0]: Pin(*r) for r in rows}

    def set_pin(self, policy_id: str, version: str | None, key_id: str, request_id: str) -> Pin | None:
        at = _now()
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            if version is None:
                conn.execute("DELETE FROM policy_pins WHERE policy_id = ?", (policy_id,))
            else:
                conn.execute("INSERT OR REPLACE INTO policy_pins (policy_id, version, pinned_by, pinned_at) "
                             "VALUES (?, ?, ?, ?)", (policy_id, version, key_id, at))
            conn.execute("INSERT INTO policy_activations (policy_id, version, key_id, request_id, at) "
                         "VALUES (?, ?, ?, ?, ?)", (policy_id, version, key_id, request_id, at))
            conn.execute("COMMIT")
        return Pin(policy_id, version, key_id, at) if version is not None else None

    def activations(self, policy_id: str, limit: int = 10) -> list[Activation]:
        with self._connection() as conn:
            rows = conn.execute("SELECT seq, policy_id, version, key_id, request_id, at FROM policy_activations "
                                "WHERE policy_id = ? ORDER BY seq DESC LIMIT ?", (policy_id, limit)).fetchall()
        return [Activation(*r) for r in rows]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


def _record(row: tuple[Any, ...]) -> Record:
    seq, logged_at, decision_id, evaluated_at, policy_id, version, sha256, session_id, key_id, request_id, facts, \
        decision = row
    entry = LogEntry(decision_id, evaluated_at, policy_id, version, sha256, session_id, key_id, request_id,
                     json.loads(facts), json.loads(decision))
    return Record(seq, logged_at, entry)
