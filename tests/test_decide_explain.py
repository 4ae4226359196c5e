"""The decider's fast parts: the compiled explainer gives exactly what the reference interpreter, leaf_dict and
the template give; decision ids are UUIDv7s."""

from __future__ import annotations

import datetime
import json
import random
import uuid
from pathlib import Path

import pytest

from engine import load_rules
from engine.decide.decider import new_decision_id
from engine.decide.explain import compile_explainer
from engine.decide.rationale import compile_template, leaf_dict
from engine.decide.reference import compile_condition
from engine.facts.prepare import prepare_facts
from engine.policy.model import Policy
from support.factgen import random_facts
from support.policies import RULES, minimal_policy, write_policy

_EDGE_RULES = [  # every leaf shape: a parameter, another fact, `in`/`not_in`, `not`, nested any/all, booleans
    {"id": "R-001", "title": "a", "priority": 1, "then": "rec_a", "source": "s",
     "when": {"any": [{"fact": "plan.discharge_in_days", "op": "lte", "param": "limit"},
                      {"all": [{"fact": "attendance.partners_present", "op": "lt",
                                "other_fact": "attendance.partners_expected"},
                               {"not": {"fact": "clinical.safety_concern", "op": "eq", "value": True}}]}]},
     "rationale": "{matched}; {attendance.partners_present} of {attendance.partners_expected}, limit {param:limit}"},
    {"id": "R-002", "title": "b", "priority": 2, "then": ["rec_a", "rec_b"], "source": "s",
     "when": {"any": [{"fact": "attendance.absence_reason", "op": "not_in", "value": ["work", "none"]},
                      {"fact": "session.type", "op": "in", "value": ["couples", "family"]},
                      {"fact": "history.program_hours_this_week", "op": "gte", "value": 9.5}]},
     "rationale": "{matched} ({history.program_hours_this_week} hours, {plan.discharge_in_days} days)"},
    {"id": "R-003", "title": "c", "priority": 3, "then": "rec_b", "source": "s",
     "when": {"not": {"any": [{"fact": "history.couples_therapy_status", "op": "eq", "value": "paused"},
                              {"fact": "preferences.evening_sessions_preferred", "op": "ne", "value": False}]}},
     "rationale": "{matched}"},
]


def _policies(tmp_path: Path) -> list[Policy]:
    write_policy(tmp_path, minimal_policy(rules=_EDGE_RULES))
    return [*load_rules([RULES]), *load_rules([tmp_path])]


def _reference(policy: Policy, rule_id: str, facts: dict) -> tuple[tuple[dict, ...], str]:
    rule = next(r for r in policy.rules if r.id == rule_id)
    outcome = compile_condition(rule.when)(facts)
    return tuple(leaf_dict(x, facts) for x in outcome.matched), compile_template(rule.rationale, policy)(
        facts, outcome.why())


@pytest.mark.parametrize("which", [0, 1])
def test_explainer_equals_the_reference_on_generated_facts(tmp_path: Path, which: int) -> None:
    policy = _policies(tmp_path)[which]
    explainers = {r.id: compile_explainer(r, policy) for r in policy.rules}
    rng = random.Random(11 + which)
    for i in range(1500):
        facts = prepare_facts(random_facts(rng, i))
        for rule_id, explain in explainers.items():  # fired or not: the same data, the same JSON
            got, want = explain(facts), _reference(policy, rule_id, facts)
            assert got == want and json.dumps(got) == json.dumps(want), (rule_id, facts)


def test_decision_ids_are_version_7_uuids_of_the_decision_time_with_random_bits() -> None:
    now = datetime.datetime(2026, 12, 2, 7, 30, 15, 123456, tzinfo=datetime.UTC)
    ids = [new_decision_id(now) for _ in range(2000)]
    assert len(set(ids)) == 2000
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert parsed.int >> 80 == 1796196615123  # the milliseconds since the epoch of `now`
    # Every random field varies: rand_a (12 bits), and rand_b (62 bits, the variant's 2 bits fixed).
    assert len({(uuid.UUID(t).int >> 64) & 0xFFF for t in ids}) > 1500
    assert len({uuid.UUID(t).int & ((1 << 62) - 1) for t in ids}) == 2000
    later = new_decision_id(now + datetime.timedelta(milliseconds=1))
    assert all(later > t for t in ids)  # a later decision's id sorts after: the log's index grows at its end
