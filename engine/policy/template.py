"""Rationale templates: `{section.fact}`, `{param:name}` and `{matched}`, resolved once.

This is the one place a placeholder is understood. The loader parses every
rule's template here and refuses those it cannot fill; the renderer
(engine.decide.rationale.compile_template) builds its text from the same parts,
so a template that loads always renders.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from engine.core.errors import PolicyError
from engine.core.suggest import did_you_mean

__all__ = ["PLACEHOLDER", "Part", "Template", "TemplateError", "parse_template"]

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
PARAM = "param:"


@dataclass(frozen=True)
class Part:
    """Literal text, a fact to quote, a parameter's name, or the matched conditions."""

    kind: Literal["text", "fact", "param", "matched"]
    text: str = ""


@dataclass(frozen=True)
class Issue:
    """A placeholder the renderer could not fill: its text as written (`{param:limt}`) and why."""

    code: str
    placeholder: str
    message: str


class TemplateError(PolicyError):
    """A rationale template has placeholders that cannot be filled; `issues` says which and why."""

    code, title = "invalid_template", "Rationale template cannot be filled"

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(i.message for i in issues))
        self.issues = issues


@dataclass(frozen=True)
class Template:
    parts: tuple[Part, ...]

    @property
    def facts(self) -> set[str]:
        """The facts the template quotes."""
        return {p.text for p in self.parts if p.kind == "fact"}

    @property
    def quotes_matched(self) -> bool:
        return any(p.kind == "matched" for p in self.parts)


def parse_template(template: str, parameters: Collection[str], facts: Collection[str]) -> Template:
    """Split a template into parts (whitespace collapsed: YAML folding leaves runs of spaces).

    Raises TemplateError naming every placeholder that is neither a known fact,
    `param:` and a known parameter, nor `matched`.
    """
    parts: list[Part] = []
    issues: list[Issue] = []
    for i, piece in enumerate(PLACEHOLDER.split(" ".join(template.split()))):
        if i % 2 == 0:
            parts.append(Part("text", piece))
            continue
        part, issue = _placeholder(piece, parameters, facts)
        parts.append(part)
        if issue:
            issues.append(issue)
    if issues:
        raise TemplateError(issues)
    return Template(tuple(parts))


def _placeholder(name: str, parameters: Collection[str], facts: Collection[str]) -> tuple[Part, Issue | None]:
    written = "{" + name + "}"
    if name == "matched":
        return Part("matched"), None
    if name.startswith(PARAM):
        param = name[len(PARAM):]
        if param in parameters:
            return Part("param", param), None
        return Part("param", param), Issue("unknown_parameter", written, (
            f"rationale quotes unknown parameter {param!r}{did_you_mean(param, parameters)}"))
    if name in facts:
        return Part("fact", name), None
    if not name.strip():
        return Part("text", written), Issue("bad_placeholder", written, (
            "rationale has an empty placeholder {}: write {section.fact}, {param:name} or {matched} inside the braces"))
    choices = [*facts, "matched", *(PARAM + p for p in parameters)]
    return Part("fact", name), Issue("unknown_fact", written, (
        f"rationale quotes unknown fact {name!r}{did_you_mean(name, choices)}"))

