"""GET /v1/policies...: loaded versions, the active one, hashes, rules summary, YAML source."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from support.service import RULES, auth

SOURCE = Path(RULES, "couples-attendance", "1.0.0.yaml")


def test_list(client: FlaskClient) -> None:
    body = client.get("/v1/policies", headers=auth("evaluate")).get_json()
    (policy,) = body["policies"]
    assert (policy["id"], policy["active_version"]) == ("couples-attendance", "1.0.0")
    (version,) = policy["versions"]
    assert version["active"] is True
    assert version["effective_from"] == "2026-01-01"
    assert version["changelog"][0]["version"] == "1.0.0"
    assert version["rules"] > 10


def test_one_policy(client: FlaskClient) -> None:
    body = client.get("/v1/policies/couples-attendance", headers=auth("audit")).get_json()
    assert body["id"] == "couples-attendance" and [v["version"] for v in body["versions"]] == ["1.0.0"]


def test_version_has_source_and_its_hash(client: FlaskClient) -> None:
    body = client.get("/v1/policies/couples-attendance/versions/1.0.0", headers=auth("admin")).get_json()
    assert body["source"] == SOURCE.read_text(encoding="utf-8")
    assert body["sha256"] == hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    assert body["parameters"]["discharge_planning_window_days"] == 14
    safety = next(r for r in body["rules"] if r["indicator"] == "critical")
    assert "strongly_encourage_joint_attendance" in safety["suppresses"]
    assert {"id", "title", "indicator", "category"} == set(body["recommendations"][0])


@pytest.mark.parametrize(("path", "code", "suggestion"), [
    ("/v1/policies/couple-attendance", "unknown_policy", "couples-attendance"),
    ("/v1/policies/zzz", "unknown_policy", None),
    ("/v1/policies/couples-attendanse/versions/1.0.0", "unknown_policy", "couples-attendance"),
    ("/v1/policies/couples-attendance/versions/1.0.1", "unknown_policy_version", "1.0.0"),
    ("/v1/policies/couples-attendance/versions/2", "unknown_policy_version", None),
])
def test_unknown(client: FlaskClient, path: str, code: str, suggestion: str | None) -> None:
    resp = client.get(path, headers=auth("evaluate"))
    body = resp.get_json()
    assert (resp.status_code, body["code"], body.get("suggestion")) == (404, code, suggestion)
    if suggestion:
        assert body["detail"].endswith(f"did you mean {suggestion!r}?")
