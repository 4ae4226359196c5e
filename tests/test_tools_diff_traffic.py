"""Logged traffic through two versions: redacted facts, other policies, limits, and the report's traffic section."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.impact.markdown import to_markdown
from engine.impact.report import impact_report
from engine.impact.traffic import TrafficCase
from engine.policy.loader import load_policy

PAIR = Path(__file__).resolve().parent / "fixtures" / "tools" / "diff" / "pair"
OLD, NEW = load_policy(PAIR / "1.0.0.yaml"), load_policy(PAIR / "1.2.0.yaml")  # 1.2.0: document critical
ABSENT = {"session": {"id": "s", "type": "couples"}, "attendance": {"partners_present": 1}}


def _case(i: int, redacted: frozenset[str] = frozenset(), policy: str = "pair", facts=None) -> TrafficCase:
    return TrafficCase(f"d-{i}", policy, facts or ABSENT, redacted)


def _report(cases, **options):
    return impact_report(OLD, NEW, generated=False, traffic=cases, traffic_source="a test log", isolate=False,
                         **options)


# (redacted fact paths of a logged decision, replayed?, the reason when not)
REDACTED = [
    (frozenset(), True, None),
    (frozenset({"session.scheduled_start"}), True, None),  # neither version reads it
    (frozenset({"attendance.partners_expected"}), False,
     "the decision log redacted attendance.partners_expected, which both versions read"),
    (frozenset({"clinical.relapse_since_last_session"}), False,  # only 1.0.0's relapse rule reads it
     "the decision log redacted clinical.relapse_since_last_session, which pair@1.0.0 reads "
     "clinical.relapse_since_last_session"),
]


@pytest.mark.parametrize("redacted, replayed, reason", REDACTED, ids=[",".join(r[0]) or "none" for r in REDACTED])
def test_a_redacted_fact_stops_a_replay_only_when_a_version_reads_it(redacted, replayed, reason):
    facts = {"session": {"id": "s", "type": "couples"}, "attendance": {"partners_present": 1}}
    for path in redacted:  # a redacted fact is not in the case's facts
        section, name = path.split(".")
        facts.get(section, {}).pop(name, None)
    t = _report([_case(1, redacted, facts=facts)]).traffic
    assert t is not None
    assert (t.replayed, t.not_replayed) == (int(replayed), int(not replayed))
    assert [u.reason for u in t.unreplayable] == ([reason] if reason else [])
    assert t.changed == int(replayed)  # one partner absent: document goes from warning to critical


def test_traffic_groups_count_decisions_and_keep_their_ids():
    cases = [_case(i) for i in range(150)] + [_case(900, policy="other")] + \
            [_case(1000, facts={"session": {"id": "t", "type": "couples"}})]  # both present: alike
    report = _report(cases)
    t = report.traffic
    assert t is not None
    assert (t.read, t.other_policy, t.replayed, t.changed) == (152, 1, 151, 150)
    [group] = t.groups
    assert (group.change.kind, group.change.rec, group.cases, len(group.decision_ids)) == \
           ("indicator", "document", 150, 100)
    assert group.causes == ["rule PR-010"]
    assert group.example == {}  # logged facts never appear in a report


def test_a_limit_stops_the_replay():
    t = _report([_case(i) for i in range(10)], traffic_limit=4).traffic
    assert t is not None
    assert (t.read, t.truncated) == (4, True)


def test_the_markdown_traffic_section():
    cases = [_case(1), _case(2, frozenset({"attendance.partners_expected"}))]
    md = to_markdown(_report(cases))
    lines = md.splitlines()
    assert lines[2] == ("**Decisions change in 1 of 1 replayed logged decisions: indicator changed (1); "
                        "4 changes to the policy.**")
    assert ("2 logged decisions read from a test log: 1 re-decided with both versions, 1 cannot be replayed, "
            "0 belong to another policy.") in lines
    assert "| 1 | indicator changed | `document` | PR-010 (warning) | PR-010 (critical) | 1 | rule PR-010 |" in lines
    assert "Decision ids: `d-1`" in lines
    assert ("| the decision log redacted attendance.partners_expected, which both versions read | 1 | d-2 |"
            in lines)
    assert "### Decisions that change on generated cases" not in lines
