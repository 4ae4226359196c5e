"""The fact space: domains split at the policy's thresholds, and cases built from assignments."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.analysis.logic import PolicyLogic, collapse
from engine.analysis.space import ABSENT, build_space, case_key, numeric_points, to_facts
from engine.facts.consistency import CONTRADICTORY
from engine.facts.prepare import FactSpec, facts_problems
from engine.impact.cases import slices
from engine.policy.loader import load_policy

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = load_policy(ROOT / "rules" / "couples-attendance" / "1.0.0.yaml")
SPACE = build_space([DEFAULT])


@pytest.mark.parametrize("path, values", [
    ("session.type", ("couples", "individual", "group", "family", "education")),
    ("attendance.partners_expected", (2, 1)),  # the default first
    ("attendance.partners_present", (0, 1, 2)),  # follows partners_expected: never absent
    ("clinical.safety_concern", (False, True)),
    ("clinical.betrayal_to_process", ("none", "infidelity", "relapse")),
    ("history.couples_therapy_status", ("active", "paused", "as_needed", "alternating", "not_enrolled")),
    ("history.consecutive_joint_sessions_missed", (0, 2, 3, 4)),  # default 0, then 3 - 1, 3, 3 + 1
    ("history.program_days_this_week", (ABSENT, 2, 3, 4)),  # no default: may be unknown
    ("history.program_hours_this_week", (ABSENT, 8, 9, 10)),
    ("plan.discharge_in_days", (ABSENT, 13, 14, 15)),
])
def test_default_policy_domains(path, values):
    assert SPACE.domains[path] == values


def test_space_holds_only_the_facts_the_policy_reads():
    assert set(SPACE.paths) == set(DEFAULT.fact_paths) - {"session.id"}
    assert "attendance.notice_given" not in SPACE.paths
    assert SPACE.size() == 90_596_966_400


@pytest.mark.parametrize("kind, minimum, maximum, thresholds, expected", [
    ("integer", 0, 7, {3}, [2, 3, 4]),
    ("integer", 0, 7, {0}, [0, 1]),  # clamped at the minimum
    ("integer", 0, 7, {3, 5}, [2, 3, 4, 5, 6]),
    ("integer", 0, 10, {2.5}, [2, 3]),  # a fractional threshold on an integer: the integers around it
    ("integer", 0, 7, set(), [0, 1, 2, 3, 4, 5, 6, 7]),  # no threshold, small range: every value
    ("integer", 0, 1000, set(), [0]),
    ("number", 0, 168, {9}, [8, 9, 10]),
    ("number", 0, 168, {9, 9.5}, [8.75, 9, 9.25, 9.5, 9.75]),  # steps shrink between close thresholds
    ("number", None, None, {0}, [-1, 0, 1]),
    ("integer", 0, 7, {-5}, [0]),  # every point below the range: the minimum, never an empty domain
    ("integer", 0, 7, {100}, [7]),  # every point above it: the maximum
])
def test_numeric_points(kind, minimum, maximum, thresholds, expected):
    spec = FactSpec("x.y", kind, "y", minimum=minimum, maximum=maximum)
    assert numeric_points(spec, thresholds) == expected


@pytest.mark.parametrize("assign, facts", [
    ({}, {"session": {"id": "c", "type": "couples"}}),
    ({"attendance.partners_present": 1}, {"session": {"id": "c", "type": "couples"}, "attendance": {"partners_present": 1}}),
    ({"attendance.partners_present": 2}, {"session": {"id": "c", "type": "couples"}}),  # equal to what it follows
    ({"attendance.partners_expected": 1, "attendance.partners_present": 1},
     {"session": {"id": "c", "type": "couples"}, "attendance": {"partners_expected": 1}}),
    ({"plan.discharge_in_days": ABSENT, "clinical.safety_concern": False}, {"session": {"id": "c", "type": "couples"}}),
    ({"session.type": "group", "history.program_hours_this_week": 8},
     {"session": {"id": "c", "type": "group"}, "history": {"program_hours_this_week": 8}}),
])
def test_to_facts_sends_only_what_differs_from_defaults(assign, facts):
    assert to_facts(assign, "c") == facts


def test_case_key_ignores_the_session_id():
    assert case_key(to_facts({"clinical.safety_concern": True}, "a")) == case_key(
        to_facts({"clinical.safety_concern": True}, "b")) == "clinical.safety_concern=True;session.type='couples'"


def test_every_enumerated_case_is_valid_session_facts():
    logics = [PolicyLogic(DEFAULT)]
    seen = set()
    for paths in slices(SPACE, logics):
        for assign in SPACE.assignments(paths):
            facts = to_facts(assign, "case")
            if case_key(facts) not in seen:
                seen.add(case_key(facts))
                # Valid field by field; the space does not yet leave out cases that break a cross-field check
                # (expected 1, present 2): lint and diff decide them on their defaults, the service refuses them.
                assert [p for p in facts_problems(facts) if p.code != CONTRADICTORY] == [], facts
    assert len(seen) == 3095


@pytest.mark.parametrize("path, values", [
    ("attendance.absence_reason", ("none", "scheduling_conflict", "emotional_overwhelm", "temporary_conflict")),
    ("plan.discharge_in_days", (ABSENT, 13)),  # unknown and 15 both fail `<= 14`
    ("history.consecutive_joint_sessions_missed", (0, 3)),
    ("history.couples_therapy_status", ("active", "paused", "not_enrolled")),
    ("session.type", ("couples", "individual")),
    ("attendance.partners_present", (0, 1, 2)),  # compared with another fact: kept whole
])
def test_collapse_keeps_one_value_per_class(path, values):
    assert collapse(SPACE, [DEFAULT]).domains[path] == values
