"""CDS Hooks on a PostgreSQL decision log (api/log/postgres_cds.py): the cards a call showed, the feedback on them
and the audit API's view of it, as on SQLite."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from support.cdsclient import BASE_URL, ISSUER, SESSION_ATTENDANCE, Ehr, SigningKey, hook_request, jwks
from support.service import auth


def test_cards_feedback_and_audit_on_postgres(tmp_path: Path, es384: SigningKey, make_app: Callable[..., Flask],
                                              pg_url: str) -> None:
    (tmp_path / "ehr-jwks.json").write_text(json.dumps(jwks(es384)))
    app = make_app({"cds_hooks": {"issuers": [f"{ISSUER} {tmp_path / 'ehr-jwks.json'}"], "base_url": BASE_URL},
                    "decision_log": {"url": pg_url}})
    ehr = Ehr(app.test_client(), es384)
    assert ehr.discover().status_code == 200
    body = hook_request(SESSION_ATTENDANCE, {"userId": "Practitioner/p", "patientId": "pat-a1", "facts": {
        "session": {"id": "sess-pg", "type": "couples"}, "attendance": {"partners_present": 1,
                                                                         "absence_reason": "work"}}})
    resp = ehr.call("couples-attendance", body)
    assert resp.status_code == 200, resp.json
    card = resp.json["cards"][0]
    stored = ehr.feedback("couples-attendance", [{"card": card["uuid"], "outcome": "overridden",
                                                  "outcomeTimestamp": "2026-12-01T19:06:00Z"}])
    assert stored.json == {"stored": 1}
    unknown = ehr.feedback("couples-attendance", [{"card": "4b8d0b8e-0000-4000-8000-000000000000",
                                                   "outcome": "overridden", "outcomeTimestamp": "2026-12-01T19:07:00Z"}])
    assert unknown.status_code >= 400
    client = app.test_client()
    (record,) = [i for i in client.get("/v1/decisions", headers=auth("audit")).json["items"] if i.get("cds_hooks")]
    assert record["cds_hooks"]["hook_instance"] == body["hookInstance"]
    audited = client.get(f"/v1/decisions/{record['decision_id']}", headers=auth("audit")).json
    assert [(f["card"], f["outcome"]) for f in audited["feedback"]] == [(card["uuid"], "overridden")]
