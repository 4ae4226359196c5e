"""Conditions in words: each operator, flags, other facts, parameters, all / any / not."""

from __future__ import annotations

import pytest

from api.studio.compare import short_paths
from api.studio.sentences import condition_words
from engine.policy.model import All, AnyOf, Condition, Leaf, Not

COUPLES = Leaf("session.type", "eq", "couples")
ABSENT = Leaf("attendance.partners_present", "lt", other_fact="attendance.partners_expected")
SAFETY = Leaf("clinical.safety_concern", "eq", True)


@pytest.mark.parametrize(("cond", "words"), [
    (COUPLES, "session type is couples"),
    (Leaf("session.type", "ne", "couples"), "session type is not couples"),
    (ABSENT, "partners present is less than partners expected"),
    (Leaf("plan.discharge_in_days", "lte", 14, param="discharge_planning_window_days"),
     "discharge in days is at most 14 (parameter discharge_planning_window_days)"),
    (Leaf("history.consecutive_joint_sessions_missed", "gte", 3), "consecutive joint sessions missed is at least 3"),
    (Leaf("history.program_hours_this_week", "gt", 9.0), "program hours this week is more than 9"),
    (Leaf("attendance.absence_reason", "in", ("work", "caregiving")), "absence reason is one of work, caregiving"),
    (Leaf("attendance.absence_reason", "not_in", ("scheduling_conflict",)), "absence reason is none of scheduling conflict"),
    (SAFETY, "safety concern: yes"),
    (Leaf("clinical.safety_concern", "eq", False), "safety concern: no"),
    (Leaf("clinical.safety_concern", "ne", True), "safety concern: no"),
    (All((COUPLES, ABSENT)), "session type is couples and partners present is less than partners expected"),
    (All((COUPLES, ABSENT, SAFETY)),
     "session type is couples, partners present is less than partners expected, and safety concern: yes"),
    (All((COUPLES, AnyOf((SAFETY, ABSENT)))),
     "session type is couples and (either safety concern: yes or partners present is less than partners expected)"),
    (AnyOf((COUPLES,)), "session type is couples"),
    (Not(SAFETY), "not (safety concern: yes)"),
])
def test_condition_words(cond: Condition, words: str) -> None:
    assert condition_words(cond) == words


@pytest.mark.parametrize(("where", "short"), [
    ("one absent (/srv/clinic/rules/couples-attendance/tests/absence.yaml:7)", "one absent (couples-attendance/tests/absence.yaml:7)"),
    ("scenario 'x' (rules/couples-attendance/tests/a.yaml:3)", "scenario 'x' (couples-attendance/tests/a.yaml:3)"),
    ("enumerated", "enumerated"),
])
def test_scenario_locations_start_at_the_policy_folder(where: str, short: str) -> None:
    assert short_paths(where) == short
