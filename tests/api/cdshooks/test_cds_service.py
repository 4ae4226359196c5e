"""The CDS Hooks service as an EHR meets it: discovery, a call per hook with real FHIR JSON, cards, feedback,
the decision log and the audit API (every answer validated against schemas/cds-hooks/ by the client)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from api.cdshooks.cards import OVERRIDE_REASONS
from support.cdsclient import BASE_URL, SESSION_ATTENDANCE, Ehr, fhir, hook_request, validate
from support.service import auth

SERVICE = "couples-attendance"
CONTEXT = {"userId": "PractitionerRole/prac-17", "patientId": "pat-a1"}


def facts(**sections: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"session": {"id": "sess-c1", "type": "couples"},
                           "attendance": {"partners_present": 1, "absence_reason": "work"}}
    for name, values in sections.items():
        out.setdefault(name, {}).update(values)
    return out


def attendance(ehr: Ehr, session_facts: dict[str, Any]) -> list[dict[str, Any]]:
    resp = ehr.call(SERVICE, hook_request(SESSION_ATTENDANCE, {**CONTEXT, "facts": session_facts}))
    assert resp.status_code == 200, resp.json
    cards: list[dict[str, Any]] = resp.json["cards"]
    return cards


def by_summary(cards: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["summary"]: c for c in cards}


def logged(app: Flask, hook_instance: str) -> list[dict[str, Any]]:
    items = app.test_client().get("/v1/decisions?limit=500", headers=auth("audit")).json["items"]
    return [i for i in items if i.get("cds_hooks", {}).get("hook_instance") == hook_instance]


def test_discovery_lists_each_hook_of_each_policy(ehr: Ehr) -> None:
    services = ehr.discover().json["services"]
    assert [(s["id"], s["hook"]) for s in services] == [(SERVICE, SESSION_ATTENDANCE), (SERVICE, "appointment-book")]
    assert all(s["title"].startswith("Couples therapy attendance") for s in services)


def test_one_card_per_recommendation_with_rationale_and_source(ehr: Ehr) -> None:
    cards = attendance(ehr, facts())
    assert {c["summary"] for c in cards} >= {"No penalty for the absence", "Document the missed session"}
    assert len({c["uuid"] for c in cards}) == len(cards)
    card = by_summary(cards)["Document the missed session"]
    assert card["indicator"] == "warning"
    assert "absence reason: work" in card["detail"]
    assert "- `attendance.partners_present` < `attendance.partners_expected` (`2`): it is `1`" in card["detail"]
    assert "rule `CA-013` of policy `couples-attendance` `1.0.0`" in card["detail"]
    assert card["source"]["label"] == "Couples therapy attendance in the virtual IOP 1.0.0"
    assert card["source"]["topic"]["code"] == "attendance"
    assert card["source"]["url"] == f"{BASE_URL}/studio/policies/couples-attendance/1.0.0#rule-CA-013"
    assert card["overrideReasons"] == list(OVERRIDE_REASONS)
    assert all("overrideReasons" not in c for c in cards if c["indicator"] == "info")
    assert cards[0]["indicator"] != "info"  # most urgent first


def test_a_makeup_session_is_an_appointment_to_create(ehr: Ehr) -> None:
    card = by_summary(attendance(ehr, facts(preferences={"makeup_session_requested": True})))["Offer a makeup session"]
    assert card["selectionBehavior"] == "at-most-one"
    (suggestion,) = card["suggestions"]
    (action,) = suggestion["actions"]
    assert action["type"] == "create"
    assert action["resource"]["resourceType"] == "Appointment"
    assert action["resource"]["status"] == "proposed"
    assert action["resource"]["participant"] == [{"actor": {"reference": "Patient/pat-a1"}, "status": "needs-action"}]


@pytest.mark.parametrize(("consent", "summaries"), [
    (True, ["Offer the absent partner a summary"]),
    (False, []),
])
def test_a_summary_is_suggested_only_with_consent(ehr: Ehr, consent: bool, summaries: list[str]) -> None:
    cards = attendance(ehr, facts(preferences={"absent_partner_wants_summary": True,
                                               "consent_to_share_summary": consent}))
    with_summary = [c["summary"] for c in cards for s in c.get("suggestions", ())
                    if s["actions"][0]["resource"]["resourceType"] == "CommunicationRequest"]
    assert with_summary == summaries
    if not consent:
        assert by_summary(cards)["Obtain consent before sharing a summary"]["indicator"] == "warning"


def test_suppressed_recommendations_are_not_shown(ehr: Ehr, trusted: Flask) -> None:
    body = hook_request(SESSION_ATTENDANCE, {**CONTEXT, "facts": facts(clinical={"safety_concern": True},
                                                                         preferences={"makeup_session_requested": True})})
    cards = ehr.call(SERVICE, body).json["cards"]
    assert cards[0]["indicator"] == "critical"
    assert "Offer a makeup session" not in by_summary(cards)
    (record,) = logged(trusted, body["hookInstance"])
    assert "offer_makeup_session" in [s["id"] for s in record["decision"]["suppressed"]]
    shown = [c["recommendation"] for c in record["cds_hooks"]["cards"]]
    assert shown == [r["id"] for r in sorted(record["decision"]["recommendations"],
                                             key=lambda r: ["critical", "warning", "info"].index(r["indicator"]))]


def test_the_session_appointment_gives_the_facts(ehr: Ehr, trusted: Flask) -> None:
    body = hook_request(SESSION_ATTENDANCE, {**CONTEXT, "appointment": fhir("appointment-one-declined")})
    cards = by_summary(ehr.call(SERVICE, body).json["cards"])
    assert "Proceed as a solo session" in cards
    assert "**Not known from the EHR's data**" in cards["No penalty for the absence"]["detail"]
    (record,) = logged(trusted, body["hookInstance"])
    assert record["facts"]["attendance"] == {"partners_expected": 2, "partners_present": 1, "absence_reason": "unknown"}
    assert record["session_id"] == "appt-1001"
    assert record["key_id"] == "cds:https://ehr.example.org/"
    assert record["cds_hooks"]["hook"] == SESSION_ATTENDANCE


def test_both_attended_gives_no_absence_cards(ehr: Ehr) -> None:
    body = hook_request(SESSION_ATTENDANCE, {**CONTEXT, "appointment": fhir("appointment-both-attended")})
    assert "No penalty for the absence" not in by_summary(ehr.call(SERVICE, body).json["cards"])


def test_appointment_book_with_a_bundle(ehr: Ehr, trusted: Flask) -> None:
    body = hook_request("appointment-book", {**CONTEXT, "appointments": fhir("bundle-appointment-book")})
    cards = ehr.call(SERVICE, body).json["cards"]
    assert "Document the missed session" in by_summary(cards)
    assert all("Appointment `appt-3001`" in c["detail"] for c in cards)
    (record,) = logged(trusted, body["hookInstance"])  # the dermatology Appointment is not a session: no decision
    assert record["session_id"] == "appt-3001"


def test_the_hook_specifications_example_context_gets_no_guidance(ehr: Ehr) -> None:
    """Its STU3 Appointments are not coded as sessions of this service: no cards, and no error."""
    resp = ehr.call(SERVICE, hook_request("appointment-book", fhir_example("appointment-book-context-stu3")["context"]))
    assert resp.json == {"cards": []}


def fhir_example(name: str) -> Any:
    import json
    from pathlib import Path
    return json.loads((Path(__file__).parent / "spec" / f"{name}.json").read_text())


@pytest.mark.parametrize(("body", "element"), [
    (hook_request(SESSION_ATTENDANCE, {**CONTEXT, "appointment": fhir("appointment-invalid-status")}),
     "context.appointment.participant[1].status"),
    (hook_request(SESSION_ATTENDANCE, {**CONTEXT, "appointment": fhir("appointment-no-session-type")}),
     "context.appointment.serviceType"),
    (hook_request("appointment-book", {**CONTEXT, "appointments": [fhir("appointment-invalid-status")]}),
     "context.appointments[0].participant[1].status"),
    (hook_request(SESSION_ATTENDANCE, {**CONTEXT, "facts": {"session": {"id": "s", "type": "couple"}}}),
     "context.facts.session.type: 'couple' is not one of"),
    (hook_request(SESSION_ATTENDANCE, {**CONTEXT}), "context"),
    (hook_request(SESSION_ATTENDANCE, {"patientId": "p", "facts": facts()}), "context.userId"),
    (hook_request("patient-view", {"patientId": "p"}), "hook"),
])
def test_invalid_calls_are_400_naming_the_element(ehr: Ehr, body: dict[str, Any], element: str) -> None:
    resp = ehr.call(SERVICE, body)
    assert resp.status_code == 400
    assert resp.json["detail"].startswith(element)


@pytest.mark.parametrize(("body", "path"), [
    ({"hook": SESSION_ATTENDANCE, "hookInstance": "not-a-uuid", "context": CONTEXT}, "hookInstance"),
    ({"hook": SESSION_ATTENDANCE, "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", "context": {}}, "context"),
    ({"hook": "", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", "context": CONTEXT}, "hook"),
    ({"hook": SESSION_ATTENDANCE, "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", "context": CONTEXT,
      "fhirAuthorization": {"access_token": "t", "token_type": "Bearer", "expires_in": 300, "scope": "s",
                            "subject": "c"}}, "fhirServer"),
    ({"hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", "context": CONTEXT}, "hook"),
])
def test_requests_the_specification_forbids(ehr: Ehr, body: dict[str, Any], path: str) -> None:
    resp = ehr.client.post(f"/cds-services/{SERVICE}", json=body,
                           headers={"Authorization": ehr._auth(f"/cds-services/{SERVICE}")["Authorization"]})
    assert resp.status_code == 400
    validate("problem", resp.json)
    assert path in [e["path"] for e in resp.json["errors"]]


def test_an_unknown_service_is_404(ehr: Ehr) -> None:
    resp = ehr.call("couples-atendance", hook_request(SESSION_ATTENDANCE, {**CONTEXT, "facts": facts()}))
    assert (resp.status_code, resp.json["suggestion"]) == (404, SERVICE)


def test_feedback_is_stored_with_its_decision_and_shown_by_the_audit_api(ehr: Ehr, trusted: Flask) -> None:
    body = hook_request(SESSION_ATTENDANCE, {**CONTEXT, "facts": facts(preferences={"makeup_session_requested": True})})
    cards = by_summary(ehr.call(SERVICE, body).json["cards"])
    makeup, document = cards["Offer a makeup session"], cards["Document the missed session"]
    reason = document["overrideReasons"][1]
    resp = ehr.feedback(SERVICE, [
        {"card": makeup["uuid"], "outcome": "accepted", "acceptedSuggestions": [{"id": makeup["suggestions"][0]["uuid"]}],
         "outcomeTimestamp": "2026-12-01T19:05:00Z"},
        {"card": document["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-12-01T19:06:00Z",
         "overrideReason": {"reason": {"system": reason["system"], "code": reason["code"]},
                            "userComment": "free text that must not be kept"}},
    ])
    assert resp.json == {"stored": 2}
    (record,) = logged(trusted, body["hookInstance"])
    audited = trusted.test_client().get(f"/v1/decisions/{record['decision_id']}", headers=auth("audit")).json
    accepted, overridden = audited["feedback"]
    assert (accepted["card"], accepted["outcome"], accepted["accepted_suggestions"]) == (
        makeup["uuid"], "accepted", [makeup["suggestions"][0]["uuid"]])
    assert overridden["override_reason"] == {"system": reason["system"], "code": reason["code"]}
    assert "must not be kept" not in str(audited)
    assert accepted["key_id"] == "cds:https://ehr.example.org/"


def test_feedback_for_a_card_never_shown_stores_nothing(ehr: Ehr, trusted: Flask) -> None:
    cards = attendance(ehr, facts())
    resp = ehr.feedback(SERVICE, [
        {"card": cards[0]["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-12-01T19:06:00Z"},
        {"card": "4e0a3a1e-3283-4575-ab82-028d55fe2719", "outcome": "overridden", "outcomeTimestamp": "2026-12-01T19:06:00Z"},
    ])
    assert resp.status_code == 400
    assert resp.json["detail"].startswith("feedback[1].card: no card '4e0a3a1e-3283-4575-ab82-028d55fe2719'")
    decision_id = cards[0]["detail"].rsplit("decision `", 1)[1].rstrip("`")
    assert trusted.test_client().get(f"/v1/decisions/{decision_id}", headers=auth("audit")).json["feedback"] == []


@pytest.mark.parametrize(("item", "path"), [
    ({"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-12-01T19:06:00Z"}, "feedback[0].acceptedSuggestions"),
    ({"card": "c", "outcome": "ignored", "outcomeTimestamp": "2026-12-01T19:06:00Z"}, "feedback[0].outcome"),
    ({"card": "c", "outcome": "overridden", "outcomeTimestamp": "yesterday"}, "feedback[0].outcomeTimestamp"),
    ({"card": "", "outcome": "overridden", "outcomeTimestamp": "2026-12-01T19:06:00Z"}, "feedback[0].card"),
])
def test_feedback_the_specification_forbids(ehr: Ehr, item: dict[str, Any], path: str) -> None:
    path_ = f"/cds-services/{SERVICE}/feedback"
    resp = ehr.client.post(path_, json={"feedback": [item]}, headers=ehr._auth(path_))
    assert resp.status_code == 400
    validate("problem", resp.json)
    assert resp.json["detail"].startswith(path)


def test_the_source_link_is_the_rule_on_its_studio_page(make_app: Callable[..., Flask]) -> None:
    app = make_app(keys=False)
    cards = attendance(Ehr(app.test_client()), facts())
    url = cards[0]["source"]["url"]
    path, anchor = url.removeprefix("http://localhost").split("#")
    page = app.test_client().get(path)
    assert page.status_code == 200
    assert f'id="{anchor}"' in page.get_data(as_text=True)


def test_the_past_sessions_prefetch_gives_the_run_missed(ehr: Ehr, trusted: Flask) -> None:
    """Two earlier sessions a partner missed and this booking declined: three in a row, a clinician review."""
    def session(day: int, status: str) -> dict[str, Any]:
        out = fhir("appointment-one-declined")
        out.update(id=f"appt-0{day}", start=f"2026-11-{day:02d}T18:00:00Z", status=status)
        return out
    bundle = {"resourceType": "Bundle", "type": "searchset",
              "entry": [{"resource": session(24, "noshow")}, {"resource": session(17, "fulfilled")},
                        {"resource": fhir("appointment-both-attended") | {"start": "2026-11-10T18:00:00Z"}}]}
    body = hook_request("appointment-book", {**CONTEXT, "appointments": fhir("bundle-appointment-book")},
                        prefetch={"pastSessions": bundle})
    cards = by_summary(ehr.call(SERVICE, body).json["cards"])
    assert cards["Clinician review of attendance"]["indicator"] == "warning"
    (record,) = logged(trusted, body["hookInstance"])
    assert record["facts"]["history"] == {"consecutive_joint_sessions_missed": 3}
    services = ehr.discover().json["services"]
    assert all(s["prefetch"] == {"pastSessions": "Appointment?patient={{context.patientId}}&_sort=-date&_count=20"}
               for s in services)
