"""Each durable_rules failure mode (docs/engine-guards.md: eight measured upstream, three found here) is kept away."""

from __future__ import annotations

import json
import sys

import pytest

from engine import CompileError, EngineError, FactsError, PolicyLoadError
from engine.compile.ruleset import CATCH_ALL, compile_in_child, dumps, shard_definitions
from engine.compile.translate import MAX_PATHS_PER_SHARD, NOT_STATE
from engine.facts.prepare import prepare_facts
from support.policies import couples, engine_for, minimal_policy, project


def _expressions(policy):
    for shard in shard_definitions(policy):
        for name, rule in shard.items():
            yield name, rule["all"][0]["m"]


def _walk(node):
    yield node
    if isinstance(node, dict):
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def test_c1_catch_all_in_every_shard_and_no_match_decisions_survive(compiled_default, default_policy):
    assert all(CATCH_ALL in shard for shard in shard_definitions(default_policy))
    nothing = prepare_facts({"session": {"id": "x", "type": "education"}})
    for _ in range(500):  # without the catch-all, delete_state after no match crashes the process
        assert compiled_default.fired(project(nothing, default_policy.fact_paths)) == []


def test_c2_stock_host_and_its_threads_are_never_used(engine):
    engine.evaluate(couples())
    assert "durable.engine" not in sys.modules and "durable.lang" not in sys.modules


def test_c3_no_arithmetic_is_ever_compiled(default_policy):
    ops = {k for node in _walk(shard_definitions(default_policy)) if isinstance(node, dict) for k in node}
    assert not ops & {"$add", "$sub", "$mul", "$div", "$mod"}


@pytest.mark.parametrize("facts", [
    {"session": {"id": "x" * 8_000_000, "type": "couples"}},
    {"session": {"id": "s", "type": "couples"}, "attendance": {"k" * 5000: {"k" * 5000: 1}}},
])
def test_c4_huge_or_deep_input_stops_at_the_schema(engine, facts):
    with pytest.raises(FactsError):
        engine.evaluate(facts)


def test_c4_only_the_policys_facts_reach_the_engine(default_policy):
    facts = prepare_facts(couples(session={"id": "opaque-123", "type": "couples",
                                           "scheduled_start": "2026-01-01T10:00:00Z"}))
    projected = project(facts, default_policy.fact_paths)
    assert "id" not in projected["session"] and "scheduled_start" not in projected["session"]
    assert {f"{s}.{k}" for s, v in projected.items() for k in v} <= set(default_policy.fact_paths)


def test_c5_a_freezing_ruleset_is_caught_in_a_child_process():
    frozen = {"R": {"all": [{"m": {"$and": [NOT_STATE, {"$or": [{f"x{i}": i} for i in range(600)]}]}}]}}
    with pytest.raises(CompileError, match="did not finish within 3s"):
        compile_in_child("freeze@1", json.dumps([frozen]), timeout=3)


def test_c5_child_reports_engine_rejections():
    with pytest.raises(CompileError, match="the engine rejected bad@1: .*error code: 202"):
        compile_in_child("bad@1", json.dumps([{"R": {"all": [{"m": {"$and": [{"x": {"$lt": 1}}]}}]}}]), timeout=20)


def test_c6_every_rule_excludes_the_state_fact(default_policy):
    for name, expr in _expressions(default_policy):
        assert expr["$and"][0] == NOT_STATE, name


def test_c6_rules_on_absent_facts_only_do_not_loop(tmp_path):
    engine = engine_for(tmp_path, minimal_policy(rules=[{
        "id": "R-001", "title": "t", "priority": 1, "then": "rec_a", "rationale": "r", "source": "s",
        "when": {"fact": "history.program_days_this_week", "op": "ne", "value": 3}}]))
    assert engine.evaluate(couples()).fired == ()


def test_c7_c8_sessions_never_accumulate(compiled_default, default_policy):
    facts = project(prepare_facts(couples(attendance={"partners_present": 1})), default_policy.fact_paths)
    for _ in range(2500):  # more than the 1,024 live sessions after which the engine fails (C8)
        assert compiled_default.fired(facts) == ["CA-010", "CA-011", "CA-012", "CA-013"]


def test_only_one_key_per_condition_object(default_policy):
    for _, expr in _expressions(default_policy):
        for node in _walk(expr):
            if isinstance(node, dict):
                assert len(node) == 1, node


@pytest.mark.parametrize(("value", "text"), [
    (0.00001, "0.00001"), (1e16, "10000000000000000"), (8.75, "8.75"), (2, "2"), (True, "true"),
])
def test_numbers_never_in_exponent_notation(value, text):
    assert dumps(value) == text


def test_non_finite_numbers_never_reach_the_engine(engine, compiled_default):
    with pytest.raises(FactsError, match="nan is not a finite number"):
        engine.evaluate(couples(history={"program_hours_this_week": float("nan")}))
    with pytest.raises(EngineError):
        compiled_default.fired({"history": {"program_hours_this_week": float("inf")}})


def test_error_303_many_rules_firing_together_are_sharded(tmp_path):
    rules = [{"id": f"R-{i:03d}", "title": "t", "priority": 1, "then": "rec_a", "rationale": "r", "source": "s",
              "when": {"fact": "session.type", "op": "eq", "value": "couples"}} for i in range(150)]
    engine = engine_for(tmp_path, minimal_policy(rules=rules))
    compiled = engine.resolve()
    assert compiled.shards == 3
    assert all(len(s) <= MAX_PATHS_PER_SHARD + 1 for s in shard_definitions(compiled.policy))
    assert len(engine.evaluate(couples()).fired) == 150  # one ruleset would fail with error 303


def test_error_113_and_303_complex_rules_refused_by_the_loader(tmp_path):
    big_any = {"any": [{"fact": "attendance.absence_reason", "op": "in",
                        "value": ["work", "caregiving", "illness", "declined"]}] * 4}
    when = {"all": [big_any, big_any]}  # 16 x 16 = 256 alternative paths
    with pytest.raises(PolicyLoadError, match="too_complex: rule R-001: the conditions expand to at least 256 alternative cases"):
        engine_for(tmp_path, minimal_policy(rules=[{"id": "R-001", "title": "t", "priority": 1, "then": "rec_a",
                                                    "rationale": "r", "source": "s", "when": when}]))


def test_an_engine_failure_is_a_typed_error_and_the_engine_keeps_working(compiled_default, default_policy):
    with pytest.raises(EngineError, match="cannot be sent to the engine"):
        compiled_default.fired({"history": {"program_hours_this_week": float("nan")}})
    facts = project(prepare_facts(couples(clinical={"safety_concern": True})), default_policy.fact_paths)
    assert compiled_default.fired(facts) == ["CA-001"]


def test_a_freed_policy_refuses_to_decide_instead_of_answering_nothing(tmp_path):
    engine = engine_for(tmp_path, minimal_policy())
    compiled = engine.resolve()
    compiled.close()
    with pytest.raises(EngineError, match="was freed"):
        compiled.fired({"attendance": {"partners_present": 1}})
