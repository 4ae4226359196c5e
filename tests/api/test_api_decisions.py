"""POST /v1/decisions and /v1/decisions:batch: decisions, logging, and every request error."""

from __future__ import annotations

import io
import json
import sqlite3
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.core.errors import EngineError, NoActiveVersionError
from support.service import auth, decide, example, facts


def _rows(app: Flask) -> list[tuple[str, str]]:
    path = app.extensions["attendance_policy"].settings.database
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT decision_id, key_id FROM decisions ORDER BY seq").fetchall()
    finally:
        conn.close()


def test_decision_is_returned_and_logged(app: Flask, client: FlaskClient) -> None:
    body = decide(client, {"facts": example("partner-absent-work")})
    assert body["policy"]["id"] == "couples-attendance"
    assert "no_attendance_penalty" in [r["id"] for r in body["recommendations"]]
    assert "not_fired" not in body
    assert _rows(app) == [(body["decision_id"], "evaluate")]


@pytest.mark.parametrize(("extra", "check"), [
    ({"explain": True}, lambda b: isinstance(b["not_fired"], list) and b["not_fired"]),
    ({"version": "1.0.0"}, lambda b: b["policy"]["version"] == "1.0.0"),
    ({"policy": "couples-attendance"}, lambda b: b["policy"]["id"] == "couples-attendance"),
    ({"explain": False}, lambda b: "not_fired" not in b),
])
def test_decision_options(client: FlaskClient, extra: dict[str, Any], check: Any) -> None:
    assert check(decide(client, {"facts": facts(), **extra}))


def _post(client: FlaskClient, data: bytes | str, content_type: str = "application/json",
          headers: dict[str, str] | None = None) -> Any:
    return client.post("/v1/decisions", data=data, content_type=content_type,
                       headers={**auth("evaluate"), **(headers or {})})


DEEP = "[" * 20_000 + "]" * 20_000
ERRORS = [
    # (body, content type, status, code, detail or error fragment)
    ("{", "application/json", 400, "malformed_json", "malformed JSON at line 1 column 2"),
    ('{"facts": {}, "facts": {}}', "application/json", 400, "malformed_json", "duplicate key 'facts'"),
    ('{"facts": {"session": {"id": "s", "type": "couples"}, "attendance": {"partners_present": NaN}}}',
     "application/json", 400, "malformed_json", "NaN is not valid JSON"),
    (DEEP, "application/json", 400, "malformed_json", "nests too deeply"),
    (b"\xff\xfe", "application/json", 400, "malformed_json", "not valid UTF-8"),
    ("", "application/json", 400, "malformed_json", "malformed JSON"),
    ("[]", "application/json", 400, "invalid_request", "a list is not of type object"),
    ('{"facts": {}, "explian": true}', "application/json", 400, "invalid_request", "did you mean 'explain'?"),
    ('{"facts": {}, "explain": "yes"}', "application/json", 400, "invalid_request", "not of type boolean"),
    ('{"policy": "couples-attendance"}', "application/json", 400, "invalid_request", "is required"),
    ('{"facts": {"session": {"id": "s", "type": "couple"}}}', "application/json", 400, "invalid_facts",
     "did you mean 'couples'?"),
    ('{"facts": {"session": {"id": "s", "type": "couples"}, "attendance": {"partners_present": 3}}}',
     "application/json", 400, "invalid_facts", "3 is greater than the maximum of 2"),
    ('{"facts": {"session": {"id": "s", "type": "couples"}}, "policy": "couples-attendanc"}', "application/json",
     404, "unknown_policy", "did you mean 'couples-attendance'?"),
    ('{"facts": {"session": {"id": "s", "type": "couples"}}, "version": "1.0"}', "application/json",
     404, "unknown_policy_version", "did you mean '1.0.0'?"),
    ('{"facts": {}}', "text/plain", 415, "unsupported_media_type", "not text/plain"),
    ('{"facts": {}}', "application/x-www-form-urlencoded", 415, "unsupported_media_type", "application/json"),
    ('{"facts": {}}', "application/json; charset=latin-1", 415, "unsupported_media_type", "UTF-8"),
    ('{"facts": {"session": {"id": "' + "x" * 70_000 + '"}}}', "application/json", 413, "payload_too_large",
     "limit of 65536 bytes"),
]


@pytest.mark.parametrize(("data", "ctype", "status", "code", "fragment"), ERRORS,
                         ids=[f"{e[3]}-{i}" for i, e in enumerate(ERRORS)])
def test_request_errors_are_problems(app: Flask, client: FlaskClient, data: Any, ctype: str, status: int,
                                     code: str, fragment: str) -> None:
    resp = _post(client, data, ctype)
    body = resp.get_json()
    assert (resp.status_code, resp.mimetype, body["code"], body["status"]) == (
        status, "application/problem+json", code, status)
    assert body["type"] == f"/problems/{code}"
    assert client.get(body["type"]).status_code == 200  # the type URL resolves: a page says what it means
    assert fragment in body["detail"] + json.dumps(body.get("errors", []))
    assert body["request_id"] == resp.headers["X-Request-Id"]
    assert _rows(app) == []  # nothing logged for a failed request
    assert client.get("/healthz").status_code == 200  # and the worker keeps serving


def test_invalid_facts_list_every_problem_with_paths(client: FlaskClient) -> None:
    bad = {"session": {"id": "s", "type": "couple"}, "attendance": {"partners_present": 3}, "clinical": {"x": 1}}
    body = _post(client, json.dumps({"facts": bad})).get_json()
    assert body["errors"] == [
        {"path": "facts.attendance.partners_present", "pointer": "/facts/attendance/partners_present",
         "message": "3 is greater than the maximum of 2"},
        {"path": "facts.clinical.x", "pointer": "/facts/clinical/x", "message": "unknown field"},
        {"path": "facts.session.type", "pointer": "/facts/session/type",
         "message": "'couple' is not one of: couples, individual, group, family, education; did you mean 'couples'?"},
    ]


def test_content_length_over_limit_is_refused_before_reading(client: FlaskClient) -> None:
    resp = client.post("/v1/decisions", data=b"{}", headers=auth("evaluate"), content_type="application/json",
                       environ_overrides={"CONTENT_LENGTH": "999999"})
    assert (resp.status_code, resp.get_json()["code"]) == (413, "payload_too_large")


def test_body_limit_is_configurable(make_app: Any) -> None:
    client = make_app({"limits": {"max_body_bytes": 2048}}).test_client()
    resp = _post(client, json.dumps({"facts": facts(clinical={"safety_concern": False}), "pad": "x" * 3000}))
    assert (resp.status_code, resp.get_json()["detail"]) == (
        413, "the body is larger than this endpoint's limit of 2048 bytes")


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("put", "/v1/decisions", 405, "method_not_allowed"),
    ("delete", "/v1/decisions/abc", 405, "method_not_allowed"),
    ("get", "/v1/decisions:batch", 405, "method_not_allowed"),
    ("post", "/v1/policies", 405, "method_not_allowed"),
    ("get", "/v2/decisions", 404, "not_found"),
    ("post", "/", 405, "method_not_allowed"),  # GET / redirects to the studio
    ("get", "/studio/nowhere", 404, "not_found"),
])
def test_unknown_routes_and_methods(client: FlaskClient, method: str, path: str, status: int, code: str) -> None:
    resp = getattr(client, method)(path, headers=auth("all"))
    assert (resp.status_code, resp.mimetype, resp.get_json()["code"]) == (status, "application/problem+json", code)
    if status == 405:
        assert resp.headers["Allow"]


def test_batch_mixes_results_in_order_and_logs_the_decisions(app: Flask, client: FlaskClient) -> None:
    items = [{"facts": facts("b-0")}, {"facts": {"session": {"id": "b-1"}}}, {"facts": facts("b-2"), "version": "9"},
             {"facts": facts("b-3"), "explain": True}, {"nope": 1}]
    resp = client.post("/v1/decisions:batch", json={"items": items}, headers=auth("evaluate"))
    assert resp.status_code == 200
    results = resp.get_json()["results"]
    assert [(r["index"], r["status"]) for r in results] == [(0, 200), (1, 400), (2, 404), (3, 200), (4, 400)]
    assert results[1]["problem"]["errors"] == [{"path": "facts.session.type", "pointer": "/facts/session/type",
                                                "message": "is required"}]
    assert results[2]["problem"]["code"] == "unknown_policy_version"
    assert results[4]["problem"]["errors"][0]["path"] == "facts"
    assert "not_fired" in results[3]["decision"]
    logged = [r[0] for r in _rows(app)]
    assert logged == [results[0]["decision"]["decision_id"], results[3]["decision"]["decision_id"]]


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"items": []}, 400, "invalid_request"),
    ({"items": "x"}, 400, "invalid_request"),
    ({"item": []}, 400, "invalid_request"),
    ({"items": [{"facts": {}}] * 4}, 413, "too_many_items"),
])
def test_batch_envelope_errors(make_app: Any, body: Any, status: int, code: str) -> None:
    client = make_app({"limits": {"max_batch_items": 3}}).test_client()
    resp = client.post("/v1/decisions:batch", json=body, headers=auth("evaluate"))
    assert (resp.status_code, resp.get_json()["code"]) == (status, code)


def test_batch_body_limit(make_app: Any) -> None:
    client = make_app({"limits": {"max_batch_bytes": 4096}}).test_client()
    resp = client.post("/v1/decisions:batch", json={"items": [{"facts": facts()}] * 40}, headers=auth("evaluate"))
    assert (resp.status_code, resp.get_json()["code"]) == (413, "payload_too_large")


def _raise(exc: Exception) -> Any:
    def evaluate(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return evaluate


@pytest.mark.parametrize(("exc", "status", "code", "detail"), [
    (EngineError("the engine refused the facts for p@1.0.0: error 303"), 500, "engine_error",
     "the engine refused the facts for p@1.0.0: error 303"),
    (NoActiveVersionError("no version of 'p' is in effect on 2026-06-01"), 409, "no_active_version",
     "no version of 'p' is in effect on 2026-06-01"),
    (RuntimeError("secret internals /etc/passwd"), 500, "internal_error",
     "an unexpected error occurred; the request id identifies it in the server log"),
])
def test_server_side_failures_are_problems_without_internals(app: Flask, client: FlaskClient,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture, exc: Exception,
                                                             status: int, code: str, detail: str) -> None:
    monkeypatch.setattr(app.extensions["attendance_policy"].engine, "evaluate", _raise(exc))
    resp = client.post("/v1/decisions", json={"facts": facts()}, headers=auth("evaluate"))
    body = resp.get_json()
    assert (resp.status_code, resp.mimetype, body["code"], body["detail"]) == (
        status, "application/problem+json", code, detail)
    assert "Traceback" not in resp.get_data(as_text=True)
    if code == "internal_error":
        assert body["request_id"] in caplog.text and "RuntimeError" in caplog.text  # the log has the traceback
    assert _rows(app) == []
    monkeypatch.undo()
    assert client.post("/v1/decisions", json={"facts": facts()}, headers=auth("evaluate")).status_code == 200


@pytest.mark.parametrize(("body", "status"), [
    ({"facts": facts()}, 200),
    ({"facts": facts(), "pad": "x" * 70_000}, 413),
])
def test_chunked_body_without_length(client: FlaskClient, body: dict[str, Any], status: int) -> None:
    data = json.dumps(body).encode()
    resp = client.post("/v1/decisions", input_stream=io.BytesIO(data), content_type="application/json",
                       headers={**auth("evaluate"), "Transfer-Encoding": "chunked"},
                       environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""})
    assert resp.status_code == status
