"""Cross-field checks: facts that are each valid but contradict one another are refused.

The facts schema writes each check as `if`/`then` clauses marked `x-cross-field-check` (so every
JSON Schema tool, the fast check and jsonschema refuse the same facts) and lists them in
`x-cross-field-checks`. Here is each check's meaning as a comparison, and the message naming both
fields that replaces the plain `maximum` message of a failed clause (tests keep the two equal).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jsonschema import ValidationError

from engine.core.errors import Problem

__all__ = ["CHECKS", "CONTRADICTORY", "CrossFieldCheck", "clause_of", "cross_field_problem"]

HOURS_PER_DAY = 24


@dataclass(frozen=True)
class CrossFieldCheck:
    """One rule between two facts: `holds(a, b)` must be true when both are known."""

    id: str
    first: str
    second: str
    holds: Callable[[Any, Any], bool]
    message: Callable[[Any, Any], str]


CHECKS: tuple[CrossFieldCheck, ...] = (
    CrossFieldCheck(
        "present_within_expected", "attendance.partners_present", "attendance.partners_expected",
        lambda present, expected: present <= expected,
        lambda present, expected: f"{present} partners present is more than the {expected} expected "
                                  f"(attendance.partners_expected): no more partners can attend than were booked"),
    CrossFieldCheck(
        "hours_within_days", "history.program_hours_this_week", "history.program_days_this_week",
        lambda hours, days: hours <= HOURS_PER_DAY * days,
        lambda hours, days: f"{hours} program hours this week do not fit in {days} program day"
                            f"{'' if days == 1 else 's'} (history.program_days_this_week, at most "
                            f"{HOURS_PER_DAY} hours a day)"),
)


BY_ID = {c.id: c for c in CHECKS}
CONTRADICTORY = "contradictory_facts"  # the problem's code (the error is still `invalid_facts`)


def clause_of(error: ValidationError, schema: dict[str, Any]) -> dict[str, Any] | None:
    """The `x-cross-field-check` clause of `schema` whose `then` the error broke, if any."""
    path = list(error.absolute_schema_path)
    if "then" not in path:
        return None
    node: Any = schema
    for part in path[: path.index("then")]:
        node = node[part]
    return node if isinstance(node, dict) and node.get("x-cross-field-check") in BY_ID else None


def cross_field_problem(clause: dict[str, Any], error: ValidationError, pointer: str) -> Problem:
    """The problem of a broken clause, at its first field, its message naming both."""
    check = BY_ID[clause["x-cross-field-check"]]
    other = clause["if"]["properties"][check.second.split(".", 1)[1]]["const"]
    return Problem(CONTRADICTORY, check.message(error.instance, other), check.first, pointer=pointer)
