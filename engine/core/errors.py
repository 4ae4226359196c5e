"""Typed errors: every problem is data with a code, a message and a location."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO


@dataclass(frozen=True)
class Problem:
    """One problem found in a policy file or in session facts."""

    code: str
    message: str
    path: str = ""
    file: str | None = None
    line: int | None = None
    column: int | None = None
    # RFC 6901 pointer to the value in the checked document (unambiguous where `path` has a key with a dot);
    # None: derived from `path`, whose segments then hold no dot.
    pointer: str | None = None

    def location(self) -> str:
        """`file:line:col`, or as much of it as is known."""
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            parts.append(str(self.column or 1))
        return ":".join(parts)

    def format(self) -> str:
        """The CLI form: `file:line:col: code: message (at path)`."""
        where = f" (at {self.path})" if self.path else ""
        return f"{self.location()}: {self.code}: {self.message}{where}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "path": self.path, "message": self.message}
        if self.file is not None:
            out.update(file=self.file, line=self.line, column=self.column)
        return out


class PolicyError(Exception):
    """Base class of every error this project raises on purpose.

    Each subclass names its failure by type: a stable `code`, a human `title`, and
    its context as attributes. Nothing changes `code` on an instance; callers (the
    HTTP handler, the command line) choose what to do by type.
    """

    code = "policy_error"
    title = "Policy error"

    def __init__(self, message: str, *, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems: list[Problem] = list(problems or [])


class PolicyLoadError(PolicyError):
    """A policy file (or a set of them) is invalid; `problems` lists every issue."""

    code, title = "invalid_policy", "Invalid policy"

    def __init__(self, problems: list[Problem]) -> None:
        n = len(problems)
        head = problems[0].format() if problems else "invalid policy"
        super().__init__(f"{n} error{'s' if n != 1 else ''} occurred: {head}", problems=problems)


class FactsError(PolicyError):
    """Session facts do not match the facts schema; `problems` lists every issue."""

    code, title = "invalid_facts", "Invalid session facts"

    def __init__(self, problems: list[Problem]) -> None:
        lines = "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in problems)
        super().__init__(f"invalid facts: {lines}", problems=problems)


class MalformedJSONError(FactsError):
    """The body is not strict JSON (syntax, encoding, duplicate keys, lone surrogates...); `reason` says where."""

    code, title = "malformed_json", "Malformed JSON"

    def __init__(self, reason: str) -> None:
        super().__init__([Problem(self.code, reason, "")])
        self.reason = reason


class UnknownPolicyError(PolicyError):
    """The requested policy is not loaded; `suggestion` is the closest loaded one."""

    code, title = "unknown_policy", "Unknown policy"

    def __init__(self, message: str, *, suggestion: str | None = None) -> None:
        if suggestion:
            message = f"{message}; did you mean {suggestion!r}?"
        super().__init__(message)
        self.suggestion = suggestion


class UnknownPolicyVersionError(UnknownPolicyError):
    """The policy is loaded, but not the requested version."""

    code, title = "unknown_policy_version", "Unknown policy version"


class NoActiveVersionError(PolicyError):
    """No version of the policy is in effect yet."""

    code, title = "no_active_version", "No policy version in effect"


class PinnedVersionUnavailableError(NoActiveVersionError):
    """An admin pinned a version that this set has not loaded (yet): refuse rather than guess."""

    code, title = "pinned_version_unavailable", "Pinned policy version not loaded"


class EngineError(PolicyError):
    """durable_rules refused or failed; the worker stays up and the decision is not made."""

    code, title = "engine_error", "The engine could not decide"

    def __init__(self, message: str, *, ruleset: str | None = None) -> None:
        super().__init__(message)
        self.ruleset = ruleset


class CompileError(PolicyError):
    """A policy version could not be compiled into a durable_rules ruleset."""

    code, title = "compile_error", "Policy version does not compile"

    def __init__(self, message: str, *, ruleset: str | None = None, problems: list[Problem] | None = None) -> None:
        super().__init__(message, problems=problems)
        self.ruleset = ruleset


class StoreError(PolicyError):
    """The decision log could not be read or written (the service answers 503; nothing is lost)."""

    code, title = "decision_log_unavailable", "Decision log unavailable"


def print_problems(problems: Sequence[Problem], stream: TextIO | None = None) -> None:
    """`file:line:col: code: message` per problem, then OPA's `N errors occurred`."""
    stream = stream or sys.stderr
    for p in problems:
        print(p.format(), file=stream)
    n = len(problems)
    print(f"{n} error{'s' if n != 1 else ''} occurred", file=stream)


def print_error(error: PolicyError, stream: TextIO | None = None) -> None:
    """An error as problems: its own list (load, config) or itself as one problem."""
    print_problems(error.problems or [Problem(error.code, error.message)], stream)
