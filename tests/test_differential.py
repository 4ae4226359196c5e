"""durable_rules (which decides) and the reference interpreter (which explains) agree."""

from __future__ import annotations

import random

import pytest

from engine.decide.reference import holds
from engine.facts.prepare import prepare_facts
from support.factgen import loadable_rules, random_facts
from support.policies import engine_for, minimal_policy, project


def _agree(compiled, n_facts: int, seed: int) -> int:
    rng = random.Random(seed)
    policy = compiled.policy
    checked = 0
    for i in range(n_facts):
        facts = prepare_facts(random_facts(rng, i))
        fired = set(compiled.fired(project(facts, policy.fact_paths)))
        expected = {r.id for r in policy.rules if holds(r.when, facts)}
        assert fired == expected, (facts, sorted(fired ^ expected))
        checked += 1
    return checked


def test_default_policy_agrees_on_generated_facts(compiled_default):
    assert _agree(compiled_default, 4000, seed=1) == 4000


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_random_policies_agree_on_generated_facts(tmp_path, seed):
    rng = random.Random(seed)
    engine = engine_for(tmp_path, minimal_policy(rules=loadable_rules(rng, 120)))
    compiled = engine.resolve()
    assert _agree(compiled, 1500, seed=seed * 100) == 1500
    # the generated rules must actually discriminate, or agreement would prove little
    fired_counts = [len(compiled.fired(project(prepare_facts(random_facts(rng, i)), compiled.policy.fact_paths)))
                    for i in range(50)]
    assert 0 < sum(fired_counts) < 50 * 120
