"""Security: every endpoint x {no key, wrong key, wrong role, right role}; keys never logged; redacted fields
never stored; security headers on every response.

The endpoint list is read from the served OpenAPI document, and every route the app has must
be in it, so an endpoint added later is in the matrix without anyone remembering to add it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from api.config.settings import Settings
from api.http.headers import SECURITY_HEADERS
from api.http.openapi import document
from support.live import LiveServer
from support.logdb import decision_count
from support.service import KEYS, RULES, TOKENS, facts

WRONG_KEY = "apk_wrong_" + "z" * 43
CDS_HOOKS = "/cds-services"
ROLES = ("evaluate", "audit", "admin")
PATH_VALUES = {"policy_id": "couples-attendance", "version": "1.0.0", "code": "not_found"}


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An app with keys and its own engine (an admin endpoint may reload or pin its policies)."""
    directory = tmp_path_factory.mktemp("keyed")
    app = create_app({"policies": {"rules": [RULES]}, "decision_log": {"path": str(directory / "log.sqlite3")},
                      "keys": KEYS})
    yield app
    app.extensions["attendance_policy"].close()


def _operations(app: Flask) -> list[tuple[str, str, str | None]]:
    return _operations_of(app.test_client().get("/openapi.json").get_json())


def _operations_of(doc: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(method, path template, role: None public, 'any', or a role) for every documented operation."""
    out = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            out.append((method.upper(), path, op.get("x-required-role")))  # none: public, with keys or without
    return out


def _routes(app: Flask) -> set[tuple[str, str]]:
    return {(m, r.rule) for r in app.url_map.iter_rules() if r.endpoint != "static"
            and r.endpoint.split(".")[0] != "studio" for m in r.methods or () if m not in ("HEAD", "OPTIONS")}


def test_every_route_is_documented(keyed: Flask) -> None:
    """Except CDS Hooks' own endpoints: it has its own discovery (docs/cds-hooks.md), and the next test."""
    documented = {(m, re.sub(r"\{(\w+)\}", r"<\1>", p)) for m, p, _ in _operations(keyed)}
    # The studio's HTML pages are not API operations: tests/studio/test_studio_access.py checks their keys.
    routes = {(m, r) for m, r in _routes(keyed) if not r.startswith(CDS_HOOKS)}
    assert routes - documented == set(), "routes missing from /openapi.json (and so from this matrix)"


@pytest.mark.parametrize("who", [None, "wrong", "evaluate", "all"])
def test_cds_hooks_routes_take_no_api_key(keyed: Flask, who: str | None) -> None:
    """With API keys and no CDS client issuers, every CDS Hooks route refuses every caller (a JWT is needed)."""
    client = keyed.test_client()
    cds = sorted((m, r.replace("<service_id>", "couples-attendance")) for m, r in _routes(keyed)
                 if r.startswith(CDS_HOOKS))
    assert len(cds) == 3
    for method, path in cds:
        resp = client.open(path, method=method, json={} if method == "POST" else None, headers=_auth(who))
        assert (resp.status_code, resp.get_json()["code"]) == (401, "unauthenticated"), (method, path)


def _concrete(client: FlaskClient, template: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "decision_id":
            resp = client.post("/v1/decisions", json={"facts": facts("matrix")}, headers=_auth("evaluate"))
            return str(resp.get_json()["decision_id"])
        return PATH_VALUES.get(name, "x")
    return re.sub(r"\{(\w+)\}", value, template)


def _auth(who: str | None) -> dict[str, str]:
    if who is None:
        return {}
    return {"Authorization": f"Bearer {WRONG_KEY if who == 'wrong' else TOKENS[who]}"}


def _credentials(role: str | None) -> list[tuple[str | None, str]]:
    """(credential, expectation) pairs: 'open' public, 'ok' not refused, 401, 403."""
    if role is None:
        return [(None, "open"), ("wrong", "open"), ("evaluate", "open")]
    right = "evaluate" if role == "any" else role
    wrong_roles = [r for r in ROLES if r != role] if role != "any" else []
    return [(None, "401"), ("wrong", "401"), *[(r, "403") for r in wrong_roles], (right, "ok"), ("all", "ok")]


def _matrix() -> list[tuple[str, str, str | None, str | None, str]]:
    doc = document(Settings())
    return [(m, p, role, who, want) for m, p, role in _operations_of(doc) for who, want in _credentials(role)]


MATRIX = _matrix()


@pytest.mark.parametrize(("method", "template", "role", "who", "want"), MATRIX,
                         ids=[f"{m} {p} as {w} ({r})" for m, p, r, w, _ in MATRIX])
def test_endpoint_by_credential(keyed: Flask, method: str, template: str, role: str | None, who: str | None,
                                want: str) -> None:
    client = keyed.test_client()
    path = _concrete(client, template)
    body = {"facts": facts("matrix")} if template == "/v1/decisions" else \
        {"items": [{"facts": facts("matrix")}]} if template == "/v1/decisions:batch" else None
    resp = client.open(path, method=method, json=body if method == "POST" else None, headers=_auth(who))
    problem = resp.get_json(silent=True) or {}
    if want in ("401", "403"):
        assert resp.status_code == int(want), resp.get_data(as_text=True)
        assert problem["code"] == ("unauthenticated" if want == "401" else "forbidden")
        assert resp.mimetype == "application/problem+json"
        if want == "401":
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert WRONG_KEY not in resp.get_data(as_text=True)  # a key is never echoed
    else:
        assert resp.status_code not in (401, 403) and resp.status_code < 500, resp.get_data(as_text=True)
        if method == "GET":
            assert resp.status_code == 200, resp.get_data(as_text=True)


def test_a_refused_request_changes_nothing(keyed: Flask) -> None:
    client = keyed.test_client()
    database = Path(keyed.extensions["attendance_policy"].settings.database)
    before = decision_count(database)
    for who in (None, "wrong", "audit", "admin"):
        client.post("/v1/decisions", json={"facts": facts("refused")}, headers=_auth(who))
        client.post("/v1/decisions:batch", json={"items": [{"facts": facts("refused")}]}, headers=_auth(who))
    assert decision_count(database) == before


# -- keys never logged --------------------------------------------------------------------------


def test_keys_are_never_logged(live: LiveServer) -> None:
    """Every key, right or wrong, sent every way a client might: none appears in the server's log or the log DB."""
    secrets = [*TOKENS.values(), WRONG_KEY]
    for token in secrets:
        for role_path in ("/v1/decisions", "/v1/decisions:batch", "/v1/decisions?limit=1", "/metrics",
                          f"/v1/policies?key={token}", f"/v1/{token}"):
            method = "POST" if role_path in ("/v1/decisions", "/v1/decisions:batch") else "GET"
            body = {"facts": facts("keys")} if role_path == "/v1/decisions" else \
                {"items": [{"facts": facts("keys")}]} if method == "POST" else None
            live.request(method, role_path, body, headers={"Authorization": f"Bearer {token}"})
        live.request("GET", "/healthz", headers={"Authorization": f"Basic {token}"})
        live.request("GET", "/healthz", headers={"Authorization": f"Bearer {token}", "X-Api-Key": token})
    log = live.log_text()
    stored = b"".join(p.read_bytes() for p in live.database.parent.glob("decisions.sqlite3*"))
    for token in secrets:
        assert token not in log
        assert token.encode() not in stored
    assert '"key_id":"evaluate"' in log  # the log says who asked, by the key's name


# -- redacted fields never stored -------------------------------------------------------------------

MARK_TIME = "2031-07-04T13:37:42.424242Z"  # a value that appears nowhere else


@pytest.fixture
def redacting(engine: Any, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({"policies": {"rules": [RULES]}, "decision_log": {
        "path": str(tmp_path / "log.sqlite3"), "redact": ["session.scheduled_start", "preferences.absent_partner_wants_summary"]}},
        engine=engine)
    yield app
    app.extensions["attendance_policy"].close()


def test_redacted_fields_are_never_stored(redacting: Flask) -> None:
    client = redacting.test_client()
    sent = facts("redact-1", session={"scheduled_start": MARK_TIME},
                 preferences={"absent_partner_wants_summary": True, "consent_to_share_summary": True})
    one = client.post("/v1/decisions", json={"facts": sent, "explain": True})
    batch = client.post("/v1/decisions:batch", json={"items": [{"facts": sent, "explain": True}] * 3})
    assert one.status_code == 200 and batch.status_code == 200
    database = Path(redacting.extensions["attendance_policy"].settings.database)
    stored = b"".join(p.read_bytes() for p in database.parent.glob("log.sqlite3*"))  # the file and its WAL
    assert MARK_TIME.encode() not in stored
    assert b"2031-07-04" not in stored
    record = client.get(f"/v1/decisions/{one.get_json()['decision_id']}").get_json()
    assert record["facts"]["session"]["scheduled_start"] == "[redacted]"
    assert record["facts"]["preferences"]["absent_partner_wants_summary"] == "[redacted]"
    matched = [c for rec in record["decision"]["recommendations"] for c in rec["matched"]
               if c["fact"] == "preferences.absent_partner_wants_summary"]
    assert matched and {c["actual"] for c in matched} == {"[redacted]"}  # also in the conditions that matched


# -- security headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "who", "status"), [
    ("POST", "/v1/decisions", "evaluate", 200),
    ("GET", "/v1/decisions", "audit", 200),
    ("GET", "/v1/policies", "evaluate", 200),
    ("GET", "/metrics", "admin", 200),
    ("GET", "/openapi.json", None, 200),
    ("GET", "/healthz", None, 200),
    ("POST", "/v1/decisions", None, 401),
    ("GET", "/metrics", "evaluate", 403),
    ("GET", "/nowhere", None, 404),
    ("DELETE", "/v1/decisions", "all", 405),
])
def test_security_headers_on_every_response(keyed: Flask, method: str, path: str, who: str | None,
                                            status: int) -> None:
    """Regression: responses carried no security headers at all."""
    body = {"facts": facts("headers")} if method == "POST" else None
    resp = keyed.test_client().open(path, method=method, json=body, headers=_auth(who))
    assert resp.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert resp.headers.get(name) == value, name


def test_security_headers_over_http(live: LiveServer) -> None:
    reply = live.request("GET", "/healthz")
    headers = reply.headers  # names in lower case
    assert reply.status == 200
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert headers["referrer-policy"] == "no-referrer"
    assert headers.get("server", "gunicorn") == "gunicorn"  # no version number given away
