"""Problem documents as the document describes them: `instance`, a `type` URL that answers, a JSON Pointer beside each
path, every problem of a request at once, and facts that contradict each other refused naming both fields."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from api.views.audit import CURSOR, encode_cursor
from support.service import auth, facts


def _decide(client: FlaskClient, body: Any) -> Any:
    return client.post("/v1/decisions", json=body, headers=auth("evaluate"))


def test_every_problem_type_in_the_document_has_its_page(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").get_json()
    codes = doc["paths"]["/problems/{code}"]["get"]["parameters"][0]["schema"]["enum"]
    assert {"invalid_facts", "invalid_query", "decision_not_found", "not_found", "malformed_http"} <= set(codes)
    for code in codes:
        resp = client.get(f"/problems/{code}")
        assert (resp.status_code, resp.mimetype) == (200, "text/html"), code
        assert f"<code>{code}</code>" in resp.get_data(as_text=True)


def test_an_unknown_problem_type_is_a_problem_with_a_suggestion(client: FlaskClient) -> None:
    body = client.get("/problems/invalid_fact").get_json()
    assert (body["status"], body["code"]) == (404, "unknown_problem_type")
    assert "did you mean 'invalid_facts'?" in body["detail"]


def test_a_problem_names_its_occurrence_and_its_type_resolves(client: FlaskClient) -> None:
    resp = client.get("/v1/decisions/nope", headers=auth("audit"))
    body = resp.get_json()
    assert body["instance"] == f"urn:attendance-policy:request:{resp.headers['X-Request-Id']}"
    assert body["type"] == "/problems/decision_not_found"
    assert client.get(body["type"]).status_code == 200


def test_every_query_problem_at_once(client: FlaskClient) -> None:
    body = client.get("/v1/decisions?limit=0&since=yesterday&foo=1", headers=auth("audit")).get_json()
    assert (body["status"], body["code"]) == (400, "invalid_query")
    assert [(e["path"], e["pointer"]) for e in body["errors"]] == [("foo", ""), ("limit", ""), ("since", "")]
    assert "limit must be an integer from 1 to 500" in body["detail"] and "foo" in body["detail"]


@pytest.mark.parametrize(("query", "path"), [
    ("session_id=a%01b", "session_id"),
    ("cursor=c2VxOjA", "cursor"),  # a cursor the server never issued: refused, as the document's pattern says
    ("cursor=s1234567890123456789", "cursor"),
])
def test_what_the_document_refuses_the_server_refuses(client: FlaskClient, query: str, path: str) -> None:
    body = client.get(f"/v1/decisions?{query}", headers=auth("audit")).get_json()
    assert (body["status"], [e["path"] for e in body["errors"]]) == (400, [path])


def test_the_cursor_pattern_of_the_document_is_the_servers(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").get_json()
    (cursor,) = [p for p in doc["paths"]["/v1/decisions"]["get"]["parameters"] if p["name"] == "cursor"]
    assert cursor["schema"]["pattern"] == f"^({CURSOR.pattern})?$"
    assert CURSOR.fullmatch(encode_cursor(123))


def test_envelope_and_facts_problems_come_back_together(client: FlaskClient) -> None:
    body = _decide(client, {"facts": {"session": {"id": "s-1"}, "attendance": {"a.b": 1}}, "explain": "yes"}).get_json()
    assert (body["status"], body["code"]) == (400, "invalid_request")
    assert [(e["path"], e["pointer"]) for e in body["errors"]] == [
        ("explain", "/explain"), ("facts.attendance.a.b", "/facts/attendance/a.b"),
        ("facts.session.type", "/facts/session/type")]


@pytest.mark.parametrize(("sent", "path", "fragments"), [
    ({"attendance": {"partners_expected": 1, "partners_present": 2}}, "facts.attendance.partners_present",
     ["2 partners present", "1 expected", "attendance.partners_expected"]),
    ({"history": {"program_days_this_week": 0, "program_hours_this_week": 3}}, "facts.history.program_hours_this_week",
     ["3 program hours", "0 program days", "history.program_days_this_week"]),
    ({"history": {"program_days_this_week": 2, "program_hours_this_week": 48.5}},
     "facts.history.program_hours_this_week", ["48.5 program hours", "2 program days"]),
])
def test_facts_that_contradict_each_other_are_refused(client: FlaskClient, sent: dict[str, Any], path: str,
                                                      fragments: list[str]) -> None:
    body = _decide(client, {"facts": facts(**sent)}).get_json()
    assert (body["status"], body["code"], [e["path"] for e in body["errors"]]) == (400, "invalid_facts", [path])
    assert all(f in body["errors"][0]["message"] for f in fragments), body["errors"][0]["message"]


@pytest.mark.parametrize("sent", [
    {"attendance": {"partners_expected": 1, "partners_present": 1}},
    {"attendance": {"partners_present": 2}},  # expected defaults to 2
    {"history": {"program_days_this_week": 2, "program_hours_this_week": 48}},
    {"history": {"program_hours_this_week": 30}},  # days unknown: nothing to compare
])
def test_consistent_facts_are_decided(client: FlaskClient, sent: dict[str, Any]) -> None:
    assert _decide(client, {"facts": facts(**sent)}).status_code == 200
