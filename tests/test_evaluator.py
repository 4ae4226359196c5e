"""Precedence, suppression, rationale, explain, determinism, versions."""

from __future__ import annotations

import datetime as dt

import pytest

from engine import Engine, NoActiveVersionError, PolicySet, UnknownPolicyError, load_rules
from support.policies import couples, engine_for, minimal_policy, write_policy


def _rule(rid, then, priority=10, when=None, **kw):
    return {"id": rid, "title": rid, "priority": priority, "then": then, "rationale": kw.pop("rationale", "r"),
            "source": "s", "when": when or {"fact": "attendance.partners_present", "op": "eq", "value": 1}, **kw}


RECS = {k: {"title": k.upper(), "indicator": "info", "category": "attendance", "text": k} for k in
        ("rec_a", "rec_b", "rec_c", "rec_d")}


@pytest.mark.parametrize(("rules", "ids", "suppressed"), [
    # fired rules sorted by priority, then id
    ([_rule("R-002", "rec_a", 5), _rule("R-001", "rec_b", 5), _rule("R-000", "rec_c", 9)],
     ["rec_b", "rec_a", "rec_c"], []),
    # a rule's own recommendations keep their order
    ([_rule("R-001", ["rec_c", "rec_a"])], ["rec_c", "rec_a"], []),
    # suppression removes the recommendation and says who did it
    ([_rule("R-001", "rec_a", 1, suppresses=["rec_b"]), _rule("R-002", "rec_b", 2)],
     ["rec_a"], [{"id": "rec_b", "rule": "R-002", "suppressed_by": "R-001"}]),
    # suppression works whatever the order of priorities
    ([_rule("R-001", "rec_a", 9, suppresses=["rec_b"]), _rule("R-002", "rec_b", 1)],
     ["rec_a"], [{"id": "rec_b", "rule": "R-002", "suppressed_by": "R-001"}]),
    # a suppressor that did not fire suppresses nothing
    ([_rule("R-001", "rec_a", 1, suppresses=["rec_b"],
            when={"fact": "clinical.safety_concern", "op": "eq", "value": True}), _rule("R-002", "rec_b", 2)],
     ["rec_b"], []),
    # the same recommendation from two rules: the first by precedence gives it
    ([_rule("R-001", "rec_a", 3, rationale="late"), _rule("R-002", "rec_a", 1, rationale="early")], ["rec_a"], []),
    # two suppressors: the first by precedence is named
    ([_rule("R-001", "rec_a", 2, suppresses=["rec_c"]), _rule("R-002", "rec_b", 1, suppresses=["rec_c"]),
      _rule("R-003", "rec_c", 3)],
     ["rec_b", "rec_a"], [{"id": "rec_c", "rule": "R-003", "suppressed_by": "R-002"}]),
])
def test_precedence_and_suppression(tmp_path, rules, ids, suppressed):
    engine = engine_for(tmp_path, minimal_policy(recommendations=RECS, rules=rules))
    d = engine.evaluate(couples(attendance={"partners_present": 1})).to_dict()
    assert [r["id"] for r in d["recommendations"]] == ids
    assert d["suppressed"] == suppressed


def test_duplicate_recommendation_keeps_the_higher_precedence_rationale(tmp_path):
    engine = engine_for(tmp_path, minimal_policy(recommendations=RECS, rules=[
        _rule("R-001", "rec_a", 3, rationale="late"), _rule("R-002", "rec_a", 1, rationale="early")]))
    rec = engine.evaluate(couples(attendance={"partners_present": 1})).recommendations[0]
    assert (rec.rule, rec.rationale) == ("R-002", "early")


@pytest.mark.parametrize(("template", "facts", "expected"), [
    ("{attendance.absence_reason}", {"attendance": {"partners_present": 1, "absence_reason": "work"}}, "work"),
    ("{attendance.absence_reason}", {"attendance": {"partners_present": 1}}, "none"),
    ("{plan.discharge_in_days} days", {"attendance": {"partners_present": 1}}, "unknown days"),
    ("{history.program_hours_this_week}h", {"attendance": {"partners_present": 1},
                                            "history": {"program_hours_this_week": 9.0}}, "9h"),
    ("limit {param:limit}", {"attendance": {"partners_present": 1}}, "limit 3"),
    ("{clinical.safety_concern}", {"attendance": {"partners_present": 1}}, "no"),
    ("because {matched}.", {"attendance": {"partners_present": 1}}, "because partners present: 1."),
    ("a\n   b  c", {"attendance": {"partners_present": 1}}, "a b c"),
])
def test_rationale_rendering(tmp_path, template, facts, expected):
    engine = engine_for(tmp_path, minimal_policy(rules=[_rule("R-001", "rec_a", rationale=template)]))
    assert engine.evaluate(couples(**facts)).recommendations[0].rationale == expected


def test_matched_names_the_reasons_under_any(engine):
    facts = couples(clinical={"major_decision_pending": "marriage", "betrayal_to_process": "relapse"})
    rec = engine.evaluate(facts).recommendations[0]
    assert rec.id == "strongly_encourage_joint_attendance"
    assert rec.rationale == ("Consistent joint participation is strongly encouraged because major decision "
                             "pending: marriage; betrayal to process: relapse; help with attendance barriers is "
                             "offered.")
    assert [m["fact"] for m in rec.matched] == ["session.type", "clinical.major_decision_pending",
                                                "clinical.betrayal_to_process"]


def test_matched_conditions_carry_expected_and_actual(engine):
    d = engine.evaluate(couples(attendance={"partners_present": 1},
                                history={"consecutive_joint_sessions_missed": 4})).to_dict()
    review = next(r for r in d["recommendations"] if r["id"] == "clinician_review_attendance")
    assert review["matched"] == [
        {"fact": "session.type", "op": "eq", "expected": "couples", "actual": "couples"},
        {"fact": "history.consecutive_joint_sessions_missed", "op": "gte", "expected": 3, "actual": 4,
         "param": "review_after_consecutive_missed"}]
    assert review["rationale"].startswith("4 joint sessions in a row were missed (review from 3).")


def test_explain_lists_every_rule_that_did_not_fire_with_first_failed_condition(engine, default_policy):
    d = engine.evaluate(couples(attendance={"partners_present": 1}), explain=True).to_dict()
    not_fired = {n["rule"]: n["failed"] for n in d["not_fired"]}
    assert set(not_fired) | set(d["rules_fired"]) == {r.id for r in default_policy.rules}
    assert not set(not_fired) & set(d["rules_fired"])
    assert not_fired["CA-001"] == {"fact": "clinical.safety_concern", "op": "eq", "expected": True, "actual": False}
    assert not_fired["CA-080"] == {"fact": "history.program_days_this_week", "op": "lt", "expected": 3,
                                   "actual": None, "param": "min_program_days_per_week"}
    assert "not_fired" not in engine.evaluate(couples()).to_dict()


def test_decisions_are_deterministic(engine):
    facts = couples(attendance={"partners_present": 1, "absence_reason": "caregiving"},
                    clinical={"safety_concern": True, "betrayal_to_process": "infidelity"},
                    preferences={"makeup_session_requested": True}, plan={"discharge_in_days": 3})
    first = engine.evaluate(facts).to_dict()
    for _ in range(20):
        again = engine.evaluate(facts).to_dict()
        assert again["decision_id"] != first["decision_id"]
        for key in ("recommendations", "suppressed", "rules_fired", "policy"):
            assert again[key] == first[key]


def test_decision_identity(engine, default_policy):
    d = engine.evaluate(couples()).to_dict()
    assert d["policy"] == {"id": "couples-attendance", "version": "1.0.0", "sha256": default_policy.sha256}
    assert d["evaluated_at"] == "2026-06-01T12:00:00Z"
    assert d["session_id"] == "t-1"


def _versions(tmp_path):
    for version, date in (("1.0.0", "2026-01-01"), ("1.1.0", "2026-07-01"), ("1.0.1", "2026-03-01")):
        write_policy(tmp_path, minimal_policy(version=version, effective_from=date,
                                              changelog=[{"version": version, "changes": "x"}]), version=version)
    return PolicySet.build(load_rules([tmp_path]), isolate=False)


@pytest.mark.parametrize(("today", "pin", "expected"), [
    (dt.date(2026, 6, 30), None, "1.0.1"),
    (dt.date(2026, 7, 1), None, "1.1.0"),
    (dt.date(2026, 2, 1), None, "1.0.0"),
    (dt.date(2026, 2, 1), "1.1.0", "1.1.0"),  # a caller may pin a version not yet in effect
])
def test_active_version_and_pinning(tmp_path, today, pin, expected):
    clock = lambda: dt.datetime.combine(today, dt.time(9), tzinfo=dt.UTC)  # noqa: E731
    engine = Engine(_versions(tmp_path), clock=clock)
    assert engine.evaluate(couples(), version=pin).policy.version == expected


@pytest.mark.parametrize(("policy", "version", "error", "message"), [
    ("demo", "1.2.0", UnknownPolicyError, "policy 'demo' has no version '1.2.0'; did you mean '1.1.0'?"),
    ("deom", None, UnknownPolicyError, "unknown policy 'deom'; did you mean 'demo'?"),
    ("other", None, UnknownPolicyError, "unknown policy 'other'"),
])
def test_unknown_policy_or_version(tmp_path, policy, version, error, message):
    engine = Engine(_versions(tmp_path))
    with pytest.raises(error) as exc:
        engine.evaluate(couples(), policy=policy, version=version)
    assert exc.value.message == message


def test_no_version_in_effect_yet(tmp_path):
    engine = Engine(_versions(tmp_path), clock=lambda: dt.datetime(2025, 12, 31, tzinfo=dt.UTC))
    with pytest.raises(NoActiveVersionError) as exc:
        engine.evaluate(couples())
    assert exc.value.message == "no version of 'demo' is in effect on 2025-12-31 (first from 2026-01-01)"


def test_several_policies_need_a_name(tmp_path):
    write_policy(tmp_path, minimal_policy())
    write_policy(tmp_path, minimal_policy(policy="other"), policy="other")
    engine = Engine(PolicySet.build(load_rules([tmp_path]), isolate=False))
    with pytest.raises(UnknownPolicyError, match="several policies are loaded"):
        engine.evaluate(couples())
    assert engine.evaluate(couples(), policy="other").policy.id == "other"
