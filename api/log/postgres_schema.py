"""The PostgreSQL schema: versioned SQL files in api/log/migrations/, applied in order under an advisory lock.

`NNNN_name.sql` files run once each, in order, all pending ones in one transaction;
`schema_migrations` records each with its sha256. The transaction first takes an
advisory lock, so replicas starting together migrate once (the others wait, then
find nothing to do); a database migrated by a newer release is refused, never
downgraded.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["MIGRATE_LOCK", "Migration", "SCHEMA_VERSION", "MIGRATIONS", "applied", "pending", "upgrade"]

MIGRATE_LOCK = 0x61700001  # pg_advisory_xact_lock key of migrations ("ap" 1)
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_BOOTSTRAP = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, sha256 TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"""


@dataclass(frozen=True)
class Migration:
    """One SQL file: its number, name, text and the text's sha256."""

    version: int
    name: str
    sql: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def _load() -> tuple[Migration, ...]:
    found = []
    for item in resources.files("api.log").joinpath("migrations").iterdir():
        m = _NAME.match(item.name)
        if m:
            found.append(Migration(int(m[1]), m[2], item.read_text(encoding="utf-8")))
    found.sort(key=lambda x: x.version)
    if [x.version for x in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"api/log/migrations: numbers must run 1, 2, 3... (found {[x.version for x in found]})")
    return tuple(found)


MIGRATIONS = _load()
SCHEMA_VERSION = len(MIGRATIONS)


def applied(conn: Any) -> dict[int, str]:
    """The migrations recorded in the database: version -> sha256 (empty for a new database)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
    if not exists:
        return {}
    return {int(v): str(h) for v, h in conn.execute("SELECT version, sha256 FROM schema_migrations")}


def pending(done: dict[int, str]) -> list[Migration]:
    """The migrations this release knows that the database has not run yet."""
    return [m for m in MIGRATIONS if m.version not in done]


def upgrade(conn: Any, where: str) -> list[Migration]:
    """Apply every pending migration in the caller's transaction (commit is the caller's); what ran.

    Raises ValueError when the database is newer than this release."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
    conn.execute(_BOOTSTRAP)
    done = applied(conn)
    newest = max(done, default=0)
    if newest > SCHEMA_VERSION:
        raise ValueError(f"{where} has schema version {newest}; this release knows up to {SCHEMA_VERSION}: "
                         "upgrade the service, do not downgrade the log")
    todo = pending(done)
    for m in todo:
        conn.execute(m.sql)
        conn.execute("INSERT INTO schema_migrations (version, name, sha256) VALUES (%s, %s, %s)",
                     (m.version, m.name, m.sha256))
    return todo
