"""The CDS Hooks tables of the SQLite decision log: cards shown, feedback on them, JWT ids seen (api/cdshooks)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from api.log.sqlite_schema import FEEDBACK_COLUMNS, feedback
from api.log.store import Feedback, LogEntry

__all__ = ["claim_token", "feedback_for", "insert_cards", "purge", "record_feedback"]


def insert_cards(conn: sqlite3.Connection, entries: Sequence[LogEntry]) -> None:
    """Inside the append's transaction: each card a CDS Hooks call showed, with its decision."""
    rows = [(card, e.decision_id) for e in entries if e.hook for card, _ in e.hook.cards]
    if rows:
        conn.executemany("INSERT INTO cds_cards (card_uuid, decision_id) VALUES (?, ?)", rows)


def record_feedback(conn: sqlite3.Connection, items: Sequence[Feedback], now: str) -> list[str]:
    """Inside a write transaction: the unknown card uuids, or every item stored with its decision."""
    decisions: dict[str, str] = {}
    for item in items:
        row = conn.execute("SELECT decision_id FROM cds_cards WHERE card_uuid = ?", (item.card,)).fetchone()
        if row:
            decisions[item.card] = row[0]
    unknown = list(dict.fromkeys(i.card for i in items if i.card not in decisions))
    if unknown:
        return unknown
    conn.executemany(
        "INSERT INTO cds_feedback (decision_id, card_uuid, outcome, accepted_suggestions, override_reason, "
        "outcome_timestamp, key_id, request_id, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(decisions[i.card], i.card, i.outcome, json.dumps(list(i.accepted_suggestions)),
          json.dumps(i.override_reason) if i.override_reason else None, i.outcome_timestamp, i.key_id,
          i.request_id, now) for i in items])
    return []


def feedback_for(conn: sqlite3.Connection, decision_id: str) -> list[Feedback]:
    rows = conn.execute(f"SELECT {FEEDBACK_COLUMNS} FROM cds_feedback WHERE decision_id = ? ORDER BY seq",
                        (decision_id,)).fetchall()
    return [feedback(r) for r in rows]


def claim_token(conn: sqlite3.Connection, key: str, expires_us: int, now_us: int) -> bool:
    """Inside a write transaction: forget expired ids, then claim `key` (False: it is remembered already)."""
    conn.execute("DELETE FROM cds_tokens WHERE expires_us <= ?", (now_us,))
    cur = conn.execute("INSERT OR IGNORE INTO cds_tokens (key, expires_us) VALUES (?, ?)", (key, expires_us))
    return cur.rowcount == 1


def purge(conn: sqlite3.Connection) -> None:
    """Inside the purge's transaction: the cards and feedback of decisions no longer in the log."""
    for table in ("cds_cards", "cds_feedback"):
        conn.execute(f"DELETE FROM {table} WHERE decision_id NOT IN (SELECT decision_id FROM decisions)")
