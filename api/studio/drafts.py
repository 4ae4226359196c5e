"""A pasted draft version: the gate's verdict with every problem at its line and column, and sessions tried on it.

The draft lives only in the request: it is judged in memory (its ruleset compiled first in a child
process with a timeout, as the gate does for every new version), tried, and freed. Nothing is written
to `rules/`, and the service never serves it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import FileStorage

from api.http.problems import BadRequest
from api.state import state
from engine.analysis.findings import Finding
from engine.core.errors import FactsError, PolicyLoadError, Problem
from engine.decide.decider import decide
from engine.decide.rationale import Decision
from engine.facts.prepare import prepare_facts
from engine.policy.loader import load_policy_text
from engine.policy.model import Policy
from engine.policy.yaml_source import MAX_FILE_BYTES
from engine.runtime.gate import judge

__all__ = ["DRAFT_FILE", "DraftLine", "DraftOutcome", "check_draft", "draft_text"]

DRAFT_FILE = "draft.yaml"  # the name problems are reported under (file:line:column)


@dataclass(frozen=True)
class DraftLine:
    number: int
    text: str
    problems: tuple[Problem, ...]


@dataclass
class DraftOutcome:
    """What the gate said about a draft, and the decision on the facts tried (when it was admitted)."""

    text: str
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    policy: Policy | None = None
    decision: Decision | None = None
    fact_problems: list[Problem] = field(default_factory=list)

    @property
    def admitted(self) -> bool:
        return self.policy is not None and not self.problems

    def lines(self) -> list[DraftLine]:
        """The draft's lines, each with the problems located on it (for the numbered listing)."""
        at: dict[int, list[Problem]] = {}
        for p in self.problems:
            at.setdefault(p.line or 0, []).append(p)
        return [DraftLine(i, text, tuple(at.get(i, ()))) for i, text in enumerate(self.text.splitlines(), 1)]


def check_draft(text: str, facts: dict[str, Any] | None = None) -> DraftOutcome:
    """Judge the draft as `validate` would (no release lock: a draft has no folder), then decide `facts` on it."""
    out = DraftOutcome(text)
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        out.problems = [Problem("file_too_large", f"the draft is larger than the limit of {MAX_FILE_BYTES} bytes",
                                "$", DRAFT_FILE, 1, 1)]
        return out
    try:
        policy = load_policy_text(text, DRAFT_FILE)
    except PolicyLoadError as e:
        out.problems = list(e.problems)
        return out
    settings = state().settings
    report = judge([policy], redact=settings.redact, locks=False, compile_timeout=settings.compile_timeout_ms / 1000)
    try:
        verdict = report.verdicts[0]
        out.problems, out.warnings = list(report.problems), [f for f in verdict.findings if f.severity != "error"]
        out.policy = policy
        if facts is not None and verdict.compiled is not None and not out.problems:
            try:
                out.decision = decide(verdict.compiled, prepare_facts(facts), explain=True)
            except FactsError as e:
                out.fact_problems = list(e.problems)
    finally:
        report.close()
    return out


def draft_text(pasted: str, upload: FileStorage | None) -> str:
    """The draft: an uploaded file when one was chosen, else the pasted text (as UTF-8, never past the file limit)."""
    if upload is None or not upload.filename:
        return pasted.replace("\r\n", "\n")
    raw = upload.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise BadRequest(f"the file is larger than the limit of {MAX_FILE_BYTES} bytes")
    return raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
