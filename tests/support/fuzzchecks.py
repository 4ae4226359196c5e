"""Schemathesis set-up shared by tests/reliability/test_fuzz_openapi.py and scripts/fuzz_api.py: the checks (the served
OpenAPI document is self-contained, so Schemathesis reads it as it is).

Built-in checks run with three documented exceptions (all in docs/api.md and
docs/reliability.md): a batch answers 200 with a per-item problem for an invalid item;
`cursor` is opaque, so a schema-valid string the server never issued is refused (400); and
strings holding control characters are refused as `malformed_json` (400). Our own checks add: every
error is an RFC 9457 problem whose `status` is the HTTP status, and every response carries
the security headers.
"""

from __future__ import annotations

import json
import re
from typing import Any

import schemathesis
from jsonschema import Draft202012Validator
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks as builtin

PROBLEM = "application/problem+json"
SECURITY = {"x-content-type-options": "nosniff", "cache-control": "no-store", "referrer-policy": "no-referrer"}
NEGATIVE_EXPECTED = ["400", "401", "403", "404", "405", "409", "413", "415", "422"]


def config(max_examples: int, seed: int | None = None) -> schemathesis.Config:
    data: dict[str, Any] = {
        # Keys are ours to vary (see `exercise`): Schemathesis does not generate or negate the Authorization header.
        "generation": {"mode": "all", "max-examples": max_examples, "with-security-parameters": False},
        "checks": {"negative_data_rejection": {"expected-statuses": NEGATIVE_EXPECTED}},
    }
    if seed is not None:
        data["seed"] = seed
    return schemathesis.Config.from_dict(data)


def _json(response: Any) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def problem_documents(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx is application/problem+json, a valid Problem, with the HTTP status in `status`."""
    if response.status_code < 400:
        return None
    ctype = response.headers.get("content-type", [""])
    ctype = (ctype[0] if isinstance(ctype, list) else ctype).split(";")[0].strip()
    assert ctype == PROBLEM, f"{response.status_code} answered as {ctype!r}, not {PROBLEM}"
    body = _json(response)
    components = case.operation.schema.raw_schema["components"]
    errors = list(Draft202012Validator({"$ref": "#/components/schemas/Problem", "components": components})
                  .iter_errors(body))
    assert not errors, f"not a problem document: {errors[0].message}"
    assert body["status"] == response.status_code, f"problem status {body['status']} != {response.status_code}"
    return True


def security_headers(ctx: Any, response: Any, case: Any) -> bool | None:
    headers = {k.lower(): v[0] if isinstance(v, list) else v for k, v in response.headers.items()}
    for name, value in SECURITY.items():
        assert headers.get(name) == value, f"{name}: {headers.get(name)!r}"
    return True


def _from_gunicorn(response: Any) -> bool:
    """gunicorn itself refused the request (e.g. 414, a request line over 4094 bytes): no operation answered."""
    return response.status_code >= 400 and (_json(response) or {}).get("code") == "malformed_http"


def status_code_conformance(ctx: Any, response: Any, case: Any) -> bool | None:
    """The built-in check, for answers an operation gave (not gunicorn's refusals of malformed HTTP)."""
    return None if _from_gunicorn(response) else builtin.status_code_conformance(ctx, response, case)


def content_type_conformance(ctx: Any, response: Any, case: Any) -> bool | None:
    return None if _from_gunicorn(response) else builtin.content_type_conformance(ctx, response, case)


def negative_data_rejection(ctx: Any, response: Any, case: Any) -> bool | None:
    """The built-in check, but a batch judges each item: 200 with per-item problems is the documented answer."""
    if case.operation.path == "/v1/decisions:batch" and response.status_code == 200:
        return batch_items_judged(case, response)
    return builtin.negative_data_rejection(ctx, response, case)


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _has_control_character(value: Any) -> bool:
    if isinstance(value, str):
        return _CONTROL.search(value) is not None
    if isinstance(value, dict):
        return any(_has_control_character(k) or _has_control_character(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_control_character(v) for v in value)
    return False


def positive_data_acceptance(ctx: Any, response: Any, case: Any) -> bool | None:
    """The built-in check, with two documented refusals of schema-valid data: a `cursor` the server did not
    issue, and strings holding control characters (docs/api.md, `malformed_json`)."""
    body = _json(response) or {}
    code, detail = body.get("code"), str(body.get("detail", ""))
    if response.status_code == 400 and case.query and "cursor" in case.query and \
            (code, detail.split(" ", 1)[0]) == ("invalid_query", "cursor"):
        return True
    if response.status_code == 400 and _has_control_character(case.body) and \
            code == "malformed_json" and "control character" in detail:
        return True
    return builtin.positive_data_acceptance(ctx, response, case)


def batch_items_judged(case: Any, response: Any) -> bool:
    """Each item that is not a valid decision request got a 4xx problem; every valid one a decision or a 404/409."""
    schemas = case.operation.schema.raw_schema["components"]["schemas"]
    request = Draft202012Validator({"$ref": "#/components/schemas/DecisionRequest", "components": {"schemas": schemas}})
    results = (_json(response) or {}).get("results", [])
    items = case.body.get("items", []) if isinstance(case.body, dict) else []
    assert len(results) == len(items), f"{len(items)} items, {len(results)} results"
    for item, result in zip(items, results, strict=True):
        if not request.is_valid(item):
            assert 400 <= result["status"] < 500 and result["problem"]["status"] == result["status"], result
        else:
            assert result["status"] in (200, 400, 404, 409), result  # 400: facts valid per schema, not per engine
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    builtin.response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    problem_documents,
    security_headers,
]


def exercise(case: Any, token: str, wrong: str) -> list[int]:
    """Send one case with a key that has every role, without a key and with a wrong key; check each answer.

    Returns the three status codes. Without a valid key every protected operation answers a 401
    problem with `WWW-Authenticate: Bearer`; public operations are checked as problems/headers only.
    """
    public = case.operation.definition.raw.get("security") == []
    statuses = [case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS).status_code]
    for auth in ({}, {"Authorization": f"Bearer {wrong}"}):
        response = case.call(headers=auth)
        statuses.append(response.status_code)
        if not public:
            assert response.status_code == 401, (case.operation.label, response.status_code, response.text[:300])
            assert response.headers.get("www-authenticate", [""])[0].startswith("Bearer")
        case.validate_response(response, checks=[problem_documents, security_headers], headers=auth)
    return statuses


def _negatable(op: dict[str, Any]) -> bool:
    # A string path parameter cannot be made invalid (anything is a string on the wire); bodies and
    # query parameters can.
    return bool(op.get("requestBody")) or any(p["in"] != "path" for p in op.get("parameters", []))


def runs(doc: dict[str, Any]) -> list[tuple[str, Any]]:
    """(operation label, generation mode) pairs: negative data only where there is something to negate."""
    from schemathesis import GenerationMode

    return [(f"{m.upper()} {p}", mode) for p, item in doc["paths"].items() for m, op in item.items()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
            if mode is GenerationMode.POSITIVE or _negatable(op)]
