"""The CDS Hooks tables of the PostgreSQL decision log: cards shown, feedback on them, JWT ids seen (api/cdshooks).

The same rows as SQLite's (api/log/sqlite_cds.py), so `db copy` moves them unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from api.log.sqlite_schema import FEEDBACK_COLUMNS, feedback
from api.log.store import Feedback, LogEntry

__all__ = ["claim_token", "feedback_for", "insert_cards", "purge", "record_feedback"]


def insert_cards(conn: Any, entries: Sequence[LogEntry]) -> None:
    """Inside the append's transaction: each card a CDS Hooks call showed, with its decision."""
    rows = [(card, e.decision_id) for e in entries if e.hook for card, _ in e.hook.cards]
    if rows:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO cds_cards (card_uuid, decision_id) VALUES (%s, %s)", rows)


def record_feedback(conn: Any, items: Sequence[Feedback], now: str) -> list[str]:
    """Inside a transaction: the unknown card uuids (nothing stored), or every item stored with its decision."""
    cards = list(dict.fromkeys(i.card for i in items))
    decisions = dict(conn.execute("SELECT card_uuid, decision_id FROM cds_cards WHERE card_uuid = ANY(%s)",
                                  (cards,)).fetchall())
    unknown = [c for c in cards if c not in decisions]
    if unknown:
        return unknown
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO cds_feedback (decision_id, card_uuid, outcome, accepted_suggestions, override_reason, "
            "outcome_timestamp, key_id, request_id, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(decisions[i.card], i.card, i.outcome, json.dumps(list(i.accepted_suggestions)),
              json.dumps(i.override_reason) if i.override_reason else None, i.outcome_timestamp, i.key_id,
              i.request_id, now) for i in items])
    return []


def feedback_for(conn: Any, decision_id: str) -> list[Feedback]:
    rows = conn.execute(f"SELECT {FEEDBACK_COLUMNS} FROM cds_feedback WHERE decision_id = %s ORDER BY seq",
                        (decision_id,)).fetchall()
    return [feedback(r) for r in rows]


def claim_token(conn: Any, key: str, expires_us: int, now_us: int) -> bool:
    """Inside a transaction: forget expired ids, then claim `key` (False: it is remembered already)."""
    conn.execute("DELETE FROM cds_tokens WHERE expires_us <= %s", (now_us,))
    cur = conn.execute("INSERT INTO cds_tokens (key, expires_us) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
                       (key, expires_us))
    return bool(cur.rowcount == 1)


def purge(conn: Any) -> None:
    """Inside the purge's transaction: the cards and feedback of decisions no longer in the log."""
    for table in ("cds_cards", "cds_feedback"):
        conn.execute(f"DELETE FROM {table} t WHERE NOT EXISTS "
                     f"(SELECT 1 FROM decisions d WHERE d.decision_id = t.decision_id)")
