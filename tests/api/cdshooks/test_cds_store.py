"""The decision log's CDS Hooks part on both backends (api/log/sqlite_cds.py, api/log/postgres_cds.py): cards with
their decision, feedback, JWT ids; and the migration of an SQLite log written before it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.log.postgres import PostgresStore
from api.log.sqlite import SQLiteStore
from api.log.sqlite_schema import MIGRATIONS, SCHEMA_VERSION
from api.log.store import Feedback, HookCall, LogEntry, to_micros

HOOK = HookCall("couples-attendance", "appointment-book", "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
                (("card-1", "offer_makeup_session"), ("card-2", "document_missed_session")))


def entry(decision_id: str, hook: HookCall | None = HOOK) -> LogEntry:
    return LogEntry(decision_id, "2026-06-01T12:00:00Z", "couples-attendance", "1.0.0", "0" * 64, "s-1", "cds:ehr",
                    "r-1", {"session": {"id": "s-1"}}, {"decision_id": decision_id}, hook)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLiteStore | PostgresStore]:
    """Each backend in turn (PostgreSQL: a fresh database on the session's throwaway cluster)."""
    s: SQLiteStore | PostgresStore
    if request.param == "sqlite":
        s = SQLiteStore(str(tmp_path / "log.sqlite3"), busy_timeout_ms=50)
    else:
        s = PostgresStore(request.getfixturevalue("pg_url"), timeout_ms=2000)
    s.migrate()
    yield s
    s.close()


def test_the_hook_call_is_read_back_with_its_decision(store: SQLiteStore | PostgresStore) -> None:
    store.append([entry("d-1"), entry("d-2", hook=None)])
    with_hook, without = store.get("d-1"), store.get("d-2")
    assert with_hook is not None and without is not None
    assert with_hook.entry.hook == HOOK
    assert with_hook.to_dict()["cds_hooks"] == {
        "service": "couples-attendance", "hook": "appointment-book", "hook_instance": HOOK.hook_instance,
        "cards": [{"uuid": "card-1", "recommendation": "offer_makeup_session"},
                  {"uuid": "card-2", "recommendation": "document_missed_session"}]}
    assert "cds_hooks" not in without.to_dict()


def test_feedback_is_stored_with_the_decision_of_its_card(store: SQLiteStore | PostgresStore) -> None:
    store.append([entry("d-1")])
    items = [Feedback("card-1", "accepted", "2026-06-01T12:05:00Z", ("sugg-1",), key_id="cds:ehr"),
             Feedback("card-2", "overridden", "2026-06-01T12:06:00Z",
                      override_reason={"system": "s", "code": "c"})]
    assert store.record_feedback(items) == []
    stored = store.feedback_for("d-1")
    assert [(f.card, f.outcome, f.decision_id) for f in stored] == [("card-1", "accepted", "d-1"),
                                                                     ("card-2", "overridden", "d-1")]
    assert stored[0].accepted_suggestions == ("sugg-1",) and stored[1].override_reason == {"system": "s", "code": "c"}
    assert all(f.received_at for f in stored)


def test_feedback_with_an_unknown_card_stores_nothing(store: SQLiteStore | PostgresStore) -> None:
    store.append([entry("d-1")])
    items = [Feedback("card-1", "overridden", "2026-06-01T12:05:00Z"),
             Feedback("card-9", "overridden", "2026-06-01T12:05:00Z")]
    assert store.record_feedback(items) == ["card-9"]
    assert store.feedback_for("d-1") == []


def test_a_token_id_is_claimed_once_until_it_expires(store: SQLiteStore | PostgresStore) -> None:
    future = to_micros("2999-01-01T00:00:00Z")
    assert store.claim_token("iss jti-1", future) is True
    assert store.claim_token("iss jti-1", future) is False
    assert store.claim_token("iss jti-2", future) is True
    assert store.claim_token("iss jti-old", to_micros("2000-01-01T00:00:00Z")) is True
    assert store.claim_token("iss jti-old", future) is True  # expired ids are forgotten


def test_a_log_from_before_cds_hooks_is_migrated(tmp_path: Path) -> None:
    path = str(tmp_path / "old.sqlite3")
    conn = sqlite3.connect(path)
    for step in MIGRATIONS[:2]:
        for statement in step:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO decisions (decision_id, evaluated_at, evaluated_us, logged_at, policy_id, "
                 "policy_version, policy_sha256, session_id, key_id, request_id, facts, decision) "
                 "VALUES ('d-old', '2026-06-01T12:00:00Z', 0, '2026-06-01T12:00:00Z', 'p', '1', '0', 's', 'k', "
                 "'r', '{}', '{}')")
    conn.commit()
    conn.close()
    store = SQLiteStore(path)
    try:
        store.migrate()
        old = store.get("d-old")
        assert old is not None and old.entry.hook is None
        store.append([entry("d-new")])
        assert store.record_feedback([Feedback("card-1", "overridden", "2026-06-01T12:05:00Z")]) == []
    finally:
        store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    conn.close()
