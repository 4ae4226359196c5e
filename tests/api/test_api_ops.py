"""/healthz, /readyz, /metrics, /openapi.json, and what happens when the decision log cannot be written."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from support.metrics import families, sample
from support.service import auth, decide, facts


@contextmanager
def locked(app: Flask) -> Iterator[None]:
    """Another writer holds the log's write lock (as a stuck process or a full disk would block writes)."""
    conn = sqlite3.connect(app.extensions["attendance_policy"].settings.database, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def _count(app: Flask) -> int:
    conn = sqlite3.connect(app.extensions["attendance_policy"].settings.database)
    try:
        return int(conn.execute("SELECT count(*) FROM decisions").fetchone()[0])
    finally:
        conn.close()


def test_healthz(client: FlaskClient) -> None:
    resp = client.get("/healthz")
    assert (resp.status_code, resp.get_json()) == (200, {"status": "ok"})


def test_readyz(client: FlaskClient) -> None:
    resp = client.get("/readyz")
    assert (resp.status_code, resp.get_json()) == (
        200, {"status": "ready", "checks": {"policies": "ok", "decision_log": "ok"}})


def test_unwritable_log_means_503_no_decision_and_not_ready(make_app: Any) -> None:
    app = make_app({"decision_log": {"busy_timeout_ms": 20}})
    client = app.test_client()
    decide(client)
    with locked(app):
        resp = client.post("/v1/decisions", json={"facts": facts()}, headers=auth("evaluate"))
        body = resp.get_json()
        assert (resp.status_code, resp.mimetype, body["code"]) == (
            503, "application/problem+json", "decision_log_unavailable")
        assert "decision_id" not in body and resp.headers["Retry-After"]
        batch = client.post("/v1/decisions:batch", json={"items": [{"facts": facts()}]}, headers=auth("evaluate"))
        assert (batch.status_code, batch.get_json()["code"]) == (503, "decision_log_unavailable")
        ready = client.get("/readyz")
        assert (ready.status_code, ready.get_json()["code"]) == (503, "not_ready")
        assert ready.get_json()["checks"]["decision_log"].startswith("not writable")
        assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200  # recovers once the log is writable again
    decide(client)
    assert _count(app) == 2  # the refused decisions were never logged


def test_metrics_count_decisions_errors_and_latency(client: FlaskClient) -> None:
    decide(client, {"facts": facts(clinical={"safety_concern": True})})
    decide(client)
    client.post("/v1/decisions", json={"facts": {}}, headers=auth("evaluate"))
    client.get("/nope")
    resp = client.get("/metrics", headers=auth("admin"))
    assert resp.content_type == "text/plain; version=0.0.4; charset=utf-8"
    text = resp.get_data(as_text=True)
    policy = {"policy": "couples-attendance", "version": "1.0.0"}
    for name, labels, value in [
        ("attendance_decisions_total", {"outcome": "critical", **policy}, 1),
        ("attendance_decisions_total", {"outcome": "warning", **policy}, 1),
        ("attendance_errors_total", {"code": "invalid_facts"}, 1),
        ("attendance_errors_total", {"code": "not_found"}, 1),
        ("attendance_http_requests_total", {"method": "POST", "route": "/v1/decisions", "status": "200"}, 2),
        ("attendance_http_requests_total", {"method": "GET", "route": "(unmatched)", "status": "404"}, 1),
        ("attendance_http_request_duration_seconds_count", {"route": "/v1/decisions"}, 3),
    ]:
        assert sample(text, name, **labels) == value, (name, labels)
    assert families(text)["attendance_http_request_duration_seconds"] == "histogram"


def test_openapi_document(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {
        "/v1/decisions", "/v1/decisions:batch", "/v1/decisions/{decision_id}", "/v1/policies",
        "/v1/policies/{policy_id}", "/v1/policies/{policy_id}/versions/{version}", "/healthz", "/readyz",
        "/metrics", "/openapi.json", "/v1/status", "/v1/admin/reload", "/v1/admin/policies/{policy_id}/activate",
        "/v1/audit/impact", "/problems/{code}"}
    schemas = doc["components"]["schemas"]
    assert schemas["SessionFacts"]["title"] == "Session facts"
    assert schemas["DecisionBatchRequest"]["properties"]["items"]["maxItems"] == 1000
    assert doc["paths"]["/v1/decisions"]["post"]["x-required-role"] == "evaluate"
