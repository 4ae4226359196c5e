"""The policy lifecycle in tests: new versions of the bundled policy written to a rules directory, a settable
clock, and the admin and status calls of the service (through the Flask test client)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from api.lifecycle.manager import Lifecycle
from support.service import RULES, auth, decide, facts

SOURCE = Path(RULES, "couples-attendance", "1.0.0.yaml").read_text(encoding="utf-8")


def version_text(version: str, effective: str | None = None, *, broken: bool = False) -> str:
    """The bundled policy as another version (with its changelog entry); `broken` names an unknown fact.

    By default version 1.N.0 takes effect on the first of month N+1 of 2026 (1.0.0: January), so each
    version takes effect after the one before it, as the gate requires.
    """
    effective = effective or f"2026-{1 + int(version.split('.')[1]):02d}-01"
    text = SOURCE.replace("version: 1.0.0\n", f"version: {version}\n", 1)
    text = text.replace('effective_from: "2026-01-01"', f'effective_from: "{effective}"', 1)
    text = text.replace("changelog:\n", f'changelog:\n  - version: {version}\n    date: "{effective}"\n'
                                        f"    changes: Test version {version}.\n", 1)
    return text.replace("fact: clinical.safety_concern,", "fact: clinical.safety_concerns,", 1) if broken else text


def write_version(rules: Path, version: str, effective: str | None = None, *, broken: bool = False) -> Path:
    path = rules / "couples-attendance" / f"{version}.yaml"
    path.write_text(version_text(version, effective, broken=broken), encoding="utf-8")
    return path


class Clock:
    """A settable clock (UTC)."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def lifecycle(app: Flask) -> Lifecycle:
    return app.extensions["attendance_policy"].lifecycle  # type: ignore[no-any-return]


def version_of(client: FlaskClient, **body: Any) -> str:
    return str(decide(client, {"facts": facts(), **body})["policy"]["version"])


def status(client: FlaskClient) -> dict[str, Any]:
    resp = client.get("/v1/status", headers=auth("evaluate"))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def reload(client: FlaskClient, expect: int = 200) -> dict[str, Any]:
    resp = client.post("/v1/admin/reload", headers=auth("admin"))
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def activate(client: FlaskClient, version: str | None, expect: int = 200, policy: str = "couples-attendance",
             role: str = "admin") -> dict[str, Any]:
    resp = client.post(f"/v1/admin/policies/{policy}/activate", json={"version": version}, headers=auth(role))
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]
