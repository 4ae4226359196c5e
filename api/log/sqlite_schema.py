"""The decision log's SQLite schema: its migrations, and how a row becomes a Record."""

from __future__ import annotations

import json
from typing import Any

from api.log.store import Feedback, HookCall, LogEntry, Record

__all__ = ["COLUMNS", "FEEDBACK_COLUMNS", "HOOK_COLUMNS", "MIGRATIONS", "SCHEMA_VERSION", "feedback", "hook_json",
           "record"]

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
    (
        # CDS Hooks (api/cdshooks): the call a decision answered; each card shown, so that feedback, which names
        # only a card, finds its decision; the feedback; the JWT ids seen (replay protection, shared by workers).
        "ALTER TABLE decisions ADD COLUMN hook TEXT",
        "CREATE TABLE cds_cards (card_uuid TEXT PRIMARY KEY, decision_id TEXT NOT NULL)",
        """CREATE TABLE cds_feedback (
             seq INTEGER PRIMARY KEY AUTOINCREMENT,
             decision_id TEXT NOT NULL,
             card_uuid TEXT NOT NULL,
             outcome TEXT NOT NULL,
             accepted_suggestions TEXT NOT NULL,
             override_reason TEXT,
             outcome_timestamp TEXT NOT NULL,
             key_id TEXT NOT NULL,
             request_id TEXT NOT NULL,
             received_at TEXT NOT NULL)""",
        "CREATE INDEX feedback_by_decision ON cds_feedback (decision_id, seq)",
        "CREATE TABLE cds_tokens (key TEXT PRIMARY KEY, expires_us INTEGER NOT NULL)",
        "CREATE INDEX tokens_by_expiry ON cds_tokens (expires_us)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
COLUMNS = ("seq, logged_at, decision_id, evaluated_at, policy_id, policy_version, policy_sha256, session_id, "
            "key_id, request_id, facts, decision")
HOOK_COLUMNS = COLUMNS + ", hook"  # SQLite's decisions carry their CDS Hooks call too (api/log/sqlite_cds.py)
FEEDBACK_COLUMNS = ("card_uuid, outcome, outcome_timestamp, accepted_suggestions, override_reason, key_id, request_id, "
                    "decision_id, received_at")


def record(row: tuple[Any, ...]) -> Record:
    """A `SELECT COLUMNS` (or `HOOK_COLUMNS`) row as a Record."""
    seq, logged_at, decision_id, evaluated_at, policy_id, version, sha256, session_id, key_id, request_id, facts, \
        decision = row[:12]
    hook = row[12] if len(row) > 12 else None
    entry = LogEntry(decision_id, evaluated_at, policy_id, version, sha256, session_id, key_id, request_id,
                     json.loads(facts), json.loads(decision), _hook(hook))
    return Record(seq, logged_at, entry)


def hook_json(hook: HookCall | None) -> str | None:
    """The `hook` column of a decision (NULL when no CDS Hooks call asked)."""
    if hook is None:
        return None
    return json.dumps([hook.service_id, hook.hook, hook.hook_instance, [list(c) for c in hook.cards]])


def _hook(text: str | None) -> HookCall | None:
    if text is None:
        return None
    service_id, hook, instance, cards = json.loads(text)
    return HookCall(service_id, hook, instance, tuple((u, r) for u, r in cards))


def feedback(row: tuple[Any, ...]) -> Feedback:
    """A `SELECT FEEDBACK_COLUMNS` row as Feedback."""
    card, outcome, at, accepted, reason, key_id, request_id, decision_id, received_at = row
    return Feedback(card, outcome, at, tuple(json.loads(accepted)), json.loads(reason) if reason else None,
                    key_id, request_id, decision_id, received_at)
