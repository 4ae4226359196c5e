"""The decision log as traffic for an impact report: each logged decision's facts, redacted ones left out.

Read only through the DecisionStore interface (`query`, page by page), so that
any store behind it serves (SQLite today). `attendance-policy diff --log DB`
and `GET /v1/audit/impact` both read here; the engine re-decides
(engine.impact.traffic), and neither ever shows a logged fact.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from api.log.redaction import redacted_paths
from api.log.replay import without
from api.log.store import DecisionStore, Query, Record, to_micros
from engine.core.errors import PolicyError, StoreError
from engine.core.schemas import FORMAT_CHECKER
from engine.impact.traffic import TrafficCase

__all__ = ["PAGE", "logged_cases", "open_log", "parse_when", "to_case", "window"]

PAGE = 500  # records per query
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class InvalidWindow(PolicyError):
    code, title = "invalid_window", "Invalid time window"


def to_case(record: Record) -> TrafficCase:
    """A logged decision as a case to re-decide: its facts without the redacted ones, and which those were."""
    e = record.entry
    hidden = redacted_paths(e.facts)
    facts = without(e.facts, hidden) if hidden else e.facts
    return TrafficCase(e.decision_id, e.policy_id, facts, frozenset(hidden))


def logged_cases(store: DecisionStore, since_us: int | None = None, until_us: int | None = None,
                 page: int = PAGE) -> Iterator[TrafficCase]:
    """Every logged decision evaluated in [since, until), in log order, page by page."""
    after = 0
    while True:
        got = store.query(Query(since_us=since_us, until_us=until_us, after_seq=after, limit=page))
        for record in got.records:
            yield to_case(record)
        if got.last_seq is None:
            return
        after = got.last_seq


def parse_when(name: str, value: str | None) -> int | None:
    """`YYYY-MM-DD` (midnight UTC) or an RFC 3339 date-time -> UTC microseconds; InvalidWindow otherwise."""
    if value is None:
        return None
    text = value.strip()
    if _DATE.fullmatch(text):
        try:
            _dt.date.fromisoformat(text)
        except ValueError:
            raise InvalidWindow(f"{name} {value!r} is not a date (YYYY-MM-DD)") from None
        text += "T00:00:00Z"
    if not FORMAT_CHECKER.conforms(text, "date-time"):
        raise InvalidWindow(f"{name} must be a date (2026-11-01) or an RFC 3339 date-time with a time zone "
                            f"(2026-11-01T00:00:00Z), not {value!r}")
    return to_micros(text)


def window(since: str | None, until: str | None) -> str:
    """The time window in words, for the report."""
    if since and until:
        return f"evaluated from {since} until (not including) {until}"
    if since:
        return f"evaluated from {since} on"
    return f"evaluated before {until}" if until else "all of it"


_URL_SCHEMES = ("postgresql://", "postgres://")


@contextmanager
def open_log(database: str, since: str | None, until: str | None) -> Iterator[tuple[Iterator[TrafficCase], str]]:
    """For `attendance-policy diff --log DB`: the logged cases in the window and a description of where from.

    DB is an SQLite file or a `postgresql://` URL (the replicas' shared log), read through the same store."""
    since_us, until_us = parse_when("--since", since), parse_when("--until", until)
    store: DecisionStore
    if database.startswith(_URL_SCHEMES):
        from api.log.postgres import PostgresStore, describe

        store, named = PostgresStore(database), describe(database)
    else:
        from api.log.sqlite import SQLiteStore

        if not Path(database).is_file():
            raise StoreError(f"no decision log at {database}")
        store, named = SQLiteStore(database), database
    try:
        yield logged_cases(store, since_us, until_us), f"the decision log {named} ({window(since, until)})"
    finally:
        store.close()
