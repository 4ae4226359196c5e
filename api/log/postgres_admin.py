"""Operating a PostgreSQL decision log: upgrade, status, and moving an SQLite log into it (`attendance-policy db`).

`copy_sqlite` copies every row of the decision log, the pins and their history with
their `seq` and timestamps unchanged, in one transaction into an empty database, then
reads the target back on a new connection and compares the row count and a sha256 over
every row (in `seq` order, each column as stored) with the source's.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg

from api.log.postgres import LOG_LOCK, PINS_LOCK, PostgresStore
from api.log.postgres_schema import MIGRATIONS, SCHEMA_VERSION, applied
from api.log.sqlite_schema import SCHEMA_VERSION as SQLITE_VERSION
from engine.core.errors import StoreError

__all__ = ["TABLES", "Copied", "copy_sqlite", "status", "table_digest", "upgrade_database"]

# Every table that moves, its columns (the key first) and whether it has an identity `seq` to carry on.
TABLES: dict[str, tuple[tuple[str, ...], bool]] = {
    "decisions": (("seq", "decision_id", "evaluated_at", "evaluated_us", "logged_at", "policy_id", "policy_version",
                   "policy_sha256", "session_id", "key_id", "request_id", "facts", "decision", "hook"), True),
    "policy_pins": (("policy_id", "version", "pinned_by", "pinned_at"), False),
    "policy_activations": (("seq", "policy_id", "version", "key_id", "request_id", "at"), True),
    "cds_cards": (("card_uuid", "decision_id"), False),
    "cds_feedback": (("seq", "decision_id", "card_uuid", "outcome", "accepted_suggestions", "override_reason",
                      "outcome_timestamp", "key_id", "request_id", "received_at"), True),
    "cds_tokens": (("key", "expires_us"), False),
}
_BATCH = 1000


@dataclass
class Copied:
    """Per table: rows and sha256 in the source, and as read back from the target."""

    source: dict[str, tuple[int, str]] = field(default_factory=dict)
    target: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def same(self) -> bool:
        return self.source == self.target


class _Digest:
    def __init__(self) -> None:
        self.rows, self._h = 0, hashlib.sha256()

    def add(self, row: Iterable[Any]) -> None:
        self.rows += 1
        self._h.update(json.dumps(list(row), ensure_ascii=False, separators=(",", ":")).encode() + b"\n")

    @property
    def value(self) -> tuple[int, str]:
        return self.rows, self._h.hexdigest()


def _select(table: str) -> str:
    columns, _ = TABLES[table]
    return f"SELECT {', '.join(columns)} FROM {table} ORDER BY {columns[0]}"


def table_digest(rows: Iterable[Iterable[Any]]) -> tuple[int, str]:
    """(row count, sha256 of the rows in order): the same on both backends for the same rows."""
    d = _Digest()
    for row in rows:
        d.add(row)
    return d.value


def _batches(rows: Iterator[tuple[Any, ...]], digest: _Digest) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        digest.add(row)
        batch.append(row)
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _fill(conn: psycopg.Connection[Any], source: sqlite3.Connection, table: str) -> tuple[int, str]:
    columns, identity = TABLES[table]
    digest = _Digest()
    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    with conn.cursor() as cur:
        for batch in _batches(iter(source.execute(_select(table))), digest):
            cur.executemany(insert, batch)
        if identity:  # new rows continue after the copied ones
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'), coalesce(max(seq), 1), "
                        f"max(seq) IS NOT NULL) FROM {table}")
    return digest.value


def copy_sqlite(path: str, url: str) -> Copied:
    """Copy the SQLite log at `path` into the (migrated, empty) database at `url`, then verify."""
    store = PostgresStore(url)
    store.migrate()
    result = Copied()
    try:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise StoreError(f"cannot open {path}: {e}") from e
    try:
        version = source.execute("PRAGMA user_version").fetchone()[0]
        if version != SQLITE_VERSION:
            raise StoreError(f"{path} has schema version {version}, not {SQLITE_VERSION}: run `attendance-policy db "
                             f"upgrade --database {path}` with this release first (nothing was copied)")
        source.execute("BEGIN")  # one snapshot of the source, even if a service still writes to it
        with psycopg.connect(url, **store.connect) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s), pg_advisory_xact_lock(%s)", (LOG_LOCK, PINS_LOCK))
            for table in TABLES:
                held = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
                if held and held[0]:
                    raise StoreError(f"{store.where} already holds {held[0]} rows in {table}: copy into an empty "
                                     "database (nothing was copied)")
            for table in TABLES:
                result.source[table] = _fill(conn, source, table)
            conn.commit()
        with psycopg.connect(url, **store.connect) as conn:  # read back what is durable, on a new connection
            for table in TABLES:
                result.target[table] = table_digest(conn.execute(_select(table)))  # type: ignore[arg-type]
    except sqlite3.Error as e:
        raise StoreError(f"cannot read {path}: {e}") from e
    except psycopg.Error as e:
        raise StoreError(f"cannot copy into {store.where}: {str(e).strip()}") from e
    finally:
        source.close()
    return result


def upgrade_database(url: str) -> tuple[list[str], int]:
    """Apply the pending migrations; (the names of those that ran, the schema version now)."""
    ran = PostgresStore(url).upgrade()
    return [f"{m.version:04d}_{m.name}" for m in ran], SCHEMA_VERSION


def status(url: str) -> dict[str, Any]:
    """What `db status` prints: schema versions, pending or changed migrations, durability settings, rows."""
    store = PostgresStore(url)
    try:
        with psycopg.connect(url, autocommit=True, **store.connect) as conn:
            done = applied(conn)
            known = {m.version: m for m in MIGRATIONS}
            out: dict[str, Any] = {
                "backend": "postgresql", "where": store.where, "schema_version": max(done, default=0),
                "known_version": SCHEMA_VERSION,
                "pending": [f"{m.version:04d}_{m.name}" for m in MIGRATIONS if m.version not in done],
                "changed_since_applied": [f"{v:04d}" for v, h in sorted(done.items())
                                          if v in known and known[v].sha256 != h],
                "fsync": conn.execute("SHOW fsync").fetchone()[0],  # type: ignore[index]
                "decisions": None, "live_replicas": None}
            if 1 in done:
                out["decisions"] = conn.execute("SELECT count(*) FROM decisions").fetchone()[0]  # type: ignore[index]
            if 3 in done:
                out["live_replicas"] = conn.execute(  # type: ignore[index]
                    "SELECT count(DISTINCT replica) FROM replicas WHERE heartbeat_at > now() - interval '10 seconds'"
                ).fetchone()[0]
            return out
    except psycopg.Error as e:
        raise StoreError(f"cannot read {store.where}: {str(e).strip()}") from e
