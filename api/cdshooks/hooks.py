"""The services this server offers (discovery) and what a hook call asks (request -> facts, one set per session)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.cdshooks.cards import CardContext
from api.cdshooks.errors import InvalidFhir, InvalidHookRequest, schema_problems
from api.cdshooks.fhir import (
    NOT_SENT,
    PAST_SESSIONS,
    PREFETCH,
    SESSION_TYPE_SYSTEM,
    Mapped,
    appointment_facts,
    appointments_in,
)
from engine.core.errors import NoActiveVersionError
from engine.runtime.engine import Engine

__all__ = ["APPOINTMENT_BOOK", "HOOKS", "SESSION_ATTENDANCE", "Call", "Session", "parse_call", "services"]

SESSION_ATTENDANCE = "org.attendance-policy.session-attendance"
APPOINTMENT_BOOK = "appointment-book"
HOOKS = (SESSION_ATTENDANCE, APPOINTMENT_BOOK)
_CONTEXT = {SESSION_ATTENDANCE: "cds-hooks/session-attendance-context",
            APPOINTMENT_BOOK: "cds-hooks/appointment-book-context"}
_DESCRIPTION = {
    SESSION_ATTENDANCE: "When a couples-therapy session's attendance is known: the attendance policy's "
                        "recommendations for that session (from session facts or the session's FHIR Appointment).",
    APPOINTMENT_BOOK: "When sessions are booked: the attendance policy's recommendations for each proposed "
                      "Appointment coded as a session of this service (a partner who declined is absent).",
}
_TITLE = {SESSION_ATTENDANCE: "session attendance", APPOINTMENT_BOOK: "appointment booking"}
_USAGE = (f"The session type comes from Appointment.serviceType coded in {SESSION_TYPE_SYSTEM}; an Appointment "
          "without it gets no cards. Patient and RelatedPerson participants are the partners. The pastSessions "
          "prefetch gives the run of joint sessions missed. "
          "See docs/cds-hooks.md for every fact an Appointment can and cannot supply.")


@dataclass(frozen=True)
class Session:
    """One session to decide: its facts, where in the request they came from, what its cards need."""

    facts: dict[str, Any]
    where: str  # `context.facts`, or the Appointment's element
    ctx: CardContext


@dataclass(frozen=True)
class Call:
    """A checked hook call: the hook, its instance, the sessions it asks about."""

    hook: str
    hook_instance: str
    sessions: tuple[Session, ...]


def services(engine: Engine) -> list[dict[str, Any]]:
    """Discovery: per policy with an active version, one entry per hook, all with the policy's id."""
    out = []
    for policy_id in engine.policies.policy_ids():
        try:
            policy = engine.policies.active(policy_id, engine.clock().date())
        except NoActiveVersionError:
            continue
        for hook in HOOKS:
            out.append({"hook": hook, "title": f"{policy.title}: {_TITLE[hook]}", "description": _DESCRIPTION[hook],
                        "id": policy_id, "prefetch": dict(PREFETCH), "usageRequirements": _USAGE})
    return out


def _check(name: str, body: Any, prefix: str, error: type[InvalidHookRequest] = InvalidHookRequest) -> None:
    problems = schema_problems(name, body, prefix)
    if problems:
        raise error(f"{problems[0].path}: {problems[0].message}", problems=problems)


def _session(mapped: Mapped, where: str, patient_id: str, appointment: str | None = None) -> Session:
    assert mapped.facts is not None
    return Session(mapped.facts, where, CardContext(mapped.facts, patient_id, mapped.partners, mapped.absent,
                                                    mapped.unknown, appointment=appointment))


def _attendance(context: dict[str, Any], past: Any) -> list[Session]:
    patient = context["patientId"]
    if "facts" in context:  # complete by the facts schema: the prefetch is not needed
        return [Session(context["facts"], "context.facts", CardContext(context["facts"], patient))]
    mapped = appointment_facts(context["appointment"], past=past)
    if mapped.facts is None:
        raise InvalidFhir(f"context.appointment.serviceType: no coding from {SESSION_TYPE_SYSTEM}; the session "
                          "type is needed and is never guessed")
    return [_session(mapped, "context.appointment", patient)]


def _booked(context: dict[str, Any], past: Any) -> list[Session]:
    out = []
    for where, appointment in appointments_in(context["appointments"]):
        mapped = appointment_facts(appointment, where, past)
        if mapped.facts is not None:  # an Appointment that is not one of our sessions gets no cards
            out.append(_session(mapped, where, context["patientId"], appointment.get("id")))
    return out


def parse_call(body: Any) -> Call:
    """The request (CDS Hooks schema, then the hook's context schema), mapped to facts per session."""
    _check("cds-hooks/request", body, "")
    hook = body["hook"]
    if hook not in HOOKS:
        raise InvalidHookRequest(f"hook: this service answers {' and '.join(HOOKS)}, not {hook!r}")
    _check(_CONTEXT[hook], body["context"], "context")
    past = body.get("prefetch", {}).get(PAST_SESSIONS, NOT_SENT)
    read = _attendance if hook == SESSION_ATTENDANCE else _booked
    sessions = read(body["context"], past)
    return Call(hook, body["hookInstance"], tuple(sessions))
