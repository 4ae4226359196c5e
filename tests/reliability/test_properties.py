"""Properties of the engine on generated facts (Hypothesis, strategies from the facts schema).

durable_rules and the reference interpreter agree; decisions are deterministic (and the
memo changes nothing); the contract's invariants hold for every input; facts broken in one
place are always refused, with that place named, by the engine and by the API.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import Engine, FactsError, PolicySet
from engine.decide.decider import Decider
from engine.decide.reference import holds
from engine.facts.prepare import prepare_facts
from engine.policy.loader import load_policy_text
from support.factgen import loadable_rules
from support.policies import minimal_policy, project
from support.strategies import Broken, broken_facts, valid_facts

FAST = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
ANY_SESSION = ("safety", "care_plan")  # catalog categories that may concern any session type


def _reference(policy: Any, prepared: dict[str, Any]) -> set[str]:
    return {r.id for r in policy.rules if holds(r.when, prepared)}


def _body(decision: Any) -> dict[str, Any]:
    out = decision.to_dict()
    out.pop("decision_id")
    out.pop("evaluated_at")
    return out


@FAST
@given(valid_facts())
def test_durable_rules_agrees_with_the_reference(compiled_default: Any, facts: dict[str, Any]) -> None:
    prepared = prepare_facts(facts)
    fired = compiled_default.fired(project(prepared, compiled_default.policy.fact_paths))
    assert len(fired) == len(set(fired))
    assert set(fired) == _reference(compiled_default.policy, prepared)


def _random_policy(seed: int) -> PolicySet:
    rules = loadable_rules(random.Random(seed), 12)
    policy = load_policy_text(yaml.safe_dump(minimal_policy(rules=rules), sort_keys=False), "random.yaml")
    return PolicySet.build([policy], isolate=False, memo_size=0)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32), st.lists(valid_facts(), min_size=1, max_size=25))
def test_random_policies_agree_with_the_reference(seed: int, many: list[dict[str, Any]]) -> None:
    policies = _random_policy(seed)
    try:
        (compiled,) = policies.compiled.values()
        for facts in many:
            prepared = prepare_facts(facts)
            assert set(compiled.fired(project(prepared, compiled.policy.fact_paths))) == \
                _reference(compiled.policy, prepared)
    finally:
        policies.close()


@FAST
@given(valid_facts(), st.randoms(use_true_random=False))
def test_decisions_are_deterministic(engine: Engine, compiled_default: Any, facts: dict[str, Any],
                                     rnd: random.Random) -> None:
    first = _body(engine.evaluate(facts, explain=True))
    assert _body(engine.evaluate(facts, explain=True)) == first  # the second answer may come from the memo
    shuffled = {k: dict(sorted(v.items(), key=lambda _: rnd.random())) if isinstance(v, dict) else v
                for k, v in sorted(facts.items(), key=lambda _: rnd.random())}
    assert _body(engine.evaluate(shuffled, explain=True)) == first  # key order means nothing
    fresh = Decider(compiled_default, memo_size=0).decide(prepare_facts(facts), explain=True, now=NOW)
    assert _body(fresh) == first  # a memo answer is what a fresh evaluation gives


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_facts())
def test_contract_invariants(engine: Engine, facts: dict[str, Any]) -> None:
    decision = engine.evaluate(facts)
    given_ids = {r.id for r in decision.recommendations}
    prepared = prepare_facts(facts)
    if prepared["clinical"]["safety_concern"]:
        assert "pause_couples_therapy" in given_ids
        assert "strongly_encourage_joint_attendance" not in given_ids
    if prepared["history"]["consecutive_joint_sessions_missed"] <= 1:
        assert "clinician_review_attendance" not in given_ids
    if prepared["session"]["type"] != "couples":
        assert [r.id for r in decision.recommendations if r.category not in ANY_SESSION] == []
    for rec in decision.recommendations:  # every recommendation says why, with the facts that matched
        assert rec.rationale and rec.matched and rec.rule in decision.fired


@settings(max_examples=300, deadline=None)
@given(valid_facts(session_types=["individual", "group", "family", "education"]))
def test_no_couples_recommendation_for_other_sessions(engine: Engine, facts: dict[str, Any]) -> None:
    decision = engine.evaluate(facts)
    assert {r.category for r in decision.recommendations} <= set(ANY_SESSION)


@settings(max_examples=600, deadline=None)
@given(broken_facts())
def test_broken_facts_are_refused_with_their_path(engine: Engine, broken: Broken) -> None:
    with pytest.raises(FactsError) as caught:
        engine.evaluate(broken.facts)
    paths = [p.path for p in caught.value.problems]
    assert all(paths), caught.value.problems
    assert any(p == broken.path or p.startswith(broken.path + ".") for p in paths), (broken.how, paths)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(broken_facts())
def test_broken_facts_are_refused_by_the_api_with_their_path(app_client: Any, broken: Broken) -> None:
    body = json.dumps({"facts": broken.facts})
    resp = app_client.post("/v1/decisions", data=body, content_type="application/json")
    problem = resp.get_json()
    assert (resp.status_code, resp.mimetype, problem["code"]) == (400, "application/problem+json", "invalid_facts")
    paths = [e["path"] for e in problem["errors"]]
    assert any(p == f"facts.{broken.path}" or p.startswith(f"facts.{broken.path}.") for p in paths), \
        (broken.how, paths)
