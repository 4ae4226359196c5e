"""Facts: every problem with its path and a sentence a person understands; defaults applied."""

from __future__ import annotations

import pytest

from engine import FactsError
from engine.core.schemas import load_schema
from engine.facts.prepare import apply_defaults, fact_catalogue, prepare_facts
from engine.facts.strict_json import loads_strict

S = {"id": "s-1", "type": "couples"}


@pytest.mark.parametrize(("facts", "expected"), [
    ({"session": S, "attendance": {"partners_present": 3}},
     ["attendance.partners_present: 3 is greater than the maximum of 2"]),
    ({"session": S, "attendance": {"partners_expected": 0}},
     ["attendance.partners_expected: 0 is less than the minimum of 1"]),
    ({"session": S, "attendance": {"partner_present": 1}},
     ["attendance.partner_present: unknown field; did you mean 'partners_present'?"]),
    ({"session": S, "clinical": {"safety_concern": "yes"}},
     ["clinical.safety_concern: 'yes' is not of type boolean"]),
    ({"session": S, "clinical": {"safety_concern": 1}},
     ["clinical.safety_concern: 1 is not of type boolean"]),
    ({"session": S, "attendance": {"partners_present": True}},
     ["attendance.partners_present: true is not of type integer"]),
    ({"session": S, "attendance": {"partners_present": 1.5}},
     ["attendance.partners_present: 1.5 is not of type integer"]),
    ({"session": {"id": "s-1", "type": "couple"}},
     ["session.type: 'couple' is not one of: couples, individual, group, family, education; did you mean 'couples'?"]),
    ({"session": {"type": "couples"}}, ["session.id: is required"]),
    ({}, ["session: is required"]),
    ({"session": {"id": "", "type": "couples"}}, ["session.id: is shorter than 1 character"]),
    ({"session": {"id": "x" * 129, "type": "couples"}}, ["session.id: is longer than 128 characters"]),
    ({"session": {**S, "scheduled_start": "2026-01-01"}},
     ["session.scheduled_start: '2026-01-01' is not a valid date-time"]),
    ({"session": {**S, "scheduled_start": "2026-01-01T10:00:00"}},
     ["session.scheduled_start: '2026-01-01T10:00:00' is not a valid date-time"]),
    ({"session": S, "history": {"program_hours_this_week": 200}},
     ["history.program_hours_this_week: 200 is greater than the maximum of 168"]),
    ({"session": S, "history": {"consecutive_joint_sessions_missed": 2**70}},
     ["history.consecutive_joint_sessions_missed: 1180591620717411303424 is greater than the maximum of 1000"]),
    ({"session": S, "plan": {"discharge_in_days": -1}},
     ["plan.discharge_in_days: -1 is less than the minimum of 0"]),
    ({"session": S, "extra": {"a": 1}}, ["extra: unknown field"]),
    ({"session": S, "$where": 1, "a.b": 2}, ["$where: unknown field (and 1 more: a.b)"]),
    ({"session": S, "attendance": []}, ["attendance: a list is not of type object"]),
    ([], [": a list is not of type object"]),
    ({"session": S, "attendance": {"partners_present": 3, "absence_reason": "wrok"}, "clinical": {"x": 1}},
     ["attendance.absence_reason: 'wrok' is not one of: none, scheduling_conflict, work, caregiving, "
      "emotional_overwhelm, needs_individual_work_first, early_recovery_stabilization, temporary_conflict, "
      "separation, declined, illness, unknown; did you mean 'work'?",
      "attendance.partners_present: 3 is greater than the maximum of 2",
      "clinical.x: unknown field"]),
])
def test_invalid_facts(facts, expected):
    with pytest.raises(FactsError) as exc:
        prepare_facts(facts)
    assert [f"{p.path}: {p.message}" for p in exc.value.problems] == expected
    assert exc.value.code == "invalid_facts"


def test_defaults_applied_before_rules():
    out = prepare_facts({"session": S, "attendance": {"partners_expected": 1}})
    assert out["attendance"] == {"partners_expected": 1, "partners_present": 1, "absence_reason": "none",
                                 "notice_given": False, "separate_locations": False}
    assert out["history"] == {"couples_therapy_status": "active", "consecutive_joint_sessions_missed": 0}
    assert out["clinical"]["major_decision_pending"] == "none"


def test_measured_facts_have_no_default_and_null_is_unknown():
    out = prepare_facts({"session": S, "plan": {"discharge_in_days": None}})
    assert "discharge_in_days" not in out["plan"]
    assert "program_days_this_week" not in out["history"]
    assert "program_hours_this_week" not in out["history"]


def test_defaults_do_not_touch_the_input():
    facts = {"session": S}
    apply_defaults(facts)
    assert facts == {"session": S}


def test_every_fact_has_a_default_or_is_measured_elsewhere():
    no_default = {p for p, spec in fact_catalogue().items() if not spec.has_default and not spec.default_from}
    assert no_default == {"session.id", "session.type", "session.scheduled_start", "history.program_days_this_week",
                          "history.program_hours_this_week", "plan.discharge_in_days"}


def test_contract_fields_present():
    props = load_schema("session-facts")["properties"]
    assert props["attendance"]["properties"]["partners_present"]["x-default-from"] == "attendance.partners_expected"
    assert all(sub.get("additionalProperties") is False for sub in props.values())


@pytest.mark.parametrize(("text", "message"), [
    (b'{"a": NaN}', "malformed JSON: NaN is not valid JSON"),
    (b'{"a": Infinity}', "malformed JSON: Infinity is not valid JSON"),
    (b'{"a": 1, "a": 2}', "malformed JSON: duplicate key 'a'"),
    (b'{"a": ', "malformed JSON at line 1 column 7: Expecting value"),
    (b'\xff\xfe', "body is not valid UTF-8 (byte 0)"),
    (b"[" * 100_000 + b"]" * 100_000, "JSON nests too deeply"),
])
def test_strict_json(text, message):
    with pytest.raises(FactsError) as exc:
        loads_strict(text)
    assert exc.value.code == "malformed_json"
    assert exc.value.problems[0].message == message
