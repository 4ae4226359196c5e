"""The scenario files beside each bundled policy run under pytest too, each on every version it applies to."""

from __future__ import annotations

import pytest

from engine import load_rules
from engine.ci.scenarios import load_scenarios, run_scenario, scenario_files
from engine.ci.sources import plan_runs
from support.policies import RULES

POLICIES = load_rules([RULES])
RUNS = plan_runs([sc for f in scenario_files([RULES]) for sc in load_scenarios(f)], POLICIES)


@pytest.mark.parametrize("policy", POLICIES, ids=[p.key for p in POLICIES])
def test_scenarios_fire_every_rule_of_each_version_they_apply_to(engine, policy):
    fired = set()
    for sc, target in RUNS:
        if target.key == policy.key:
            fired.update(engine.evaluate(sc.facts, policy=policy.id, version=policy.version).fired)
    assert fired == {r.id for r in policy.rules}


@pytest.mark.parametrize("scenario, policy", RUNS,
                         ids=[f"{s.file.rsplit('/', 1)[-1]}:{s.line}@{p.version}" for s, p in RUNS])
def test_scenario(engine, scenario, policy):
    result = run_scenario(engine, scenario, policy.version)
    assert result.failures == [], f"{scenario.where} ({policy.key}): {scenario.name}"
