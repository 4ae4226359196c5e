"""The scenario files beside each bundled policy run under pytest too."""

from __future__ import annotations

import pytest

from engine.ci.scenarios import load_scenarios, run_scenario, scenario_files
from support.policies import RULES

SCENARIOS = [sc for f in scenario_files([RULES]) for sc in load_scenarios(f)]


def test_scenarios_exist_for_every_rule(engine, default_policy):
    fired = set()
    for sc in SCENARIOS:
        fired.update(engine.evaluate(sc.facts).fired)
    assert fired == {r.id for r in default_policy.rules}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f"{s.file.rsplit('/', 1)[-1]}:{s.line}" for s in SCENARIOS])
def test_scenario(engine, scenario):
    result = run_scenario(engine, scenario)
    assert result.failures == [], f"{scenario.where}: {scenario.name}"
