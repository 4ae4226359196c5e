"""FHIR R4 Appointment -> session facts: the one mapping, pure, documented in docs/cds-hooks.md (table tests).

What an Appointment says is mapped; what it cannot say stays unknown (left out of the facts, so the facts
schema's documented defaults apply, as for any caller) and is listed in `Mapped.unknown`. Nothing is guessed:
without a session type in this service's code system the Appointment is not a session this policy decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from api.cdshooks.errors import InvalidFhir, schema_problems
from engine.facts.prepare import fact_catalogue

__all__ = ["NOT_SENT", "PAST_SESSIONS", "PREFETCH", "SESSION_TYPE_SYSTEM", "Mapped", "appointment_facts",
           "appointments_in", "missed_in_a_row"]

SESSION_TYPE_SYSTEM = "https://attendance-policy.example/fhir/CodeSystem/session-type"
PARTNER_ACTORS = ("Patient/", "RelatedPerson/")
_SCHEMA = "cds-hooks/fhir-appointment"
PAST_SESSIONS = "pastSessions"  # the prefetch key: the patient's Appointments, newest first
PREFETCH = {PAST_SESSIONS: "Appointment?patient={{context.patientId}}&_sort=-date&_count=20"}
NOT_SENT: Any = object()  # the client did not (or could not) satisfy the prefetch
_NOT_HELD = ("cancelled", "entered-in-error", "waitlist")


@dataclass(frozen=True)
class Mapped:
    """The facts one Appointment supplies; `facts` is None when it is not a session this service knows."""

    facts: dict[str, Any] | None
    unknown: tuple[str, ...] = ()  # fact paths the Appointment could not supply, with why
    partners: tuple[str, ...] = ()  # actor references of the partners, in participant order
    absent: tuple[str, ...] = field(default=())  # the partners whose participant status is `declined`


def _session_type(appointment: dict[str, Any], where: str) -> str | None:
    codes = {c.get("code") for concept in appointment.get("serviceType", ()) for c in concept.get("coding", ())
             if c.get("system") == SESSION_TYPE_SYSTEM}
    allowed = fact_catalogue()["session.type"].enum
    if len(codes) > 1:
        raise InvalidFhir(f"{where}.serviceType codes the session type more than once: {sorted(map(str, codes))}")
    code = next(iter(codes), None)
    if code is not None and code not in allowed:
        raise InvalidFhir(f"{where}.serviceType: {code!r} is not a session type of {SESSION_TYPE_SYSTEM} "
                          f"(one of: {', '.join(allowed)})")
    return code


def _partners(appointment: dict[str, Any]) -> list[tuple[str, str]]:
    """(actor reference, participant status) of each Patient or RelatedPerson participant."""
    out = []
    for p in appointment["participant"]:
        ref = p.get("actor", {}).get("reference", "")
        if ref.startswith(PARTNER_ACTORS):
            out.append((ref, p["status"]))
    return out


def _attendance(appointment: dict[str, Any], where: str) -> tuple[dict[str, Any], list[str], list[str]]:
    """attendance.* of a couples session, the facts left unknown, the absent partners."""
    partners = _partners(appointment)
    if len(partners) > 2:
        raise InvalidFhir(f"{where}.participant: a couples session has at most 2 partners; the Appointment has "
                          f"{len(partners)} Patient or RelatedPerson participants")
    if not partners:
        return {}, ["attendance.partners_expected: no Patient or RelatedPerson participant"], []
    absent = [ref for ref, status in partners if status == "declined"]
    unsure = [ref for ref, status in partners if status in ("tentative", "needs-action")]
    unknown = [f"attendance.absence_reason: an Appointment does not record why {len(absent)} partner(s) declined"] \
        if absent else []
    if unsure:
        unknown.append(f"attendance.partners_present: {len(unsure)} partner(s) not confirmed (tentative or "
                       "needs-action) are counted as present; only `declined` is an absence")
    if appointment["status"] == "noshow" and not absent:
        unknown.append("attendance.partners_present: the Appointment is a no-show but no partner is declined")
        return {"partners_expected": len(partners)}, unknown, absent
    out: dict[str, Any] = {"partners_expected": len(partners), "partners_present": len(partners) - len(absent)}
    if absent:
        out["absence_reason"] = "unknown"
    return out, unknown, absent


def _missed(appointment: dict[str, Any]) -> bool:
    return appointment["status"] == "noshow" or any(s == "declined" for _, s in _partners(appointment))


def _earlier(past: Any, where: str) -> list[dict[str, Any]]:
    """The Appointments of the prefetched Bundle (null: none), each checked; other resources are skipped."""
    found = [(w, a) for w, a in appointments_in([] if past is None else past, where)
             if isinstance(a, dict) and a.get("resourceType") == "Appointment"]
    for w, a in found:
        problems = schema_problems(_SCHEMA, a, w)
        if problems:
            raise InvalidFhir(f"{problems[0].path}: {problems[0].message}", problems=problems)
    return [a for _, a in found]


def missed_in_a_row(appointment: dict[str, Any], past: Any, where: str = f"prefetch.{PAST_SESSIONS}"
                    ) -> tuple[int | None, str | None]:
    """history.consecutive_joint_sessions_missed (counting this session) from this couples Appointment and the
    patient's earlier ones (`past`: the prefetched Bundle, None for no data, NOT_SENT), and a note if unknown."""
    if not _missed(appointment):
        return 0, None
    if past is NOT_SENT or (isinstance(past, dict) and past.get("resourceType") == "OperationOutcome"):
        return None, (f"history.consecutive_joint_sessions_missed: at least 1 (this session); {where} was not "
                      "sent, so the earlier sessions are not known")
    start = appointment.get("start")
    earlier = [a for a in _earlier(past, where) if a.get("id") != appointment.get("id") and "start" in a
               and (start is None or a["start"] < start) and a["status"] not in _NOT_HELD
               and _session_type(a, where) == "couples"]
    run = 1
    for a in sorted(earlier, key=lambda a: a["start"], reverse=True):
        if not _missed(a):
            break
        run += 1
    return run, None


def appointment_facts(appointment: Any, where: str = "context.appointment", past: Any = NOT_SENT) -> Mapped:
    """The session facts an R4 Appointment (and the prefetched earlier ones, `past`) supply; InvalidFhir names
    the element when it is not valid FHIR."""
    problems = schema_problems(_SCHEMA, appointment, where)
    if problems:
        raise InvalidFhir(f"{problems[0].path}: {problems[0].message}", problems=problems)
    kind = _session_type(appointment, where)
    if kind is None:
        return Mapped(None, (f"session.type: no {where}.serviceType coding from {SESSION_TYPE_SYSTEM}",))
    if "id" not in appointment:
        raise InvalidFhir(f"{where}.id is required: it is the session id")
    session: dict[str, Any] = {"id": appointment["id"], "type": kind}
    unknown = [] if "start" in appointment else ["session.scheduled_start: no Appointment.start"]
    if "start" in appointment:
        session["scheduled_start"] = appointment["start"]
    facts: dict[str, Any] = {"session": session}
    absent: list[str] = []
    if kind == "couples":
        attendance, more, absent = _attendance(appointment, where)
        unknown += more
        if attendance:
            facts["attendance"] = attendance
        missed, note = missed_in_a_row(appointment, past)
        if missed:  # 0 is the facts' default: left out, as for any caller
            facts["history"] = {"consecutive_joint_sessions_missed": missed}
        unknown += [note] if note else []
    partners = tuple(ref for ref, _ in _partners(appointment))
    return Mapped(facts, tuple(unknown), partners, tuple(absent))


def appointments_in(value: Any, where: str = "context.appointments") -> list[tuple[str, Any]]:
    """The Appointments of the appointment-book context (a Bundle, or a list), each with its element path."""
    if isinstance(value, list):
        return [(f"{where}[{i}]", a) for i, a in enumerate(value)]
    problems = schema_problems(_SCHEMA, value, where, ref="bundle")
    if problems:
        raise InvalidFhir(f"{problems[0].path}: {problems[0].message}", problems=problems)
    return [(f"{where}.entry[{i}].resource", e.get("resource")) for i, e in enumerate(value.get("entry", ()))]
