"""The decision log's SQLite schema: its migrations, and how a row becomes a Record."""

from __future__ import annotations

import json
from typing import Any

from api.log.store import LogEntry, Record

__all__ = ["COLUMNS", "MIGRATIONS", "SCHEMA_VERSION", "record"]

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
COLUMNS = ("seq, logged_at, decision_id, evaluated_at, policy_id, policy_version, policy_sha256, session_id, "
            "key_id, request_id, facts, decision")


def record(row: tuple[Any, ...]) -> Record:
    """A `SELECT COLUMNS` row as a Record."""
    seq, logged_at, decision_id, evaluated_at, policy_id, version, sha256, session_id, key_id, request_id, facts, \
        decision = row
    entry = LogEntry(decision_id, evaluated_at, policy_id, version, sha256, session_id, key_id, request_id,
                     json.loads(facts), json.loads(decision))
    return Record(seq, logged_at, entry)
