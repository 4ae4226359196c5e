"""Loader errors: every problem at once, exact messages, file:line:col and JSON path."""

from __future__ import annotations

import pytest
import yaml

from engine import PolicyLoadError, load_rules
from engine.policy.loader import load_policy
from support.policies import DEFAULT_POLICY, MINIMAL, minimal_policy, write_policy

LEAF = {"fact": "attendance.partners_present", "op": "eq", "value": 1}


def rule(**kw):
    base = {"id": "R-001", "title": "one", "priority": 10, "when": LEAF, "then": "rec_a",
            "rationale": "because", "source": "s"}
    base.update(kw)
    return base


def problems_of(tmp_path, data, version="1.0.0", policy="demo"):
    path = write_policy(tmp_path, data, policy, version)
    with pytest.raises(PolicyLoadError) as exc:
        load_policy(path)
    return [(p.code, p.message, p.path) for p in exc.value.problems]


@pytest.mark.parametrize(("rules", "expected"), [
    ([rule(when={"fact": "attendance.partner_present", "op": "eq", "value": 1})],
     [("unknown_fact", "rule R-001: unknown fact 'attendance.partner_present'; did you mean "
       "'attendance.partners_present'?", "$.rules[0].when.fact")]),
    ([rule(when={"fact": "clinical.safety_concern", "op": "lt", "value": 1})],
     [("operator_type", "rule R-001: operator 'lt' needs a number, but clinical.safety_concern is a boolean",
       "$.rules[0].when.op")]),
    ([rule(when={"fact": "attendance.absence_reason", "op": "gte", "value": "work"})],
     [("operator_type", "rule R-001: operator 'gte' needs a number, but attendance.absence_reason is a choice",
       "$.rules[0].when.op")]),
    ([rule(when={"fact": "attendance.absence_reason", "op": "eq", "value": "wrk"})],
     [("value_type", "rule R-001: 'wrk' is not a value of attendance.absence_reason (one of: none, "
       "scheduling_conflict, work, caregiving, emotional_overwhelm, needs_individual_work_first, "
       "early_recovery_stabilization, temporary_conflict, separation, declined, illness, unknown); did you mean "
       "'work'?", "$.rules[0].when.value")]),
    ([rule(when={"fact": "clinical.safety_concern", "op": "eq", "value": "yes"})],
     [("value_type", "rule R-001: clinical.safety_concern is a boolean; 'yes' is not true or false",
       "$.rules[0].when.value")]),
    ([rule(when={"fact": "history.program_days_this_week", "op": "lt", "value": "3"})],
     [("value_type", "rule R-001: history.program_days_this_week is a number; '3' is not", "$.rules[0].when.value")]),
    ([rule(when={"fact": "attendance.absence_reason", "op": "in", "value": "work"})],
     [("value_type", "rule R-001: operator 'in' needs a list of values", "$.rules[0].when.value")]),
    ([rule(when={"fact": "attendance.absence_reason", "op": "eq", "value": ["work"]})],
     [("value_type", "rule R-001: operator 'eq' needs a single value", "$.rules[0].when.value")]),
    ([rule(when={"fact": "history.program_days_this_week", "op": "lt", "param": "limt"})],
     [("unknown_parameter", "rule R-001: unknown parameter 'limt'; did you mean 'limit'?", "$.rules[0].when.param")]),
    ([rule(when={"fact": "attendance.partners_present", "op": "lt", "other_fact": "attendance.absence_reason"})],
     [("value_type", "rule R-001: attendance.partners_present (an integer) cannot be compared with "
       "attendance.absence_reason (a choice)", "$.rules[0].when.other_fact")]),
    ([rule(then="rec_aa")],
     [("unknown_recommendation", "rule R-001: unknown recommendation 'rec_aa'; did you mean 'rec_a'?",
       "$.rules[0].then")]),
    ([rule(then=["rec_a", "rec_bb"])],
     [("unknown_recommendation", "rule R-001: unknown recommendation 'rec_bb'; did you mean 'rec_b'?",
       "$.rules[0].then[1]")]),
    ([rule(suppresses=["zzz"])],
     [("unknown_recommendation", "rule R-001: unknown recommendation 'zzz'", "$.rules[0].suppresses[0]")]),
    ([rule(suppresses=["rec_a"])],
     [("self_suppression", "rule R-001: it both gives and suppresses 'rec_a'", "$.rules[0].suppresses")]),
    ([rule(), rule(then="rec_b")],
     [("duplicate_rule_id", "rule R-001: this id is already used by the rule at line 23; give each rule its own id",
       "$.rules[1].id")]),
    ([rule(suppresses=["rec_b"]), rule(id="R-002", then="rec_b", suppresses=["rec_a"])],
     [("suppression_cycle", "rule R-001: suppression cycle: R-001 -> R-002 -> R-001 (each suppresses what the next "
       "one gives, so none of them can win); remove one of these suppressions", "$.rules[0].suppresses")]),
    ([rule(rationale="{clinical.safety_concerns} and {param:limitt}")],
     [("unknown_fact", "rule R-001: rationale quotes unknown fact 'clinical.safety_concerns'; did you mean "
       "'clinical.safety_concern'?", "$.rules[0].rationale"),
      ("unknown_parameter", "rule R-001: rationale quotes unknown parameter 'limitt'; did you mean 'limit'?",
       "$.rules[0].rationale")]),
    ([rule(when={"fact": "attendance.absence_reason", "op": "in", "value": ["work"] + [f"x{i}" for i in range(1)]})],
     [("value_type", "rule R-001: 'x0' is not a value of attendance.absence_reason (one of: none, "
       "scheduling_conflict, work, caregiving, emotional_overwhelm, needs_individual_work_first, "
       "early_recovery_stabilization, temporary_conflict, separation, declined, illness, unknown)",
       "$.rules[0].when.value")]),
])
def test_semantic_errors(tmp_path, rules, expected):
    assert problems_of(tmp_path, minimal_policy(rules=rules)) == expected


@pytest.mark.parametrize(("change", "expected"), [
    ({"version": "1.0.1"}, [("version_mismatch", "version '1.0.1' does not match the file name '1.0.0'", "$.version"),
                            ("changelog", "the first changelog entry must describe version 1.0.1",
                             "$.changelog[0].version")]),
    ({"policy": "other"}, [("policy_mismatch", "policy 'other' does not match its folder 'demo'", "$.policy")]),
    ({"version": "1.0"}, [("schema", "'1.0' is not a version: write MAJOR.MINOR.PATCH, e.g. 1.1.0", "$.version")]),
    ({"effective_from": "2026-13-01"},
     [("schema", "'2026-13-01' is not a real date: write the date as YYYY-MM-DD, e.g. 2026-12-07", "$.effective_from")]),
    ({"titel": "x"}, [("schema", "unknown key 'titel'; did you mean 'title'?", "$.titel")]),
    ({"rules": [rule(priority=0)]},
     [("schema", "rule R-001: `priority` is 0; the smallest allowed is 1", "$.rules[0].priority")]),
    ({"rules": [rule(op="eq")]}, [("schema", "rule R-001: unknown key 'op'", "$.rules[0].op")]),
])
def test_top_level_errors(tmp_path, change, expected):
    assert problems_of(tmp_path, minimal_policy(**change)) == expected


def test_every_problem_reported_at_once_with_lines(tmp_path):
    text = yaml.safe_dump(minimal_policy(rules=[
        rule(when={"all": [{"fact": "clinical.safety_concerns", "op": "eq", "value": True},
                           {"not": {"fact": "history.program_days_this_week", "op": "lt", "param": "nope"}}]}),
        rule(id="R-002", then="rec_z"),
    ]), sort_keys=False)
    path = write_policy(tmp_path, text)
    with pytest.raises(PolicyLoadError) as exc:
        load_policy(path)
    lines = text.splitlines()
    found = {(p.code, p.path): (p.line, p.column) for p in exc.value.problems}
    assert set(found) == {("unknown_fact", "$.rules[0].when.all[0].fact"),
                          ("unknown_parameter", "$.rules[0].when.all[1].not.param"),
                          ("unknown_recommendation", "$.rules[1].then")}
    line, col = found[("unknown_fact", "$.rules[0].when.all[0].fact")]
    assert lines[line - 1][col - 1:].startswith("clinical.safety_concerns")  # the value, not its key
    assert str(exc.value).startswith("3 errors occurred: ")


def test_duplicate_key_in_policy_is_an_error(tmp_path):
    text = yaml.safe_dump(MINIMAL, sort_keys=False) + "title: again\n"
    assert problems_of(tmp_path, text)[0][:2] == ("duplicate_key",
                                                  "duplicate key 'title' (first defined at line 4, column 1)")


def test_too_many_rules_refused(tmp_path):
    many = [rule(id=f"R-{i:03d}") for i in range(251)]
    probs = problems_of(tmp_path, minimal_policy(rules=many))
    assert [(c, p) for c, _, p in probs] == [("schema", "$.rules")]
    assert "is too long" in probs[0][1]


def test_deep_conditions_refused(tmp_path):
    cond = LEAF
    for _ in range(13):
        cond = {"not": cond}
    probs = problems_of(tmp_path, minimal_policy(rules=[rule(when=cond)]))
    assert probs[0][:2] == ("too_deep", "rule R-001: conditions nest deeper than 12 levels")


def test_fan_out_capped(tmp_path):
    values = ["work", "caregiving", "illness"]
    cond = {"any": [{"fact": "attendance.absence_reason", "op": "in", "value": values}] * 43}
    probs = problems_of(tmp_path, minimal_policy(rules=[rule(when=cond)]))
    assert probs == [("too_many_conditions", "rule R-001: 129 conditions after expanding lists; a rule may have at "
                      "most 128", "$.rules[0].when")]


def test_duplicate_version_across_files(tmp_path):
    write_policy(tmp_path, minimal_policy())
    (tmp_path / "demo" / "1.0.0.yml").write_text(yaml.safe_dump(MINIMAL), encoding="utf-8")
    with pytest.raises(PolicyLoadError) as exc:
        load_rules([tmp_path])
    assert [p.code for p in exc.value.problems] == ["duplicate_version"]


def test_default_policy_loads(default_policy):
    assert default_policy.key == "couples-attendance@1.0.0"
    assert default_policy.parameters == {"discharge_planning_window_days": 14, "review_after_consecutive_missed": 3,
                                         "min_program_days_per_week": 3, "min_program_hours_per_week": 9}
    assert all(r.rationale and r.source for r in default_policy.rules)
    assert default_policy.sha256 == __import__("hashlib").sha256(DEFAULT_POLICY.read_bytes()).hexdigest()


def test_non_utf8_file(tmp_path):
    path = write_policy(tmp_path, "x")
    path.write_bytes(b"policy: demo\ntitle: \xff\n")
    with pytest.raises(PolicyLoadError) as exc:
        load_policy(path)
    assert [(p.code, p.line) for p in exc.value.problems] == [("encoding", 2)]
