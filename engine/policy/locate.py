"""Where a problem is, in words a policy author knows: file:line:column, and the rule it is in."""

from __future__ import annotations

import dataclasses
from typing import Any

from engine.core.errors import Problem
from engine.policy.yaml_source import Document, Path, json_path

__all__ = ["Locator", "get"]


def get(data: Any, path: Path) -> Any:
    """The value at `path`, or None when the document has none there."""
    for part in path:
        if isinstance(data, dict) and isinstance(part, str):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


class Locator:
    """Makes Problems for one document: at a key, at a value or at a word in it, named by rule id.

    Every message about something inside a rule starts with `rule CA-075: `, so
    a reader never has to count to `$.rules[20]`.
    """

    def __init__(self, doc: Document, filename: str) -> None:
        self.doc = doc
        self.filename = filename

    def line(self, path: Path) -> int | None:
        pos = self.doc.position(path)
        return pos[0] if pos else None

    def at_key(self, code: str, message: str, path: Path, about: Path | None = None) -> Problem:
        """At the key of `path`; `about`: the path whose rule names the problem, when not `path` itself."""
        return self._problem(code, message, path, self.doc.position(path), about)

    def at_value(self, code: str, message: str, path: Path) -> Problem:
        return self._problem(code, message, path, self.doc.value_position(path))

    def at_text(self, code: str, message: str, path: Path, needle: str) -> Problem:
        return self._problem(code, message, path, self.doc.find(path, needle))

    def named(self, problem: Problem, path: Path) -> Problem:
        """A problem found while reading the YAML, with the rule (or recommendation) it is in named."""
        subject = self.subject(path)
        return dataclasses.replace(problem, message=f"{subject}: {problem.message}") if subject else problem

    def _problem(self, code: str, message: str, path: Path, where: tuple[int, int] | None,
                 about: Path | None = None) -> Problem:
        line, col = where or (1, 1)
        subject = self.subject(path if about is None else about)
        text = f"{subject}: {message}" if subject else message
        return Problem(code, text, json_path(path), self.filename, line, col)

    def subject(self, path: Path) -> str | None:
        """The rule, recommendation or must_decide situation `path` is inside, in words."""
        if len(path) < 2:
            return None
        head, item = path[0], path[1]
        if head == "rules" and isinstance(item, int):
            return self.rule_name(item)
        if head == "recommendations":
            return f"recommendation {item}"
        if head == "must_decide" and isinstance(item, int):
            name = get(self.doc.data, ("must_decide", item, "name"))
            return f"must_decide {name!r}" if isinstance(name, str) else f"must_decide entry {item + 1}"
        return None

    def rule_name(self, i: int) -> str:
        """`rule CA-075`, or `the rule at line 40` when it has no usable id."""
        rule_id = get(self.doc.data, ("rules", i, "id"))
        if isinstance(rule_id, str) and rule_id.strip():
            return f"rule {rule_id}"
        return f"the rule at line {self.line(('rules', i))}"

    def describe(self, path: Path) -> str:
        """A mapping of the document in words: `the top level`, `rule CA-075`, `the condition at line 30`."""
        if not path:
            return "the top level"
        if len(path) == 2 and path[0] in ("rules", "recommendations", "must_decide"):
            return self.subject(path) or json_path(path)
        if len(path) == 2 and path[0] == "changelog" and isinstance(path[1], int):
            return f"changelog entry {path[1] + 1}"
        if path == ("recommendations",):
            return "the recommendations catalog"
        if "when" in path:
            return f"the condition at line {self.line(path)}"
        return f"`{path[-1]}` (line {self.line(path)})"
