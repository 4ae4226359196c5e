"""Reading past a YAML syntax error, so that one run shows what else is wrong in the file.

A syntax error leaves the structure unknown from that line on. To find the file's
other mistakes anyway, the offending line is blanked (its line count kept, so every
other position stays true) and the text is read again, up to `MAX_ROUNDS` times:
each further syntax error is reported, and once the text parses, the schema and
semantic checks run on it. Of what they find, what the blanking itself may have
caused is dropped: a key or choice now missing, and duplicates (a blanked `- id:`
line joins two list items into one). What remains sits on lines that were not
touched, and is reported beside the syntax errors, each at its own file:line.
A further syntax error of the kind already reported (bar tabs, which belong to
their own line) is taken as an echo of the first, e.g. of a quote left open,
and reading stops there.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from engine.core.errors import Problem

__all__ = ["MAX_ROUNDS", "read_past"]

MAX_ROUNDS = 5
_SYNTAX = "yaml_syntax"
_CAUSED_BY_BLANKING = {"duplicate_key", "duplicate_rule_id"}
_TAB = "YAML indents with spaces, not tabs"  # a tab is a mistake of its own line: never an echo
_MISSING = re.compile(r"(is missing|needs one of [^;]*)$")

Check = Callable[[str], list[Problem]]  # every problem of a text (empty when it loads)


def read_past(text: str, first: list[Problem], check: Check) -> list[Problem]:
    """The problems found after `first` (a syntax error) by blanking each offending line in turn."""
    lines = text.split("\n")
    blanked: set[int] = set()
    found: list[Problem] = []
    problem = _syntax(first)
    while problem is not None and len(blanked) < MAX_ROUNDS:
        line = problem.line
        if line is None or line in blanked or line > len(lines):
            break
        blanked.add(line)
        lines[line - 1] = ""
        again = check("\n".join(lines))
        problem = _syntax(again)
        if problem is None:
            return found + [p for p in again if _kept(p, blanked)]
        if problem.line in blanked or _kind(problem) in {_kind(p) for p in [*first, *found]} - {_TAB}:
            break  # the same kind again: most likely the first mistake's echo (an unclosed quote), not a new one
        found.append(problem)
    return found


def _kind(p: Problem) -> str:
    """A message with its numbers left out: two errors of one kind read alike."""
    return _TAB if p.message.startswith(_TAB) else re.sub(r"\d+", "#", p.message)


def _syntax(problems: list[Problem]) -> Problem | None:
    return next((p for p in problems if p.code == _SYNTAX), None)


def _kept(p: Problem, blanked: set[int]) -> bool:
    """Not a problem the blanking may have caused, nor one on a blanked line."""
    if p.code in _CAUSED_BY_BLANKING or p.line in blanked:
        return False
    return not (p.code == "schema" and _MISSING.search(p.message))
