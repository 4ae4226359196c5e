"""On a decision log backend without api.log.store.HookLog (PostgreSQL, for now) /cds-services says so with a
503 problem, and the rest of the service is unaffected."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from support.cdsclient import SESSION_ATTENDANCE, Ehr, hook_request
from support.service import auth


def test_cds_hooks_need_a_log_that_keeps_cards(make: Callable[..., Flask], pg_url: str) -> None:
    app = make({"decision_log": {"url": pg_url}})
    ehr = Ehr(app.test_client())
    body = hook_request(SESSION_ATTENDANCE, {"userId": "Practitioner/p", "patientId": "pat-a1",
                                             "facts": {"session": {"id": "sess-pg", "type": "couples"}}})
    for resp in (ehr.discover(), ehr.call("couples-attendance", body)):
        assert (resp.status_code, resp.json["code"]) == (503, "cds_hooks_unavailable")
        assert "PostgresStore" in resp.json["detail"]
    decided = app.test_client().post("/v1/decisions", json={"facts": body["context"]["facts"]},
                                     headers=auth("evaluate"))
    assert decided.status_code == 200
