"""Lint findings: a code, a severity, a location, a plain-language message and, where it helps, a case."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

__all__ = ["SEVERITIES", "Finding", "LintReport", "Severity"]

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    file: str
    line: int | None
    column: int | None
    policy: str
    rule: str | None = None
    counterexample: dict[str, Any] | None = None
    decision: tuple[str, ...] | None = None  # what the counterexample gets, e.g. `pause_couples_therapy (CA-001)`

    def location(self) -> str:
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.column or 1}"

    def format(self) -> str:
        """`file:line:col: severity: code: message`, then the counterexample and its decision, indented."""
        out = [f"{self.location()}: {self.severity}: {self.code}: {self.message}"]
        if self.counterexample is not None:
            out.append(f"    counterexample: {json.dumps(self.counterexample, sort_keys=False)}")
        if self.decision is not None:
            out.append(f"    decision: {', '.join(self.decision) or 'no recommendation'}")
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "message": self.message, "file": self.file,
                "line": self.line, "column": self.column, "policy": self.policy, "rule": self.rule,
                "counterexample": self.counterexample,
                "decision": list(self.decision) if self.decision is not None else None}

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line or 0, self.column or 0, self.code)


@dataclass
class LintReport:
    """Every finding over the linted policy versions, and what the analysis cost."""

    policies: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    combinations: int = 0  # nodes the pruned search visited
    space_size: int = 0  # combinations of the whole fact space, for scale
    seconds: float = 0.0

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def failed(self, strict: bool) -> bool:
        """Errors always fail; warnings fail under --strict; info never does."""
        return self.count("error") > 0 or (strict and self.count("warning") > 0)

    def summary(self) -> str:
        counts = ", ".join(_plural(self.count(s), s) for s in SEVERITIES)
        return (f"{counts} in {_plural(len(self.policies), 'policy version')} "
                f"({self.combinations:,} combinations checked of a fact space of {self.space_size:,}, "
                f"{self.seconds:.2f}s)")

    def to_dict(self) -> dict[str, Any]:
        return {"policies": self.policies, "findings": [f.to_dict() for f in self.findings],
                "counts": {s: self.count(s) for s in SEVERITIES}, "combinations": self.combinations,
                "space_size": self.space_size, "seconds": round(self.seconds, 3)}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 or word == "info" else f"{n} {word}s"


def sort_findings(findings: Sequence[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: f.sort_key)
