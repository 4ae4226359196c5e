"""The policy lifecycle through the Flask test client: scheduled activation, pins (made, refused, shared by every
worker, kept across a restart, and one whose file went missing)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from support.lifecycle import Clock, activate, status, version_of, write_version
from support.service import auth, facts

POLICY = "/v1/policies/couples-attendance"


def test_a_scheduled_version_becomes_active_at_its_date(make: Callable[..., Flask], rules: Path,
                                                       clock: Clock) -> None:
    write_version(rules, "1.1.0", effective="2026-07-01")
    client = make().test_client()
    clock.now = dt.datetime(2026, 6, 30, 23, 59, 59, tzinfo=dt.UTC)
    assert version_of(client) == "1.0.0"
    policy = client.get(POLICY, headers=auth("evaluate")).get_json()
    assert (policy["active_version"], policy["scheduled_version"], policy["pin"]) == ("1.0.0", "1.0.0", None)
    clock.now = dt.datetime(2026, 7, 1, 0, 0, tzinfo=dt.UTC)
    assert version_of(client) == "1.1.0"  # no reload: the date passed
    assert client.get(POLICY, headers=auth("evaluate")).get_json()["active_version"] == "1.1.0"
    worker = status(client)["workers"][0]
    assert (worker["generation"], worker["active"]) == (0, {"couples-attendance": "1.1.0"})


def test_pin_and_unpin(make: Callable[..., Flask], rules: Path) -> None:
    write_version(rules, "1.1.0")
    client = make().test_client()
    assert version_of(client) == "1.1.0"
    pinned = activate(client, "1.0.0")
    assert (pinned["active_version"], pinned["scheduled_version"], pinned["pin"]["version"],
            pinned["pin"]["pinned_by"]) == ("1.0.0", "1.1.0", "1.0.0", "admin")
    assert version_of(client) == "1.0.0"  # rolled back
    assert version_of(client, version="1.1.0") == "1.1.0"  # a request that names a version still gets it
    policy = client.get(POLICY, headers=auth("audit")).get_json()
    assert (policy["active_version"], policy["pin"]["version"]) == ("1.0.0", "1.0.0")
    assert [v["active"] for v in policy["versions"]] == [True, False]
    assert activate(client, None)["pin"] is None
    assert version_of(client) == "1.1.0"
    history = status(client)["policies"][0]["activations"]
    assert [(a["version"], a["key_id"]) for a in history] == [(None, "admin"), ("1.0.0", "admin")]


@pytest.mark.parametrize(("policy", "body", "role", "status_code", "code"), [
    ("couples-attendance", {"version": "1.0.1"}, "admin", 404, "unknown_policy_version"),
    ("couple-attendance", {"version": "1.0.0"}, "admin", 404, "unknown_policy"),
    ("couples-attendance", {}, "admin", 400, "invalid_request"),
    ("couples-attendance", {"version": "latest"}, "admin", 400, "invalid_request"),
    ("couples-attendance", {"version": "1.0.0"}, "evaluate", 403, "forbidden"),
])
def test_activate_refuses(make: Callable[..., Flask], policy: str, body: dict[str, Any], role: str,
                          status_code: int, code: str) -> None:
    client = make().test_client()
    resp = client.post(f"/v1/admin/policies/{policy}/activate", json=body, headers=auth(role))
    assert (resp.status_code, resp.get_json()["code"]) == (status_code, code)
    assert status(client)["policies"][0]["pin"] is None


def test_a_pin_holds_in_every_worker_and_after_a_restart(make: Callable[..., Flask], rules: Path,
                                                         tmp_path: Path) -> None:
    write_version(rules, "1.1.0")
    db = tmp_path / "shared.sqlite3"
    one, two = make(db=db).test_client(), make(db=db).test_client()
    assert version_of(two) == "1.1.0"
    activate(one, "1.0.0")
    assert version_of(two) == "1.0.0"  # the other worker's very next request
    restarted = make(db=db).test_client()
    assert version_of(restarted) == "1.0.0"
    assert restarted.get(POLICY, headers=auth("evaluate")).get_json()["pin"]["pinned_by"] == "admin"
    activate(two, None)
    assert version_of(one) == version_of(restarted) == "1.1.0"


def test_a_pin_whose_file_went_missing_refuses_decisions_until_unpinned(make: Callable[..., Flask], rules: Path,
                                                                         tmp_path: Path) -> None:
    newer = write_version(rules, "1.1.0")
    db = tmp_path / "shared.sqlite3"
    activate(make(db=db).test_client(), "1.1.0")
    newer.unlink()  # while the service was stopped
    client = make(db=db).test_client()
    resp = client.post("/v1/decisions", json={"facts": facts()}, headers=auth("evaluate"))
    assert (resp.status_code, resp.get_json()["code"]) == (503, "pinned_version_unavailable")
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "pinned to 1.1.0" in ready.get_json()["checks"]["policies"]
    assert status(client)["converged"] is False
    activate(client, None)
    assert version_of(client) == "1.0.0" and client.get("/readyz").status_code == 200
