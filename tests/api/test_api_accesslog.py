"""Access log: one JSON line per request with id, key, status, latency; never facts or keys."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask.testing import FlaskClient

from api.http.accesslog import ACCESS_LOGGER
from support.service import TOKENS, auth, facts


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOGGER]


def test_lines_carry_who_what_how_long_and_no_phi(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    secret_session = "sess-do-not-log-42"
    ok = client.post("/v1/decisions?note=x", json={"facts": facts(secret_session)}, headers=auth("evaluate"))
    bad = client.post("/v1/decisions", json={"facts": {"session": {"id": secret_session, "type": "nope"}}},
                      headers={**auth("evaluate"), "X-Request-Id": "caller-id-1"})
    client.get("/v1/decisions", headers={"Authorization": "Bearer wrong-key-that-must-not-be-logged"})
    first, second, third = _lines(caplog)
    assert {k: first[k] for k in ("event", "method", "route", "status", "key_id", "error", "decisions")} == {
        "event": "http_request", "method": "POST", "route": "/v1/decisions", "status": 200, "key_id": "evaluate",
        "error": None, "decisions": 1}
    assert first["request_id"] == ok.headers["X-Request-Id"] and first["latency_ms"] >= 0
    assert (second["request_id"], second["status"], second["error"]) == ("caller-id-1", 400, "invalid_facts")
    assert bad.headers["X-Request-Id"] == "caller-id-1"
    assert (third["status"], third["key_id"], third["error"]) == (401, None, "unauthenticated")
    text = caplog.text
    for secret in (secret_session, "wrong-key", TOKENS["evaluate"], "note=x", "couples"):
        assert secret not in text


@pytest.mark.parametrize("incoming", ["", "a" * 65, "has space", "semi;colon", "ünï"])
def test_unsafe_request_ids_are_replaced(client: FlaskClient, incoming: str) -> None:
    rid = client.get("/healthz", headers={"X-Request-Id": incoming}).headers["X-Request-Id"]
    assert rid != incoming and len(rid) == 32


@pytest.mark.parametrize("incoming", ["ok-id\n", "ok-id\r\n", "ok\x00id", "a" * 64 + "\n"])
def test_a_request_id_must_be_safe_to_its_end(client: FlaskClient, incoming: str) -> None:
    """Issue 15: `^...$` let a trailing newline through (`$` matches before it); the whole value must match."""
    rid = client.get("/healthz", environ_base={"HTTP_X_REQUEST_ID": incoming}).headers["X-Request-Id"]
    assert rid != incoming.strip() and len(rid) == 32 and rid.isalnum()
