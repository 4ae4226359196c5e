"""The decision log on PostgreSQL: one database shared by every worker of every replica.

psycopg 3 with a connection pool per process, opened on first use and noticed by its
pid (gunicorn forks workers after the master migrated; a connection never crosses a
fork). Every connection runs with `synchronous_commit = on`, so a commit returns only
once its WAL is flushed: the same promise as the SQLite log's (api.log.walsync). Decisions are
appended under a transaction-scoped advisory lock, so `seq` order is commit order and
an audit cursor (`after_seq`) never skips a row that commits late. A pooled connection
found dead (the server restarted) before anything was committed is replaced and the
work retried once; a failed COMMIT is never retried (its outcome is unknown: the
caller gets 503, and the row may exist, never the reverse).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson
import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from api.log import postgres_cds
from api.log.postgres_listen import CHANNEL, PinsListener
from api.log.postgres_schema import Migration, upgrade
from api.log.sqlite_schema import HOOK_COLUMNS, hook_json, record
from api.log.store import Activation, Feedback, Heartbeat, LogEntry, Page, Pin, Query, Record, to_micros
from engine.core.errors import StoreError
from engine.core.timefmt import utc_text

__all__ = ["PostgresStore", "describe"]

LOG_LOCK = 0x61700002  # appends: seq order is commit order
PINS_LOCK = 0x61700003  # pin changes: the activation seq order is commit order
RECHECK_S = 0.5  # the poll behind LISTEN/NOTIFY: a pin is in force everywhere within this (plus one request)
_FORGET_AFTER = "1 day"  # heartbeat rows of replicas gone for good
T = TypeVar("T")
Conn = psycopg.Connection[Any]


def describe(url: str) -> str:
    """The URL without its password (for messages and `db status`)."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.Error:
        return "postgresql://(unparsable URL)"
    host, port = info.get("host", "localhost"), info.get("port", "5432")
    user = f"{info['user']}@" if info.get("user") else ""
    return f"postgresql://{user}{host}:{port}/{info.get('dbname', '')}"


def _now() -> str:
    return utc_text(_dt.datetime.now(_dt.UTC), "microseconds")


class PostgresStore:
    """DecisionStore (and Replicas, HookLog) on one PostgreSQL database."""

    def __init__(self, url: str, *, timeout_ms: int = 5000, pool_size: int = 4) -> None:
        self.url = url
        self.where = describe(url)
        self.timeout_s = timeout_ms / 1000
        self.pool_size = pool_size
        self.connect: dict[str, Any] = {"connect_timeout": max(1, round(self.timeout_s)),
                                        "application_name": "attendance-policy", "keepalives": 1,
                                        "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 2}
        self._lock = threading.Lock()
        self._pid = 0
        self._pool_obj: ConnectionPool[Conn] | None = None
        self._listener: PinsListener | None = None
        self._pins_seen: tuple[int, float] | None = None  # (version, when read)

    # ---- connections -----------------------------------------------------------------------------------------

    def _configure(self, conn: Conn) -> None:
        conn.autocommit = True
        conn.execute("SET synchronous_commit = on")  # whatever the server's or the role's default
        conn.execute(f"SET statement_timeout = {int(self.timeout_s * 1000)}")
        conn.autocommit = False

    def _forked(self) -> None:
        if self._pid != os.getpid():  # the parent's pool and listener: never use or close them here
            self._pool_obj, self._listener, self._pins_seen = None, None, None
            self._pid = os.getpid()

    def _pool(self) -> ConnectionPool[Conn]:
        with self._lock:
            self._forked()
            if self._pool_obj is None:
                pool: ConnectionPool[Conn] = ConnectionPool(
                    self.url, min_size=1, max_size=self.pool_size, kwargs=self.connect, configure=self._configure,
                    timeout=self.timeout_s, reconnect_timeout=max(1.0, self.timeout_s), open=False,
                    name="attendance-policy")
                pool.open(wait=False)
                self._pool_obj = pool
            return self._pool_obj

    def _run(self, work: Callable[[Conn], T]) -> T:
        """`work` in one transaction, committed; StoreError if it cannot be."""
        for attempt in range(self.pool_size + 1):  # each pooled connection may have died with a restarted server
            committing, broken = False, False
            try:
                with self._pool().connection() as conn:
                    try:
                        result = work(conn)
                        committing = True
                        conn.commit()
                        return result
                    except psycopg.Error:
                        broken = conn.broken
                        raise
            except PoolTimeout as e:
                raise StoreError(f"cannot reach the decision log {self.where} within {self.timeout_s:g} s") from e
            except psycopg.Error as e:
                if broken and not committing and attempt < self.pool_size:
                    continue  # a connection that died before this transaction committed: nothing was written
                raise StoreError(f"decision log error ({self.where}): {str(e).strip()}") from e
        raise AssertionError("unreachable")

    def migrate(self) -> None:
        self.upgrade()

    def upgrade(self) -> list[Migration]:
        """Apply the pending migrations (under an advisory lock: safe from every replica at once); which ran."""
        try:
            with psycopg.connect(self.url, **self.connect) as conn:
                ran = upgrade(conn, self.where)
                conn.commit()
                return ran
        except ValueError as e:
            raise StoreError(str(e)) from e
        except psycopg.Error as e:
            raise StoreError(f"cannot migrate the decision log {self.where}: {str(e).strip()}") from e

    def close(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                if self._listener is not None:
                    self._listener.stop()
                if self._pool_obj is not None:
                    self._pool_obj.close()
            self._pool_obj, self._listener, self._pins_seen = None, None, None

    # ---- the decision log ------------------------------------------------------------------------------------

    def append(self, entries: Sequence[LogEntry]) -> None:
        if not entries:
            return
        at = _now()
        rows = [(e.decision_id, e.evaluated_at, to_micros(e.evaluated_at), at, e.policy_id, e.policy_version,
                 e.policy_sha256, e.session_id, e.key_id, e.request_id,
                 orjson.dumps(e.facts).decode(), orjson.dumps(e.decision).decode(), hook_json(e.hook))
                for e in entries]

        def work(conn: Conn) -> None:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOG_LOCK,))
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO decisions (decision_id, evaluated_at, evaluated_us, logged_at, policy_id, "
                    "policy_version, policy_sha256, session_id, key_id, request_id, facts, decision, hook) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
            postgres_cds.insert_cards(conn, entries)

        self._run(work)  # synchronous_commit on: the WAL is flushed when this returns

    def get(self, decision_id: str) -> Record | None:
        row = self._run(lambda c: c.execute(f"SELECT {HOOK_COLUMNS} FROM decisions WHERE decision_id = %s",
                                            (decision_id,)).fetchone())
        return record(row) if row else None

    def query(self, q: Query) -> Page:
        where: list[str] = ["seq > %s"]
        args: list[str | int] = [q.after_seq]
        for clause, value in (("session_id = %s", q.session_id), ("evaluated_us >= %s", q.since_us),
                              ("evaluated_us < %s", q.until_us)):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = f"SELECT {HOOK_COLUMNS} FROM decisions WHERE {' AND '.join(where)} ORDER BY seq LIMIT %s"
        rows = self._run(lambda c: c.execute(sql, (*args, q.limit + 1)).fetchall())
        records = [record(r) for r in rows[: q.limit]]
        return Page(records, records[-1].seq if len(rows) > q.limit else None)

    def probe(self) -> None:
        self._run(lambda c: c.execute("INSERT INTO probe (id, at) VALUES (1, %s) ON CONFLICT (id) DO UPDATE "
                                      "SET at = EXCLUDED.at", (_now(),)))

    def purge(self, before_us: int) -> int:
        def work(conn: Conn) -> int:
            gone = conn.execute("DELETE FROM decisions WHERE evaluated_us < %s", (before_us,)).rowcount
            postgres_cds.purge(conn)  # their cards and the feedback on them go with them
            return int(gone)

        return self._run(work)

    # ---- CDS Hooks (api/cdshooks) --------------------------------------------------------------------------

    def record_feedback(self, items: Sequence[Feedback]) -> list[str]:
        def work(conn: Conn) -> list[str]:
            unknown = postgres_cds.record_feedback(conn, items, _now())
            if unknown:
                conn.rollback()
            return unknown

        return self._run(work)

    def feedback_for(self, decision_id: str) -> list[Feedback]:
        return self._run(lambda c: postgres_cds.feedback_for(c, decision_id))

    def claim_token(self, key: str, expires_us: int) -> bool:
        return self._run(lambda c: postgres_cds.claim_token(c, key, expires_us, to_micros(_now())))

    # ---- pins ----------------------------------------------------------------------------------------------

    def _listen(self) -> PinsListener:
        with self._lock:
            self._forked()
            if self._listener is None:
                self._listener = PinsListener(self.url, self.connect)
            return self._listener

    def pins_version(self) -> int:
        """Cached; read again when a NOTIFY came (any replica's `set_pin`) and at least every RECHECK_S."""
        listener = self._listen()
        now = time.monotonic()
        changed = listener.take()
        seen = self._pins_seen
        if seen is not None and not changed and now - seen[1] < RECHECK_S:
            return seen[0]
        try:
            version = self._run(lambda c: int(c.execute(
                "SELECT coalesce(max(seq), 0) FROM policy_activations").fetchone()[0]))  # type: ignore[index]
        except StoreError:
            self._pins_seen = None  # read again on the next call
            raise
        self._pins_seen = (version, now)
        return version

    def pins(self) -> tuple[int, dict[str, Pin]]:
        rows = self._run(lambda c: c.execute(  # one statement: one snapshot of the pins and their version
            "SELECT v.version, p.policy_id, p.version, p.pinned_by, p.pinned_at FROM "
            "(SELECT coalesce(max(seq), 0) AS version FROM policy_activations) v "
            "LEFT JOIN policy_pins p ON true").fetchall())
        return int(rows[0][0]), {r[1]: Pin(*r[1:]) for r in rows if r[1] is not None}

    def set_pin(self, policy_id: str, version: str | None, key_id: str, request_id: str) -> Pin | None:
        at = _now()

        def work(conn: Conn) -> None:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (PINS_LOCK,))
            if version is None:
                conn.execute("DELETE FROM policy_pins WHERE policy_id = %s", (policy_id,))
            else:
                conn.execute("INSERT INTO policy_pins (policy_id, version, pinned_by, pinned_at) "
                             "VALUES (%s, %s, %s, %s) ON CONFLICT (policy_id) DO UPDATE SET version = "
                             "EXCLUDED.version, pinned_by = EXCLUDED.pinned_by, pinned_at = EXCLUDED.pinned_at",
                             (policy_id, version, key_id, at))
            conn.execute("INSERT INTO policy_activations (policy_id, version, key_id, request_id, at) "
                         "VALUES (%s, %s, %s, %s, %s)", (policy_id, version, key_id, request_id, at))
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, policy_id))  # delivered on commit

        self._run(work)
        self._pins_seen = None  # this process reads the new number at once
        return Pin(policy_id, version, key_id, at) if version is not None else None

    def activations(self, policy_id: str, limit: int = 10) -> list[Activation]:
        rows = self._run(lambda c: c.execute(
            "SELECT seq, policy_id, version, key_id, request_id, at FROM policy_activations "
            "WHERE policy_id = %s ORDER BY seq DESC LIMIT %s", (policy_id, limit)).fetchall())
        return [Activation(*r) for r in rows]

    # ---- replicas ------------------------------------------------------------------------------------------

    def heartbeat(self, beat: Heartbeat) -> None:
        def work(conn: Conn) -> None:
            conn.execute("INSERT INTO replicas (replica, pid, state, heartbeat_at) VALUES (%s, %s, %s, now()) "
                         "ON CONFLICT (replica, pid) DO UPDATE SET state = EXCLUDED.state, heartbeat_at = now()",
                         (beat.replica, beat.pid, json.dumps(beat.state)))
            conn.execute(f"DELETE FROM replicas WHERE heartbeat_at < now() - interval '{_FORGET_AFTER}'")

        self._run(work)

    def forget(self, replica: str, pid: int) -> None:
        self._run(lambda c: c.execute("DELETE FROM replicas WHERE replica = %s AND pid = %s", (replica, pid)))

    def heartbeats(self, within_s: float) -> list[Heartbeat]:
        rows = self._run(lambda c: c.execute(
            "SELECT replica, pid, state, to_char(heartbeat_at AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM replicas "
            "WHERE heartbeat_at > now() - make_interval(secs => %s) ORDER BY replica, pid",
            (float(within_s),)).fetchall())
        return [Heartbeat(r[0], int(r[1]), json.loads(r[2]), r[3]) for r in rows]
