"""The peer engines' models of a policy (bench/peer_*.py) decide as our engine does, on the edges too."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from engine.facts.prepare import prepare_facts
from support.policies import ROOT, couples, engine_for, minimal_policy

sys.path.insert(0, str(ROOT / "bench"))
from peer_cedar import cedar_peer, cedar_policies  # noqa: E402
from peer_rego import rego_peer  # noqa: E402
from peer_rules import zen_peer  # noqa: E402

PEERS = {"cedarpy": cedar_peer, "regopy": rego_peer, "zen_engine": zen_peer}

_RULES = [  # an unknown fact, `not_in`, a number threshold, a comparison between facts
    {"id": "R-001", "title": "near discharge", "priority": 1,
     "when": {"fact": "plan.discharge_in_days", "op": "lte", "value": 14}, "then": "rec_a", "rationale": "r",
     "source": "s"},
    {"id": "R-002", "title": "other reason", "priority": 2,
     "when": {"fact": "attendance.absence_reason", "op": "not_in", "value": ["work", "none"]}, "then": "rec_b",
     "rationale": "r", "source": "s"},
    {"id": "R-003", "title": "few hours", "priority": 3,
     "when": {"not": {"fact": "history.program_hours_this_week", "op": "gte", "value": 9}}, "then": "rec_a",
     "rationale": "r", "source": "s"},
    {"id": "R-004", "title": "someone absent", "priority": 4,
     "when": {"any": [{"fact": "attendance.partners_present", "op": "lt",
                       "other_fact": "attendance.partners_expected"},
                      {"all": [{"fact": "clinical.safety_concern", "op": "eq", "value": True},
                               {"fact": "session.type", "op": "in", "value": ["couples", "family"]}]}]},
     "then": "rec_b", "rationale": "r", "source": "s"},
]

_CASES: list[dict[str, Any]] = [
    couples(),
    couples(plan={"discharge_in_days": 14}, attendance={"absence_reason": "illness"}),
    couples(plan={"discharge_in_days": 15}, attendance={"absence_reason": "work", "partners_present": 1}),
    couples(history={"program_hours_this_week": 8.99999}),
    couples(history={"program_hours_this_week": 9}),
    couples(history={"program_hours_this_week": 9.00001}),
    couples(history={"program_hours_this_week": 0.00001}, clinical={"safety_concern": True}),
    {"session": {"id": "t-2", "type": "family"}, "clinical": {"safety_concern": True}},
]


@pytest.mark.parametrize("peer", list(PEERS))
@pytest.mark.parametrize("case", range(len(_CASES)))
def test_peer_decides_as_we_do_on_edges(tmp_path: Path, peer: str, case: int) -> None:
    engine = engine_for(tmp_path, minimal_policy(rules=_RULES))
    compiled = engine.resolve()
    prepared = prepare_facts(_CASES[case])
    assert PEERS[peer](compiled.policy)(prepared) == set(compiled.fired(prepared))


def test_cedar_refuses_a_number_comparison_it_cannot_write_exactly(tmp_path: Path) -> None:
    rule = dict(_RULES[2], when={"fact": "history.program_hours_this_week", "op": "lte", "value": 9})
    policy = engine_for(tmp_path, minimal_policy(rules=[rule])).resolve().policy
    with pytest.raises(ValueError, match="no exact Cedar decimal model"):
        cedar_policies(policy)
