"""Every operator, through durable_rules and through the reference interpreter."""

from __future__ import annotations

import pytest

from engine.decide.reference import holds
from engine.facts.prepare import prepare_facts
from support.policies import engine_for, minimal_policy

P, H, A, C = "attendance.partners_present", "history.program_hours_this_week", "attendance.absence_reason", \
    "clinical.safety_concern"

# (leaf, facts sections, fires?)
CASES = [
    ({"fact": P, "op": "eq", "value": 1}, {"attendance": {"partners_present": 1}}, True),
    ({"fact": P, "op": "eq", "value": 1}, {"attendance": {"partners_present": 2}}, False),
    ({"fact": P, "op": "ne", "value": 1}, {"attendance": {"partners_present": 2}}, True),
    ({"fact": P, "op": "ne", "value": 1}, {"attendance": {"partners_present": 1}}, False),
    ({"fact": P, "op": "lt", "value": 2}, {"attendance": {"partners_present": 1}}, True),
    ({"fact": P, "op": "lt", "value": 2}, {"attendance": {"partners_present": 2}}, False),
    ({"fact": P, "op": "lte", "value": 2}, {"attendance": {"partners_present": 2}}, True),
    ({"fact": P, "op": "lte", "value": 1}, {"attendance": {"partners_present": 2}}, False),
    ({"fact": P, "op": "gt", "value": 1}, {"attendance": {"partners_present": 2}}, True),
    ({"fact": P, "op": "gt", "value": 2}, {"attendance": {"partners_present": 2}}, False),
    ({"fact": P, "op": "gte", "value": 2}, {"attendance": {"partners_present": 2}}, True),
    ({"fact": P, "op": "gte", "value": 2}, {"attendance": {"partners_present": 1}}, False),
    ({"fact": H, "op": "lt", "value": 9}, {"history": {"program_hours_this_week": 8.75}}, True),
    ({"fact": H, "op": "lt", "value": 9}, {"history": {"program_hours_this_week": 9}}, False),
    ({"fact": H, "op": "gt", "value": 0}, {"history": {"program_hours_this_week": 0.00001}}, True),  # 1e-05 (C: 204)
    ({"fact": H, "op": "lt", "value": 1.5}, {"history": {"program_hours_this_week": 1.25}}, True),
    ({"fact": A, "op": "in", "value": ["work", "caregiving"]}, {"attendance": {"absence_reason": "caregiving"}}, True),
    ({"fact": A, "op": "in", "value": ["work", "caregiving"]}, {"attendance": {"absence_reason": "illness"}}, False),
    ({"fact": A, "op": "not_in", "value": ["work", "none"]}, {"attendance": {"absence_reason": "illness"}}, True),
    ({"fact": A, "op": "not_in", "value": ["work", "none"]}, {}, False),
    ({"fact": A, "op": "eq", "value": "none"}, {}, True),  # the default applies
    ({"fact": C, "op": "eq", "value": False}, {}, True),
    ({"fact": C, "op": "eq", "value": True}, {"clinical": {"safety_concern": True}}, True),
    ({"fact": C, "op": "ne", "value": True}, {"clinical": {"safety_concern": True}}, False),
    ({"fact": C, "op": "eq", "value": False}, {"clinical": {"safety_concern": True}}, False),
    # unknown facts (no default, not sent) never satisfy a comparison, negated or not
    ({"fact": H, "op": "lt", "value": 9}, {}, False),
    ({"fact": H, "op": "gte", "value": 9}, {}, False),
    ({"fact": H, "op": "ne", "value": 9}, {}, False),
    ({"not": {"fact": H, "op": "lt", "value": 9}}, {}, False),
    ({"not": {"fact": H, "op": "lt", "value": 9}}, {"history": {"program_hours_this_week": 10}}, True),
    ({"fact": "plan.discharge_in_days", "op": "lte", "value": 14}, {"plan": {"discharge_in_days": None}}, False),
    # comparing two facts
    ({"fact": P, "op": "lt", "other_fact": "attendance.partners_expected"}, {"attendance": {"partners_present": 1}},
     True),
    ({"fact": P, "op": "lt", "other_fact": "attendance.partners_expected"}, {}, False),
    ({"fact": P, "op": "eq", "other_fact": "attendance.partners_expected"}, {"attendance": {"partners_expected": 1}},
     True),
    ({"fact": H, "op": "gt", "other_fact": "history.program_days_this_week"},
     {"history": {"program_hours_this_week": 3}}, False),
    # composition
    ({"all": [{"fact": P, "op": "eq", "value": 1}, {"fact": C, "op": "eq", "value": True}]},
     {"attendance": {"partners_present": 1}}, False),
    ({"any": [{"fact": P, "op": "eq", "value": 1}, {"fact": C, "op": "eq", "value": True}]},
     {"attendance": {"partners_present": 1}}, True),
    ({"not": {"any": [{"fact": P, "op": "eq", "value": 1}, {"fact": C, "op": "eq", "value": True}]}}, {}, True),
    ({"not": {"all": [{"fact": P, "op": "eq", "value": 2}, {"fact": C, "op": "eq", "value": False}]}}, {}, False),
    ({"not": {"not": {"fact": P, "op": "eq", "value": 2}}}, {}, True),
]


@pytest.fixture(scope="module")
def op_engine(tmp_path_factory):
    """One rule per case, compiled once; read-only (each test only evaluates), its rulesets freed at the end."""
    rules = [{"id": f"R-{i:03d}", "title": f"case {i}", "priority": 10, "when": leaf, "then": "rec_a",
              "rationale": "r", "source": "s"} for i, (leaf, _, _) in enumerate(CASES)]
    engine = engine_for(tmp_path_factory.mktemp("ops"), minimal_policy(rules=rules))
    yield engine
    engine.policies.close()


@pytest.mark.parametrize(("index", "case"), list(enumerate(CASES)), ids=[str(i) for i in range(len(CASES))])
def test_operator(op_engine, index, case):
    leaf, sections, fires = case
    facts = {"session": {"id": "t", "type": "couples"}, **sections}
    decision = op_engine.evaluate(facts)
    rule_id = f"R-{index:03d}"
    assert (rule_id in decision.fired) is fires
    policy = op_engine.resolve().policy
    assert holds(policy.rule(rule_id).when, prepare_facts(facts)) is fires
