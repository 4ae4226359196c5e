"""CORS on /cds-services (api/cdshooks/cors.py): allowlisted origins only, never credentials, never on /v1."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

EHR = "https://ehr.example.org"
PREFLIGHT = {"Origin": EHR, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type"}


@pytest.fixture
def cors(make_app: Callable[..., Flask]) -> Flask:
    return make_app({"cds_hooks": {"cors_origins": [EHR]}}, keys=False)


def test_a_preflight_from_an_allowed_origin(cors: Flask) -> None:
    resp = cors.test_client().options("/cds-services/couples-attendance", headers=PREFLIGHT)
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == EHR
    assert resp.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
    assert resp.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert "Origin" in resp.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in resp.headers


@pytest.mark.parametrize(("method", "path"), [("get", "/cds-services"), ("post", "/cds-services/nope")])
def test_answers_and_errors_carry_the_origin(cors: Flask, method: str, path: str) -> None:
    resp = getattr(cors.test_client(), method)(path, headers={"Origin": EHR}, json={})
    assert resp.headers["Access-Control-Allow-Origin"] == EHR
    assert resp.headers["Cross-Origin-Resource-Policy"] == "cross-origin"


@pytest.mark.parametrize(("origin", "path"), [
    ("https://evil.example", "/cds-services"),
    ("null", "/cds-services"),
    (EHR, "/v1/policies"),
])
def test_no_cors_for_other_origins_or_the_own_api(cors: Flask, origin: str, path: str) -> None:
    resp = cors.test_client().options(path, headers={**PREFLIGHT, "Origin": origin})
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_any_origin_only_when_configured(make_app: Callable[..., Flask]) -> None:
    client = make_app({"cds_hooks": {"cors_origins": ["*"]}}, keys=False).test_client()
    assert client.get("/cds-services", headers={"Origin": "https://x.example"}).headers[
        "Access-Control-Allow-Origin"] == "*"
    closed = make_app(keys=False).test_client()
    assert "Access-Control-Allow-Origin" not in closed.get("/cds-services", headers={"Origin": EHR}).headers
