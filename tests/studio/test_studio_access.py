"""Who may open the studio (the API's keys, a `studio` or `audit` role), its headers, and its absence from the API document."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from flask import Flask

from api.studio.access import CSP
from support.service import TOKENS

PAGES = ["/studio/", "/studio/policies/couples-attendance/1.0.0", "/studio/try", "/studio/compare?old=1.0.0&new=1.0.0",
         "/studio/draft"]


def basic(token: str, user: str = "director") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()}


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize(("who", "status"), [
    ("studio", 200), ("audit", 200), ("all", 200), ("evaluate", 403), ("admin", 403), (None, 401), ("wrong", 401),
])
def test_with_keys_a_studio_or_audit_key_opens_every_page(make_studio: Callable[..., Flask], path: str,
                                                          who: str | None, status: int) -> None:
    client = make_studio(keys=True).test_client()
    headers = {} if who is None else {"Authorization": f"Bearer {TOKENS.get(who, 'apk_wrong_' + '0' * 40)}"}
    resp = client.get(path, headers=headers)
    assert resp.status_code == status
    if status == 401:
        assert resp.headers["WWW-Authenticate"].startswith('Basic realm="attendance-policy studio"')


@pytest.mark.parametrize(("token", "status"), [
    (TOKENS["studio"], 200), (TOKENS["audit"], 200), (TOKENS["evaluate"], 403), ("apk_not_a_key_" + "0" * 40, 401),
])
def test_a_browser_sends_the_key_as_the_basic_password(make_studio: Callable[..., Flask], token: str,
                                                       status: int) -> None:
    client = make_studio(keys=True).test_client()
    assert client.get("/studio/", headers=basic(token)).status_code == status


def test_a_malformed_basic_header_is_refused(make_studio: Callable[..., Flask]) -> None:
    client = make_studio(keys=True).test_client()
    assert client.get("/studio/", headers={"Authorization": "Basic ###"}).status_code == 401


@pytest.mark.parametrize(("remote", "status"), [("127.0.0.1", 200), ("::1", 200), ("10.0.0.7", 401)])
def test_without_keys_only_loopback_opens_it(make_studio: Callable[..., Flask], remote: str, status: int) -> None:
    client = make_studio().test_client()
    assert client.get("/studio/", environ_base={"REMOTE_ADDR": remote}).status_code == status


@pytest.mark.parametrize(("site", "status"), [("same-origin", 200), ("none", 200), (None, 200),
                                              ("cross-site", 403), ("same-site", 403)])
def test_a_draft_posted_from_another_site_is_refused(make_studio: Callable[..., Flask], site: str | None,
                                                     status: int) -> None:
    client = make_studio().test_client()
    headers = {"Sec-Fetch-Site": site} if site else {}
    resp = client.post("/studio/draft", data={"draft": "policy: x\n", "action": "check"}, headers=headers)
    assert resp.status_code == status


@pytest.mark.parametrize("path", [*PAGES, "/studio/static/studio.css", "/studio/static/studio.js"])
def test_pages_carry_their_own_content_security_policy(make_studio: Callable[..., Flask], path: str) -> None:
    with make_studio().test_client().get(path) as resp:  # a static file's stream is closed on leaving
        assert resp.status_code == 200
        assert resp.headers["Content-Security-Policy"] == CSP
        assert resp.headers["X-Frame-Options"] == "DENY"
    assert "'unsafe-inline'" not in CSP and "http" not in CSP  # nothing from outside the service


def test_the_api_keeps_its_own_policy(make_studio: Callable[..., Flask]) -> None:
    resp = make_studio().test_client().get("/healthz")
    assert resp.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_the_studio_is_not_in_the_api_description(make_studio: Callable[..., Flask]) -> None:
    doc = make_studio().test_client().get("/openapi.json").get_json()
    assert [p for p in doc["paths"] if p == "/" or p.startswith("/studio")] == []
