"""The FHIR Appointment -> session facts mapping (api/cdshooks/fhir.py): what is mapped, what stays unknown, and
invalid FHIR named by its element."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from api.cdshooks.errors import InvalidFhir
from api.cdshooks.fhir import NOT_SENT, SESSION_TYPE_SYSTEM, appointment_facts, appointments_in
from support.cdsclient import fhir


def appt(*participants: tuple[str, str], status: str = "fulfilled", kind: str | None = "couples",
         **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Appointment", "id": "appt-1", "status": status,
                           "start": "2026-12-01T18:00:00Z",
                           "participant": [{"actor": {"reference": ref}, "status": st} for ref, st in participants]}
    if kind:
        out["serviceType"] = [{"coding": [{"system": SESSION_TYPE_SYSTEM, "code": kind}]}]
    return {**out, **extra}


A_OK, B_OK = ("Patient/a", "accepted"), ("Patient/b", "accepted")
B_NO, R_NO = ("Patient/b", "declined"), ("RelatedPerson/r", "declined")
DOC = ("Practitioner/d", "accepted")
SESSION = {"id": "appt-1", "type": "couples", "scheduled_start": "2026-12-01T18:00:00Z"}


@pytest.mark.parametrize(("appointment", "attendance", "absent"), [
    (appt(A_OK, B_OK, DOC), {"partners_expected": 2, "partners_present": 2}, ()),
    (appt(A_OK, B_NO, DOC), {"partners_expected": 2, "partners_present": 1, "absence_reason": "unknown"},
     ("Patient/b",)),
    (appt(("Patient/a", "declined"), R_NO), {"partners_expected": 2, "partners_present": 0,
                                             "absence_reason": "unknown"}, ("Patient/a", "RelatedPerson/r")),
    (appt(A_OK, ("Patient/b", "tentative")), {"partners_expected": 2, "partners_present": 2}, ()),
    (appt(("Patient/a", "needs-action"), B_NO), {"partners_expected": 2, "partners_present": 1,
                                                 "absence_reason": "unknown"}, ("Patient/b",)),
    (appt(A_OK, DOC), {"partners_expected": 1, "partners_present": 1}, ()),
    (appt(A_OK, B_OK, status="noshow"), {"partners_expected": 2}, ()),
], ids=["both-accepted", "one-declined", "both-declined", "tentative-not-absent", "one-unsure-one-declined",
        "one-partner-booked", "noshow-without-declined"])
def test_partners_and_their_status(appointment: dict[str, Any], attendance: dict[str, Any],
                                   absent: tuple[str, ...]) -> None:
    mapped = appointment_facts(appointment)
    assert mapped.facts == {"session": SESSION, "attendance": attendance}
    assert mapped.absent == absent
    assert "Practitioner/d" not in mapped.partners


@pytest.mark.parametrize(("appointment", "unknown"), [
    (appt(A_OK, B_OK), []),
    (appt(A_OK, B_NO), ["attendance.absence_reason", "history.consecutive_joint_sessions_missed"]),
    (appt(A_OK, ("Patient/b", "tentative")), ["attendance.partners_present"]),
    (appt(("Patient/a", "needs-action"), B_NO), ["attendance.absence_reason", "attendance.partners_present",
                                                 "history.consecutive_joint_sessions_missed"]),
    (appt(A_OK, B_OK, status="noshow"), ["attendance.partners_present", "history.consecutive_joint_sessions_missed"]),
    (appt(DOC), ["attendance.partners_expected"]),
    ({k: v for k, v in appt(A_OK, B_OK).items() if k != "start"}, ["session.scheduled_start"]),
], ids=["nothing-unknown", "why-declined", "unconfirmed", "unconfirmed-and-declined", "noshow", "no-partner",
        "no-start"])
def test_what_stays_unknown_is_listed(appointment: dict[str, Any], unknown: list[str]) -> None:
    mapped = appointment_facts(appointment)
    assert [u.split(":")[0] for u in mapped.unknown] == unknown
    assert mapped.facts is not None
    assert "clinical" not in mapped.facts and "preferences" not in mapped.facts  # never invented


@pytest.mark.parametrize(("appointment", "facts"), [
    (appt(A_OK, B_NO, kind=None), None),
    (appt(A_OK, B_NO, kind="individual"), {"session": {**SESSION, "type": "individual"}}),
    (appt(A_OK, B_NO, serviceType=[{"coding": [{"system": "http://snomed.info/sct", "code": "394582007"}]}]), None),
], ids=["no-service-type", "individual-no-attendance", "other-code-system"])
def test_session_type_comes_only_from_our_code_system(appointment: dict[str, Any], facts: Any) -> None:
    assert appointment_facts(appointment).facts == facts


def _set(appointment: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(appointment)
    target = out
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


BASE = appt(A_OK, B_NO, DOC)


@pytest.mark.parametrize(("appointment", "element", "message"), [
    (_set(BASE, ("participant", 1, "status"), "absent"), "context.appointment.participant[1].status",
     "'absent' is not one of: accepted, declined, tentative, needs-action"),
    (_set(BASE, ("participant", 0, "status"), ...), "context.appointment.participant[0].status", "is required"),
    (_set(BASE, ("participant",), ...), "context.appointment.participant", "is required"),
    (_set(BASE, ("participant",), []), "context.appointment.participant", "[] should be non-empty"),
    (_set(BASE, ("start",), "2026-12-01T18:00:00"), "context.appointment.start",
     "'2026-12-01T18:00:00' is not a valid date-time"),
    (_set(BASE, ("status",), "done"), "context.appointment.status", "'done' is not one of"),
    (_set(BASE, ("resourceType",), "Encounter"), "context.appointment.resourceType", "'Appointment' was expected"),
    (_set(BASE, ("id",), "has space"), "context.appointment.id", "does not match"),
    (_set(BASE, ("participant", 0, "actor", "reference"), ""), "context.appointment.participant[0].actor.reference",
     "is shorter than 1 character"),
    (_set(BASE, ("serviceType", 0, "coding"), None), "context.appointment.serviceType[0].coding",
     "null is not of type array"),
])
def test_invalid_fhir_names_the_element(appointment: dict[str, Any], element: str, message: str) -> None:
    with pytest.raises(InvalidFhir) as e:
        appointment_facts(appointment)
    first = e.value.problems[0]
    assert first.path == element
    assert message in first.message
    assert e.value.message.startswith(element)


@pytest.mark.parametrize(("appointment", "message"), [
    (appt(A_OK, B_OK, ("Patient/c", "accepted")), "context.appointment.participant: a couples session has at most 2"),
    (appt(A_OK, kind="triad"), "context.appointment.serviceType: 'triad' is not a session type"),
    (appt(A_OK, serviceType=[{"coding": [{"system": SESSION_TYPE_SYSTEM, "code": "couples"}]},
                             {"coding": [{"system": SESSION_TYPE_SYSTEM, "code": "group"}]}]),
     "context.appointment.serviceType codes the session type more than once"),
    ({k: v for k, v in appt(A_OK).items() if k != "id"}, "context.appointment.id is required"),
], ids=["three-partners", "unknown-type", "two-types", "no-id"])
def test_fhir_this_mapping_cannot_use(appointment: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidFhir, match="^" + message.replace("(", r"\(")):
        appointment_facts(appointment)


def test_the_example_files_map() -> None:
    mapped = appointment_facts(fhir("appointment-one-declined"))
    assert mapped.facts == {"session": {"id": "appt-1001", "type": "couples", "scheduled_start": "2026-12-01T18:00:00Z"},
                            "attendance": {"partners_expected": 2, "partners_present": 1, "absence_reason": "unknown"}}
    assert mapped.partners == ("Patient/pat-a1", "Patient/pat-b2")


@pytest.mark.parametrize(("value", "paths"), [
    (fhir("bundle-appointment-book"), ["context.appointments.entry[0].resource",
                                       "context.appointments.entry[1].resource"]),
    ([fhir("appointment-one-declined")], ["context.appointments[0]"]),
    ({"resourceType": "Bundle", "type": "collection"}, []),
])
def test_appointments_of_the_booking_context(value: Any, paths: list[str]) -> None:
    assert [where for where, _ in appointments_in(value)] == paths


def test_a_bundle_with_an_empty_entry_list_is_invalid() -> None:
    with pytest.raises(InvalidFhir, match=r"^context\.appointments\.entry: \[\] should be non-empty"):
        appointments_in({"resourceType": "Bundle", "type": "collection", "entry": []})


# -- the run of joint sessions missed, from the prefetched past sessions -------------------------------------


def past(*appointments: dict[str, Any]) -> dict[str, Any]:
    """A searchset Bundle; with no match it has no `entry` (FHIR JSON has no empty lists)."""
    entry = {"entry": [{"resource": a} for a in appointments]} if appointments else {}
    return {"resourceType": "Bundle", "type": "searchset", "total": len(appointments), **entry}


def earlier(day: int, *participants: tuple[str, str], status: str = "fulfilled", kind: str | None = "couples",
            **extra: Any) -> dict[str, Any]:
    return appt(*participants, status=status, kind=kind, **{"id": f"past-{day}",
                                                             "start": f"2026-11-{day:02d}T18:00:00Z", **extra})


MISSED = earlier(24, A_OK, B_NO)
ATTENDED = earlier(17, A_OK, B_OK)


@pytest.mark.parametrize(("current", "history", "run"), [
    (appt(A_OK, B_OK), past(MISSED), 0),
    (appt(A_OK, B_NO), None, 1),
    (appt(A_OK, B_NO), past(), 1),
    (appt(A_OK, B_NO), past(MISSED, earlier(10, A_OK, B_NO), ATTENDED), 2),
    (appt(A_OK, B_NO), past(MISSED, earlier(17, A_OK, B_OK, status="noshow"), earlier(10, A_OK, B_NO)), 4),
    (appt(A_OK, B_NO), past(MISSED, earlier(20, A_OK, B_NO, status="cancelled"), ATTENDED), 2),
    (appt(A_OK, B_NO), past(MISSED, earlier(20, A_OK, B_NO, kind="individual"), ATTENDED), 2),
    (appt(A_OK, B_NO), past(MISSED, earlier(20, A_OK, B_NO, kind=None), ATTENDED), 2),
    (appt(A_OK, B_NO), past(earlier(30, A_OK, B_NO, start="2026-12-08T18:00:00Z"), ATTENDED), 1),
    (appt(A_OK, B_NO), past(appt(A_OK, B_NO), MISSED, ATTENDED), 2),
    (appt(A_OK, B_NO), past(MISSED, {"resourceType": "OperationOutcome", "issue": []}), 2),
], ids=["this-one-attended", "null-no-past", "empty-bundle", "two-in-a-row", "noshow-counts", "cancelled-skipped",
        "other-session-type-skipped", "not-ours-skipped", "later-skipped", "this-one-not-twice", "other-resources"])
def test_missed_in_a_row_counts_this_session_and_the_earlier_ones(current: dict[str, Any], history: Any,
                                                                  run: int) -> None:
    mapped = appointment_facts(current, past=history)
    assert mapped.facts is not None
    assert mapped.facts.get("history", {"consecutive_joint_sessions_missed": 0}) == {
        "consecutive_joint_sessions_missed": run}


@pytest.mark.parametrize("history", [NOT_SENT, {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]}],
                         ids=["not-sent", "could-not-prefetch"])
def test_without_the_prefetch_the_run_stays_unknown(history: Any) -> None:
    mapped = appointment_facts(appt(A_OK, B_NO), past=history)
    assert mapped.facts is not None and "history" not in mapped.facts
    assert mapped.unknown[-1].startswith("history.consecutive_joint_sessions_missed: at least 1 (this session)")


def test_an_invalid_past_session_names_its_element() -> None:
    with pytest.raises(InvalidFhir, match=r"^prefetch\.pastSessions\.entry\[0\]\.resource\.status: 'gone' is not"):
        appointment_facts(appt(A_OK, B_NO), past=past(earlier(24, A_OK, B_NO, status="gone")))
