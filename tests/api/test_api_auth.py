"""API keys and roles: every endpoint x every role, 401 vs 403, auth off only for loopback."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.config.settings import ApiKey
from api.http.auth import KeyRing, hash_token
from api.http.problems import Unauthenticated
from support.service import TOKENS, auth, decide, facts

DECIDE = {"facts": facts()}
BATCH = {"items": [{"facts": facts()}]}

# (method, path, json body, role needed; "any" = any valid key, None = public)
ENDPOINTS: list[tuple[str, str, Any, str | None]] = [
    ("post", "/v1/decisions", DECIDE, "evaluate"),
    ("post", "/v1/decisions:batch", BATCH, "evaluate"),
    ("get", "/v1/decisions", None, "audit"),
    ("get", "/v1/decisions/{decision_id}", None, "audit"),
    ("get", "/v1/policies", None, "any"),
    ("get", "/v1/policies/couples-attendance", None, "any"),
    ("get", "/v1/policies/couples-attendance/versions/1.0.0", None, "any"),
    ("get", "/metrics", None, "admin"),
    ("get", "/healthz", None, None),
    ("get", "/readyz", None, None),
    ("get", "/openapi.json", None, None),
]
ROLES = ["evaluate", "audit", "admin", "all", None]


def _expected(needed: str | None, role: str | None) -> int:
    if needed is None:
        return 200
    if role is None:
        return 401
    return 200 if needed == "any" or role in ("all", needed) else 403


CASES = [(m, p, b, n, r, _expected(n, r)) for m, p, b, n in ENDPOINTS for r in ROLES]


@pytest.mark.parametrize(("method", "path", "body", "needed", "role", "status"), CASES,
                         ids=[f"{c[0]} {c[1]} as {c[4]}" for c in CASES])
def test_roles(client: FlaskClient, method: str, path: str, body: Any, needed: str | None, role: str | None,
               status: int) -> None:
    if "{decision_id}" in path:
        path = path.format(decision_id=decide(client)["decision_id"])
    resp = getattr(client, method)(path, json=body, headers=auth(role) if role else {})
    assert resp.status_code == status, resp.get_data(as_text=True)
    if status == 401:
        assert resp.get_json()["code"] == "unauthenticated"
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    if status == 403:
        assert resp.get_json()["code"] == "forbidden"
        assert f"the key {role!r} does not have the {needed!r} role" == resp.get_json()["detail"]


@pytest.mark.parametrize(("header", "detail"), [
    (None, "send an API key as `Authorization: Bearer <key>`"),
    ("Basic dXNlcjpwYXNz", "the Authorization header must be `Bearer <key>`"),
    ("Bearer", "the Authorization header must be `Bearer <key>`"),
    ("Bearer ", "the Authorization header must be `Bearer <key>`"),
    ("Bearer apk_wrong_0000000000000000000000000000000000", "the API key is not valid"),
    (f"Bearer {TOKENS['evaluate']}x", "the API key is not valid"),
    (f"Bearer {TOKENS['evaluate'][:-1]}", "the API key is not valid"),
    ("Bearer ünïcödé", "the API key is not valid"),
])
def test_unauthenticated(client: FlaskClient, header: str | None, detail: str) -> None:
    resp = client.post("/v1/decisions", json=DECIDE, headers={"Authorization": header} if header else {})
    assert (resp.status_code, resp.get_json()["code"], resp.get_json()["detail"]) == (401, "unauthenticated", detail)


def test_scheme_is_case_insensitive(client: FlaskClient) -> None:
    resp = client.post("/v1/decisions", json=DECIDE, headers={"Authorization": f"bearer {TOKENS['evaluate']}"})
    assert resp.status_code == 200


def test_auth_is_checked_before_the_body(client: FlaskClient) -> None:
    resp = client.post("/v1/decisions", data="{", content_type="text/plain")
    assert resp.status_code == 401
    resp = client.post("/v1/decisions", data="{", content_type="text/plain", headers=auth("audit"))
    assert resp.status_code == 403


@pytest.mark.parametrize(("remote", "status", "key_id"), [
    ("127.0.0.1", 200, "anonymous"), ("127.8.9.10", 200, "anonymous"), ("::1", 200, "anonymous"),
    ("10.0.0.7", 401, None), ("192.168.1.2", 401, None),
])
def test_auth_off_serves_loopback_only(make_app: Any, remote: str, status: int, key_id: str | None) -> None:
    client = make_app(keys=False).test_client()
    resp = client.post("/v1/decisions", json=DECIDE, environ_base={"REMOTE_ADDR": remote})
    assert resp.status_code == status
    if status == 200:
        record = client.get(f"/v1/decisions/{resp.get_json()['decision_id']}").get_json()
        assert record["key_id"] == key_id


def test_auth_off_with_allow_unauthenticated_serves_anyone(make_app: Any) -> None:
    app: Flask = make_app({"server": {"host": "0.0.0.0", "allow_unauthenticated": True}}, keys=False)
    resp = app.test_client().get("/v1/policies", environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert resp.status_code == 200


def test_key_matching_checks_every_key() -> None:
    keys = [ApiKey(f"k{i}", hash_token(f"token-{i}" * 8), frozenset({"audit"})) for i in range(5)]
    ring = KeyRing(keys)
    assert ring.authenticate("Bearer " + "token-3" * 8, "10.0.0.1").key_id == "k3"
    with pytest.raises(Unauthenticated):
        ring.authenticate("Bearer " + "token-9" * 8, "10.0.0.1")
