"""Three-valued evaluation on partial assignments, and the pruned search of the fact space."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.analysis.logic import PolicyLogic, cond3, search, t_and, t_not, t_or
from engine.analysis.space import ABSENT, FactSpace, build_space, prepared
from engine.decide.reference import holds
from engine.policy.loader import load_policy
from engine.policy.model import All, AnyOf, Leaf

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = load_policy(ROOT / "rules" / "couples-attendance" / "1.0.0.yaml")
SPACE = build_space([DEFAULT])
LOGIC = PolicyLogic(DEFAULT)

T, F, U = True, False, None


@pytest.mark.parametrize("a, b, both, either", [
    (T, T, T, T), (T, F, F, T), (F, F, F, F), (T, U, U, T), (F, U, F, U), (U, U, U, U),
])
def test_kleene(a, b, both, either):
    assert t_and([a, b]) is both and t_and([b, a]) is both
    assert t_or([a, b]) is either and t_or([b, a]) is either


@pytest.mark.parametrize("value, negated", [(T, F), (F, T), (U, U)])
def test_kleene_not(value, negated):
    assert t_not(value) is negated


SAFE = Leaf("clinical.safety_concern", "eq", True)
DAYS_LOW = Leaf("history.program_days_this_week", "lt", 3)
DAYS_HIGH = Leaf("history.program_days_this_week", "gte", 3)  # the negation of DAYS_LOW
ABSENT_PARTNER = Leaf("attendance.partners_present", "lt", other_fact="attendance.partners_expected")


@pytest.mark.parametrize("cond, assign, expected", [
    (SAFE, {}, U),
    (SAFE, {"clinical.safety_concern": True}, T),
    (DAYS_LOW, {"history.program_days_this_week": ABSENT}, F),
    (DAYS_HIGH, {"history.program_days_this_week": ABSENT}, F),  # unknown is neither below nor above
    (DAYS_LOW, {"history.program_days_this_week": 2}, T),
    (ABSENT_PARTNER, {"attendance.partners_present": 1}, U),
    (ABSENT_PARTNER, {"attendance.partners_present": 1, "attendance.partners_expected": 2}, T),
    (All((SAFE, DAYS_LOW)), {"clinical.safety_concern": False}, F),  # decided before days are known
    (All((SAFE, DAYS_LOW)), {"clinical.safety_concern": True}, U),
    (AnyOf((SAFE, DAYS_LOW)), {"clinical.safety_concern": True}, T),
    (AnyOf((SAFE, DAYS_LOW)), {"clinical.safety_concern": False}, U),
])
def test_cond3(cond, assign, expected):
    assert cond3(cond, assign) is expected


FIXTURES = sorted((Path(__file__).resolve().parent / "fixtures" / "tools").rglob("[0-9]*.yaml"))


AGREEMENT = [(ROOT / "rules" / "couples-attendance" / "1.0.0.yaml", 1282)] + [(p, None) for p in FIXTURES]


@pytest.mark.parametrize("path, count", AGREEMENT, ids=[f"{p.parent.name}@{p.stem}" for p, _ in AGREEMENT])
def test_cond3_agrees_with_the_reference_interpreter_on_every_rule(path, count):
    policy = load_policy(path)
    logic, space = PolicyLogic(policy), build_space([policy])
    checked = 0
    for rule in policy.rules:
        for assign in space.assignments(sorted(logic.rule_facts([rule.id]))):
            assert cond3(logic.nnf[rule.id], assign) is holds(rule.when, prepared(assign, "x")), (rule.id, assign)
            checked += 1
    assert count is None or checked == count


@pytest.mark.parametrize("rec, facts", [
    ("pause_couples_therapy", {"clinical.emotions_too_heightened", "clinical.safety_concern",
                               "clinical.therapist_recommends_pause"}),
    ("offer_makeup_session", {"session.type", "attendance.partners_present", "attendance.partners_expected",
                              "preferences.makeup_session_requested", "clinical.safety_concern",
                              "clinical.emotions_too_heightened", "clinical.therapist_recommends_pause"}),
    ("program_intensity_below_plan", {"history.program_days_this_week", "history.program_hours_this_week"}),
])
def test_rec_facts_are_those_of_its_givers_and_suppressors(rec, facts):
    assert LOGIC.rec_facts(rec) == facts


def test_search_finds_the_plainest_case_first():
    order = ["clinical.safety_concern", "history.program_days_this_week"]
    result = search(SPACE, order, lambda a: cond3(All((SAFE, DAYS_LOW)), a))
    assert result.found == {"clinical.safety_concern": True, "history.program_days_this_week": 2}
    assert result.complete and result.nodes == 5


def test_search_proves_there_is_no_case():
    order = ["history.program_days_this_week"]
    result = search(SPACE, order, lambda a: cond3(All((DAYS_LOW, DAYS_HIGH)), a))
    assert (result.found, result.complete, result.nodes) == (None, True, 5)


def test_search_stops_at_its_budget():
    space = FactSpace({f"clinical.{n}": (False, True) for n in ("safety_concern", "relapse_since_last_session")})
    result = search(space, list(space.paths), lambda a: None if len(a) < 2 else False, budget=3)
    assert (result.found, result.complete) == (None, False)
