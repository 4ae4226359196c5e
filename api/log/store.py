"""The decision log's interface: SQLite (embedded default) or PostgreSQL (several replicas), docs/operations.md."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from engine.core.timefmt import parse

__all__ = ["Activation", "DecisionStore", "Feedback", "Heartbeat", "HookCall", "HookLog", "LogEntry", "Page",
           "Pin", "Query", "Record", "Replicas", "to_micros"]


@dataclass(frozen=True)
class HookCall:
    """The CDS Hooks call a decision answered (api/cdshooks): service, hook, hook instance, the cards shown."""

    service_id: str
    hook: str
    hook_instance: str
    cards: tuple[tuple[str, str], ...] = ()  # (card uuid, recommendation id), in the order shown

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service_id, "hook": self.hook, "hook_instance": self.hook_instance,
                "cards": [{"uuid": u, "recommendation": r} for u, r in self.cards]}


@dataclass(frozen=True)
class LogEntry:
    """One decision to log, with facts and decision already redacted."""

    decision_id: str
    evaluated_at: str
    policy_id: str
    policy_version: str
    policy_sha256: str
    session_id: str
    key_id: str
    request_id: str
    facts: dict[str, Any]
    decision: dict[str, Any]
    hook: HookCall | None = None  # set when a CDS Hooks call asked for the decision


@dataclass(frozen=True)
class Record:
    """A logged decision as read back: the entry, its position and when it was committed."""

    seq: int
    logged_at: str
    entry: LogEntry

    def to_dict(self) -> dict[str, Any]:
        e = self.entry
        return {"decision_id": e.decision_id, "seq": self.seq, "logged_at": self.logged_at,
                "evaluated_at": e.evaluated_at,
                "policy": {"id": e.policy_id, "version": e.policy_version, "sha256": e.policy_sha256},
                "session_id": e.session_id, "key_id": e.key_id, "request_id": e.request_id,
                "facts": e.facts, "decision": e.decision, **({"cds_hooks": e.hook.to_dict()} if e.hook else {})}


@dataclass(frozen=True)
class Feedback:
    """What a user did with one CDS Hooks card of a logged decision (`POST /cds-services/{id}/feedback`)."""

    card: str  # the card's uuid
    outcome: str  # accepted | overridden
    outcome_timestamp: str
    accepted_suggestions: tuple[str, ...] = ()
    override_reason: dict[str, str] | None = None  # the Coding chosen; a free-text userComment is never kept
    key_id: str = ""
    request_id: str = ""
    decision_id: str = ""  # filled in by the store, from the card
    received_at: str = ""  # filled in by the store

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"card": self.card, "outcome": self.outcome, "outcome_timestamp": self.outcome_timestamp,
                               "received_at": self.received_at, "key_id": self.key_id, "request_id": self.request_id}
        if self.accepted_suggestions:
            out["accepted_suggestions"] = list(self.accepted_suggestions)
        if self.override_reason:
            out["override_reason"] = dict(self.override_reason)
        return out


@dataclass(frozen=True)
class Query:
    """Filters of `GET /v1/decisions`; times are UTC microseconds, `until` exclusive."""

    session_id: str | None = None
    since_us: int | None = None
    until_us: int | None = None
    after_seq: int = 0
    limit: int = 100


@dataclass(frozen=True)
class Page:
    records: list[Record]
    last_seq: int | None  # set when there may be more: the cursor to continue after


@dataclass(frozen=True)
class Pin:
    """An admin's choice of the version to serve, whatever the dates say; who made it and when."""

    policy_id: str
    version: str
    pinned_by: str
    pinned_at: str

    def to_dict(self) -> dict[str, str]:
        return {"version": self.version, "pinned_by": self.pinned_by, "pinned_at": self.pinned_at}


@dataclass(frozen=True)
class Activation:
    """One pin or unpin (`version` None), as recorded in the activation history."""

    seq: int
    policy_id: str
    version: str | None
    key_id: str
    request_id: str
    at: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "version": self.version, "key_id": self.key_id, "request_id": self.request_id,
                "at": self.at}


class DecisionStore(Protocol):
    """What the service needs from a decision log."""

    def migrate(self) -> None:
        """Create or upgrade the schema (idempotent, safe to run from several processes)."""

    def append(self, entries: Sequence[LogEntry]) -> None:
        """Commit all entries durably in one transaction, or raise StoreError and commit none."""

    def get(self, decision_id: str) -> Record | None: ...

    def query(self, q: Query) -> Page: ...

    def probe(self) -> None:
        """Raise StoreError unless a write would succeed right now."""

    def close(self) -> None: ...

    def pins_version(self) -> int:
        """A number that grows with every pin or unpin (cheap: every worker checks it on every request)."""

    def pins(self) -> tuple[int, dict[str, Pin]]:
        """The pins in force, by policy id, and the `pins_version` they correspond to."""

    def set_pin(self, policy_id: str, version: str | None, key_id: str, request_id: str) -> Pin | None:
        """Pin a version (None: unpin), recorded with who and when in the same transaction."""

    def activations(self, policy_id: str, limit: int = 10) -> list[Activation]:
        """The latest pins and unpins of a policy, newest first."""

    def purge(self, before_us: int) -> int:
        """Delete the decisions evaluated before `before_us` (retention); how many went."""


@dataclass(frozen=True)
class Heartbeat:
    """One serving worker of one replica (`host:port` of a `serve`), what it serves, when it last said so."""

    replica: str
    pid: int
    state: dict[str, Any]
    at: str = ""  # set when read back (the database's clock)


@runtime_checkable
class Replicas(Protocol):
    """A store shared by several replicas: each worker's heartbeat row (PostgreSQL; SQLite is one replica)."""

    def heartbeat(self, beat: Heartbeat) -> None:
        """Record that this worker is alive and what it serves."""

    def forget(self, replica: str, pid: int) -> None:
        """A worker that stops leaves the list at once."""

    def heartbeats(self, within_s: float) -> list[Heartbeat]:
        """Every worker that beat within the last `within_s` seconds, by replica then pid."""


@runtime_checkable
class HookLog(Protocol):
    """A store that keeps what CDS Hooks needs (api/cdshooks): the cards each decision showed (written by `append`
    from `LogEntry.hook`), the feedback on them, and the JWT ids seen. SQLite has it; a backend without it serves
    no /cds-services."""

    def record_feedback(self, items: Sequence[Feedback]) -> list[str]:
        """Store every item with the decision whose CDS Hooks call showed its card, in one transaction.

        Returns the card uuids no logged decision showed; then nothing is stored."""

    def feedback_for(self, decision_id: str) -> list[Feedback]:
        """The feedback on a decision's cards, in the order it arrived."""

    def claim_token(self, key: str, expires_us: int) -> bool:
        """Remember a one-time token id (a CDS client JWT's issuer and `jti`) until `expires_us` (UTC
        microseconds): True the first time, False for a replay while it is remembered."""


def to_micros(timestamp: str) -> int:
    """RFC 3339 text -> UTC microseconds since the epoch (orderable, unlike the text)."""
    parsed = parse(timestamp)
    delta = parsed - _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
