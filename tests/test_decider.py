"""The memo: a cached answer is byte-identical to a fresh one; the memo stays bounded."""

from __future__ import annotations

import datetime as dt
import json

from engine import PolicySet, load_rules
from engine.decide.decider import Decider
from engine.facts.prepare import prepare_facts
from support.factgen import random_facts
from support.policies import RULES

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _bytes(decision) -> bytes:
    return json.dumps(decision.to_dict(), sort_keys=False).encode()


def test_memo_answers_are_byte_identical_to_fresh_ones(policy_set):
    import random

    compiled = policy_set.resolve("couples-attendance", None, NOW.date())
    memo, fresh = Decider(compiled, memo_size=512), Decider(compiled, memo_size=0)
    rng = random.Random(3)
    cases = [prepare_facts(random_facts(rng, i)) for i in range(200)]
    for facts in cases + cases:  # the second pass is answered from the memo
        a = memo.decide(facts, decision_id="d-1", now=NOW)
        b = fresh.decide(facts, decision_id="d-1", now=NOW)
        assert _bytes(a) == _bytes(b)
    assert memo.hits > 0 and fresh.hits == 0


def test_memo_key_ignores_what_the_policy_does_not_read(policy_set):
    compiled = policy_set.resolve("couples-attendance", None, NOW.date())
    d = Decider(compiled, memo_size=8)
    a = d.decide(prepare_facts({"session": {"id": "a", "type": "couples", "scheduled_start": "2026-01-01T10:00:00Z"}}),
                 now=NOW)
    b = d.decide(prepare_facts({"session": {"id": "b", "type": "couples"}}), now=NOW)
    assert (d.hits, d.misses) == (1, 1)
    assert (a.session_id, b.session_id) == ("a", "b") and a.decision_id != b.decision_id


def test_whole_floats_share_one_memo_entry_and_one_json_form(policy_set):
    compiled = policy_set.resolve("couples-attendance", None, NOW.date())
    d = Decider(compiled, memo_size=8)
    a = d.decide(prepare_facts({"session": {"id": "a", "type": "couples"}, "history": {"program_hours_this_week": 8.0}}),
                 now=NOW, decision_id="x")
    b = d.decide(prepare_facts({"session": {"id": "a", "type": "couples"}, "history": {"program_hours_this_week": 8}}),
                 now=NOW, decision_id="x")
    assert _bytes(a) == _bytes(b) and d.hits == 1


def test_memo_is_bounded(policy_set):
    compiled = policy_set.resolve("couples-attendance", None, NOW.date())
    d = Decider(compiled, memo_size=5)
    for n in range(20):
        d.decide(prepare_facts({"session": {"id": "s", "type": "couples"},
                                "history": {"consecutive_joint_sessions_missed": n}}), now=NOW)
    assert len(d._memo) == 5


def test_explain_is_never_served_stale(policy_set):
    compiled = policy_set.resolve("couples-attendance", None, NOW.date())
    d = Decider(compiled)
    facts = prepare_facts({"session": {"id": "s", "type": "couples"}})
    d.decide(facts, now=NOW)
    assert d.decide(facts, now=NOW, explain=True).not_fired


def test_policy_sets_share_nothing_between_builds():
    a = PolicySet.build(load_rules([RULES]), isolate=False)
    b = PolicySet.build(load_rules([RULES]), isolate=False)
    key = "couples-attendance@1.0.0"
    assert a.decider(key) is not b.decider(key)
    a.close()
    b.close()


def test_the_fast_memo_key_is_the_projection_key(policy_set):
    import random

    compiled = policy_set.resolve("couples-attendance", None, NOW.date())
    d = Decider(compiled)
    rng = random.Random(5)
    unprepared = [{"session": {"id": "s", "type": "couples"}}, {"session": {"id": "s"}, "clinical": None}]
    for facts in [prepare_facts(random_facts(rng, i)) for i in range(100)] + unprepared:
        key, projected = d.project(facts)
        assert d.key(facts) == key and d._projected(key) == projected
