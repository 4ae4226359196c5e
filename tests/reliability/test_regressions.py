"""One test per defect the reliability suite found, in process (fast); the live-server ones are beside
their suites (test_hostile_input.py, test_hostile_policies.py, test_security.py). See docs/reliability.md."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient

from engine.core.errors import FactsError, PolicyLoadError
from engine.core.schemas import FORMAT_CHECKER
from engine.facts.strict_json import loads_strict
from engine.policy.loader import load_policy_text
from engine.policy.yaml_source import read_yaml
from support.policies import minimal_policy

RULE = {"id": "R-001", "title": "t", "priority": 1, "then": "rec_a", "rationale": "r", "source": "s"}


@pytest.mark.parametrize("query", ["limit=²", "limit=¹⁰", "limit=٣", f"cursor={base64.urlsafe_b64encode('seq:²'.encode()).decode()}"])
def test_d1_non_ascii_digits_in_the_query_are_a_400(app_client: FlaskClient, query: str) -> None:
    """D1: `'²'.isdigit()` is True but `int('²')` raises: `limit=²` was a 500."""
    resp = app_client.get(f"/v1/decisions?{query}")
    assert (resp.status_code, resp.get_json()["code"]) == (400, "invalid_query")


@pytest.mark.parametrize("body", [
    '{"facts": {"session": {"id": "s\\ud800", "type": "couples"}}}',
    '{"facts": {"session": {"id": "s", "type": "couples"}, "\\udc00": 1}}',
    '{"facts": {"session": {"id": "s", "type": "couples"}}, "\\udc00x": 1}',
    '{"items": [{"facts": {"session": {"id": "\\ud800", "type": "couples"}}}]}',
])
def test_d2_lone_surrogates_are_malformed_json_not_a_500(app_client: FlaskClient, body: str) -> None:
    """D2: a lone `\\ud800` escape parsed into a str that could not be written to the log or a response (500)."""
    path = "/v1/decisions:batch" if '"items"' in body else "/v1/decisions"
    resp = app_client.post(path, data=body, content_type="application/json")
    assert (resp.status_code, resp.get_json()["code"]) == (400, "malformed_json")
    assert "unpaired surrogate" in resp.get_json()["detail"]


def test_d2_surrogate_pairs_are_still_text() -> None:
    assert loads_strict('{"id": "\\ud83d\\ude00 and \\u00e9"}') == {"id": "\U0001f600 and \u00e9"}


@pytest.mark.parametrize("text", ['["a\\u0000b"]', '["a\\nb"]', '{"a\\tb": 1}', '["\\u001f"]', '["\x7f"]'])
def test_d2_control_characters_in_strings_are_refused(text: str) -> None:
    """D2b: `"s\\u0000"` and `"s"` are different ids that SQLite tools, C strings and terminals show alike."""
    with pytest.raises(FactsError, match="control character"):
        loads_strict(text)


@pytest.mark.parametrize("value", ["2026-01-01T10:00Z", "20260101T100000Z", "2026-W01-1T10:00:00Z",
                                   "2026-01-01T10:00:00+01", "2026-01-01T10:00:00,5Z", "2026-01-01T10:00:00\x00Z",
                                   "2026-01-01T10Z", "2026-01-01T10:00:00Z\n"])
def test_d3_date_times_must_be_rfc_3339(engine: Any, app_client: FlaskClient, value: str) -> None:
    """D3: Python's fromisoformat accepted week dates, basic format, `+01` offsets... as RFC 3339 date-times."""
    assert not FORMAT_CHECKER.conforms(value, "date-time")
    with pytest.raises(FactsError, match="session.scheduled_start"):
        engine.evaluate({"session": {"id": "s", "type": "couples", "scheduled_start": value}})
    resp = app_client.get("/v1/decisions", query_string={"since": value})
    assert (resp.status_code, resp.get_json()["code"]) == (400, "invalid_query")


@pytest.mark.parametrize("value", ["2026-01-01T10:00:00Z", "2026-01-01t10:00:00z", "2026-06-30T23:59:60Z",
                                   "2026-01-01T10:00:00.123456789+05:30", "2026-01-01T10:00:00.5-08:00"])
def test_d3_rfc_3339_date_times_are_accepted(value: str) -> None:
    assert FORMAT_CHECKER.conforms(value, "date-time")


def test_d4_security_headers(app_client: FlaskClient) -> None:
    """D4: no response carried X-Content-Type-Options, Cache-Control, CSP or Referrer-Policy."""
    for resp in (app_client.get("/healthz"), app_client.post("/v1/decisions", data="{", content_type="text/plain")):
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert resp.headers["Referrer-Policy"] == "no-referrer"


def test_d8_deep_yaml_is_a_problem_not_a_recursion_error() -> None:
    """D8: PyYAML composes recursively; 900 nested `[` (1.8 KB) raised RecursionError through validate and serve."""
    doc, problems = read_yaml("a: " + "[" * 900 + "]" * 900, "deep.yaml")
    assert doc is None and [(p.code, p.message) for p in problems] == [("yaml_too_deep", "nesting deeper than 64 levels")]


def test_d9_a_policy_with_100000_rules_is_refused_with_one_short_headline() -> None:
    """D9: 100,000 empty rules gave 700,001 problems (20 s, 2.6 GB) headed by a 500 KB message; since issue 15 the
    nodes are counted while parsing, so it stops there, before any node graph exists."""
    text = yaml.safe_dump({k: v for k, v in minimal_policy().items() if k != "rules"}) + "rules:\n" + "- {}\n" * 100_000
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_text(text, "many.yaml")
    problems = caught.value.problems
    assert len(problems) <= 50
    assert problems[0].code == "yaml_too_large" and problems[0].message.startswith("more than 60000 values")
    assert all(len(p.message) <= 300 for p in problems)


@pytest.mark.parametrize(("when", "message", "path"), [
    ({"fact": "attendance.absence_reason", "op": "equals", "value": "work"},
     "rule R-001: 'equals' is not one of: eq, ne, lt, lte, gt, gte, in, not_in", "$.rules[0].when.op"),
    ({"fact": "attendance.absence_reason", "op": "in", "value": ["work"] * 600},
     "rule R-001: the list is too long: 600 items, at most 64 allowed", "$.rules[0].when.value"),
    ({"all": []}, "rule R-001: the list is too short: 0 items, at least 1 allowed", "$.rules[0].when.all"),
    ({"any": [{"all": [{"not": {"fact": "Bad", "op": "eq", "value": 1}}]}]},
     "rule R-001: 'Bad' is not a fact: write section.name in lowercase, e.g. attendance.partners_present",
     "$.rules[0].when.any[0].all[0].not.fact"),
    ({"fact": "attendance.absence_reason", "value": "work"}, "rule R-001: `op` is missing", "$.rules[0].when"),
])
def test_d10_a_broken_condition_is_named_for_what_is_wrong(when: dict[str, Any], message: str, path: str) -> None:
    """D10: every schema error inside a condition was reported as "unknown key 'fact'" (or 'all')."""
    text = yaml.safe_dump(minimal_policy(rules=[{**RULE, "when": when}]), sort_keys=False)
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_text(text, "bad.yaml")
    assert [(p.message, p.path) for p in caught.value.problems] == [(message, path)]


def test_d11_a_chunked_body_over_the_largest_limit_is_a_413(app_client: FlaskClient) -> None:
    """D11: werkzeug cut a chunked batch body at exactly the 4 MiB limit and the cut body was parsed."""
    limit = app_client.application.extensions["attendance_policy"].settings.max_batch_bytes
    body = b'{"items": [' + b" " * limit + b"]}"
    resp = app_client.post("/v1/decisions:batch", input_stream=io.BytesIO(body), content_type="application/json",
                           headers={"Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""})
    assert (resp.status_code, resp.get_json()["code"]) == (413, "payload_too_large")
