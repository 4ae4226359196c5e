"""The cross-field checks: the facts schema's `if`/`then` clauses mean exactly the comparisons of
engine/facts/consistency.py, over every value the two fields can take."""

from __future__ import annotations

import itertools

import pytest

from engine.core.errors import FactsError
from engine.core.schemas import load_schema
from engine.facts.consistency import CHECKS
from engine.facts.prepare import prepare_facts

SCHEMA = load_schema("session-facts")
DOMAINS = {
    "attendance.partners_expected": [1, 2, 1.0],
    "attendance.partners_present": [0, 1, 2, 2.0],
    "history.program_days_this_week": list(range(8)),
    "history.program_hours_this_week": [0, 0.5, 23.5, 24, 24.5, 48, 48.001, 100, 167.9, 168],
}


def test_every_check_is_listed_and_written_in_the_schema() -> None:
    listed = [c["id"] for c in SCHEMA["x-cross-field-checks"]]
    clauses = {c["x-cross-field-check"] for section in SCHEMA["properties"].values() for c in section.get("allOf", ())}
    assert listed == [c.id for c in CHECKS] and clauses == set(listed)


@pytest.mark.parametrize("check", CHECKS, ids=[c.id for c in CHECKS])
def test_the_schema_refuses_exactly_what_the_check_forbids(check) -> None:
    section = check.first.split(".")[0]
    for a, b in itertools.product(DOMAINS[check.first], DOMAINS[check.second]):
        sent = {"session": {"id": "s", "type": "couples"},
                section: {check.first.split(".")[1]: a, check.second.split(".")[1]: b}}
        try:
            prepare_facts(sent)
            refused = []
        except FactsError as e:
            refused = e.problems
        assert bool(refused) is (not check.holds(a, b)), (a, b, refused)
        if refused:
            assert [p.path for p in refused] == [check.first] and check.second in refused[0].message
