"""No policy the gate admits can make a decision fail: generated policies x generated facts, through the API.

Policies come from a seed (random conditions, `not`, field-vs-field comparisons,
rationale templates quoting facts, parameters and `{matched}`, suppressions and
declared conflicts); the gate refuses some of them, and every one it admits
must answer every valid session with a 200 that the decision log holds.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.state import state_of
from engine.core.errors import PolicyLoadError
from engine.facts.prepare import fact_catalogue
from engine.policy.loader import load_policy_text
from engine.runtime.engine import Engine
from engine.runtime.gate import judge
from engine.runtime.registry import PolicySet
from support.factgen import random_rules
from support.policies import minimal_policy
from support.strategies import valid_facts

_QUOTABLE = [p for p in fact_catalogue() if p != "session.id"]


def _template(rng: random.Random) -> str:
    words = ["Because", "{matched}", "{param:limit}", "the session", "was noted."]
    words += [f"{{{rng.choice(_QUOTABLE)}}}" for _ in range(rng.randint(0, 3))]
    rng.shuffle(words)
    return " ".join(words)


def generated_policy(seed: int) -> str:
    """A policy version as YAML text, from a seed."""
    rng = random.Random(seed)
    rules = random_rules(rng, rng.randint(1, 6))
    for rule in rules:
        rule["rationale"] = _template(rng)
        if rng.random() < 0.3:
            rule["suppresses"] = ["rec_b" if rule["then"] == "rec_a" else "rec_a"]
    data = minimal_policy(rules=rules)
    if rng.random() < 0.3:
        data["recommendations"]["rec_a"]["conflicts_with"] = ["rec_b"]
    return yaml.safe_dump(json.loads(json.dumps(data)), sort_keys=False)


def _admitted(seed: int) -> PolicySet | None:
    try:
        policy = load_policy_text(generated_policy(seed), "demo/1.0.0.yaml", expected_version="1.0.0",
                                  expected_policy="demo")
    except PolicyLoadError:
        return None  # refused at load: fine, nothing serves it
    report = judge([policy], isolate=False)
    if not report.admitted():
        report.close()
        return None
    return PolicySet.of(report.compiled())


def test_the_generator_yields_admitted_and_refused_policies():
    admitted = [seed for seed in range(30) if (s := _admitted(seed)) is not None and not s.close()]
    assert 5 <= len(admitted) < 30  # the property below is about something, and the gate does refuse


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), sessions=st.lists(valid_facts(), min_size=1, max_size=15))
def test_no_admitted_policy_makes_a_decision_fail(tmp_path: Path, seed: int, sessions: list[dict[str, Any]]):
    policies = _admitted(seed)
    if policies is None:
        return
    app = create_app({"decision_log": {"path": str(tmp_path / f"log-{seed}.sqlite3")},
                      "policies": {"poll_interval_ms": 0}}, engine=Engine(policies))
    try:
        client = app.test_client()
        for facts in sessions:
            answer = client.post("/v1/decisions", json={"facts": facts})
            assert answer.status_code == 200, (seed, facts, answer.get_json())
            decided = answer.get_json()
            assert state_of(app).store.get(decided["decision_id"]) is not None
    finally:
        state_of(app).close()
        policies.close()


@pytest.mark.parametrize("template", ["{clinical.safety_concerns}", "{param:nope}", "{mached}"])
def test_a_template_that_cannot_render_is_refused_before_it_serves(template):
    data = minimal_policy()
    data["rules"][0]["rationale"] = template
    with pytest.raises(PolicyLoadError):
        load_policy_text(yaml.safe_dump(data, sort_keys=False), "demo/1.0.0.yaml")
