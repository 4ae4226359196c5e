"""Real responses validate against the schemas of the served OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from support.openapi import DOC_URI, registry_of, response_errors, response_validator
from support.service import auth, decide, facts


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_ref_in_the_document_resolves_inside_it(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").get_json()
    resolver = registry_of(doc).resolver(base_uri=DOC_URI)
    refs = _refs(doc)
    for ref in refs:
        assert ref.startswith("#/components/"), ref  # no file names, no `$id`s: a plain pointer into the document
        resolver.lookup(ref)  # raises if unresolvable
    assert len(refs) > 50
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
        assert not {"$id", "$defs", "$schema"} & set(schema)


BATCH = {"items": [{"facts": facts("o-1"), "explain": True}, {"facts": {"session": {}}}, {"facts": facts(),
                                                                                        "policy": "nope"}]}
# (method, template, concrete path or None, json body, role, expected status)
CASES: list[tuple[str, str, str | None, Any, str | None, int]] = [
    ("post", "/v1/decisions", None, {"facts": facts("o-2")}, "evaluate", 200),
    ("post", "/v1/decisions", None, {"facts": facts("o-3"), "explain": True}, "evaluate", 200),
    ("post", "/v1/decisions", None, {"facts": facts(clinical={"safety_concern": True})}, "evaluate", 200),
    ("post", "/v1/decisions", None, {"facts": {"session": {"id": "x", "type": "couple"}}}, "evaluate", 400),
    ("post", "/v1/decisions", None, {"facts": facts(), "version": "2.0.0"}, "evaluate", 404),
    ("post", "/v1/decisions", None, {"facts": facts()}, None, 401),
    ("post", "/v1/decisions", None, {"facts": facts()}, "audit", 403),
    ("post", "/v1/decisions:batch", None, BATCH, "evaluate", 200),
    ("post", "/v1/decisions:batch", None, {"items": []}, "evaluate", 400),
    ("get", "/v1/decisions", "/v1/decisions?limit=2", None, "audit", 200),
    ("get", "/v1/decisions", "/v1/decisions?limit=x", None, "audit", 400),
    ("get", "/v1/decisions/{decision_id}", "{decision}", None, "audit", 200),
    ("get", "/v1/decisions/{decision_id}", "/v1/decisions/nope", None, "audit", 404),
    ("get", "/v1/policies", None, None, "evaluate", 200),
    ("get", "/v1/policies/{policy_id}", "/v1/policies/couples-attendance", None, "evaluate", 200),
    ("get", "/v1/policies/{policy_id}", "/v1/policies/couple-attendance", None, "evaluate", 404),
    ("get", "/v1/policies/{policy_id}/versions/{version}", "/v1/policies/couples-attendance/versions/1.0.0",
     None, "evaluate", 200),
    ("get", "/v1/policies/{policy_id}/versions/{version}", "/v1/policies/couples-attendance/versions/1.1",
     None, "evaluate", 404),
    ("get", "/healthz", None, None, None, 200),
    ("get", "/readyz", None, None, None, 200),
    ("get", "/metrics", None, None, "evaluate", 403),
]


@pytest.mark.parametrize(("method", "template", "path", "body", "role", "status"), CASES,
                         ids=[f"{c[0]} {c[2] or c[1]} {c[5]}" for c in CASES])
def test_responses_match_the_document(client: FlaskClient, method: str, template: str, path: str | None,
                                      body: Any, role: str | None, status: int) -> None:
    doc = client.get("/openapi.json").get_json()
    if path == "{decision}":
        path = f"/v1/decisions/{decide(client, {'facts': facts('o-4'), 'explain': True})['decision_id']}"
    elif template == "/v1/decisions" and method == "get":
        decide(client)
        decide(client)
        decide(client)
    resp = getattr(client, method)(path or template, json=body, headers=auth(role) if role else {})
    assert resp.status_code == status
    assert response_errors(doc, template, method, status, resp.mimetype, resp.get_json()) == []


def test_problem_schema_rejects_a_non_problem(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").get_json()
    validator = response_validator(doc, "/v1/decisions", "post", 400, "application/problem+json")
    assert not validator.is_valid({"error": "nope"})


def test_decision_schema_is_strict(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").get_json()
    validator = response_validator(doc, "/v1/decisions", "post", 200, "application/json")
    decision = decide(client)
    assert validator.is_valid(decision)
    assert not validator.is_valid({**decision, "extra": 1})
    assert not validator.is_valid({**decision, "policy": {"id": "x", "version": "1", "sha256": "0"}})
