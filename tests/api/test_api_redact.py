"""Redaction copies only what it changes and never touches its inputs."""

from __future__ import annotations

import copy

from api.log.redaction import REDACTED, redact

FACTS = {"session": {"id": "s-1", "type": "couples", "scheduled_start": "2026-01-01T10:00:00Z"},
         "attendance": {"partners_present": 1}}
DECISION = {
    "decision_id": "d",
    "recommendations": [
        {"id": "a", "matched": [{"fact": "attendance.partners_present", "op": "eq", "expected": 1, "actual": 1}]},
        {"id": "b", "matched": [{"fact": "attendance.partners_present", "op": "lt", "expected": 2, "actual": 1,
                                 "other_fact": "attendance.partners_expected"}]},
    ],
    "not_fired": [{"rule": "R", "failed": {"fact": "session.scheduled_start", "op": "eq", "expected": "x",
                                           "actual": "2026-01-01T10:00:00Z"}}],
}


def test_redacts_facts_matched_conditions_and_why_not():
    before_facts, before_decision = copy.deepcopy(FACTS), copy.deepcopy(DECISION)
    facts, decision = redact(FACTS, DECISION, ["session.scheduled_start", "attendance.partners_expected"])
    assert facts["session"]["scheduled_start"] == REDACTED and facts["session"]["id"] == "s-1"
    assert decision["recommendations"][1]["matched"][0]["expected"] == REDACTED
    assert decision["not_fired"][0]["failed"]["actual"] == REDACTED
    assert (FACTS, DECISION) == (before_facts, before_decision)  # inputs untouched
    assert decision["recommendations"][0] is DECISION["recommendations"][0]  # untouched parts are shared
    assert facts["attendance"] is FACTS["attendance"]


def test_nothing_to_redact_returns_the_inputs():
    assert redact(FACTS, DECISION, []) == (FACTS, DECISION)
