"""Keys, tokens and facts for the decision service tests, in process and live (kept apart from conftest: modules import them)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[2]
RULES = str(ROOT / "rules")
EXAMPLES = ROOT / "examples" / "facts"

ROLES = ("evaluate", "audit", "admin", "studio")

# Fixed, obviously fake keys: one per role, one with every role.
TOKENS = {
    "evaluate": "apk_test_evaluate_000000000000000000000000000000",
    "audit": "apk_test_audit_00000000000000000000000000000000000",
    "admin": "apk_test_admin_00000000000000000000000000000000000",
    "studio": "apk_test_studio_0000000000000000000000000000000000",
    "all": "apk_test_all_000000000000000000000000000000000000000",
}


def key_entries(tokens: dict[str, str]) -> list[dict[str, Any]]:
    """The `keys` configuration for these tokens: each named after its role, `all` with every role."""
    return [{"id": name, "sha256": hashlib.sha256(token.encode()).hexdigest(),
             "roles": list(ROLES) if name == "all" else [name]} for name, token in tokens.items()]


KEYS = key_entries(TOKENS)


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def facts(session_id: str = "sess-t1", **sections: dict[str, Any]) -> dict[str, Any]:
    """Minimal couples-session facts, one partner absent for work."""
    out: dict[str, Any] = {"session": {"id": session_id, "type": "couples", "scheduled_start": "2026-12-01T18:00:00Z"},
                           "attendance": {"partners_present": 1, "absence_reason": "work"}}
    for name, values in sections.items():
        out.setdefault(name, {}).update(values)
    return out


class StepClock:
    """Starts at 2026-06-01 12:00 UTC and moves one second per call: ordered, distinct times."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


def decide(client: FlaskClient, body: dict[str, Any] | None = None, role: str = "evaluate") -> Any:
    resp = client.post("/v1/decisions", json=body if body is not None else {"facts": facts()}, headers=auth(role))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()
