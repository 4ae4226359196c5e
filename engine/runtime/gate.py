"""The one gate a policy version passes before anything uses it.

`validate`, `lint`, `test`, `lock`, `serve` at start-up, a hot reload, the admin
reload and a worker adopting another worker's set all ask this module, so a
version refused anywhere is refused everywhere. A version is admitted when

1. its file loads (safe YAML, JSON Schema, semantic checks: engine.policy.loader);
2. no other file defines the same version, and a higher version takes effect later;
3. it writes no redacted fact into the decision log (the service's `redact`);
4. its folder's release lock holds (engine.policy.lock);
5. it compiles, first in a child process with a timeout (C5), then here;
6. lint finds no error-level finding (engine.analysis.lint).

Every problem is collected with its file:line, and a problem about one version
file refuses that version only; the others are judged on their own. Problems
that belong to no version file (a malformed lock, a released file gone) refuse
nothing but are reported, like the refusals, to every caller.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from engine.analysis.findings import Finding, LintReport, sort_findings
from engine.analysis.lint import lint_policy
from engine.analysis.space import build_space
from engine.compile.ruleset import COMPILE_TIMEOUT_S, CompiledPolicy, compile_policy
from engine.core.errors import PolicyError, Problem
from engine.policy.loader import load_each, version_problems
from engine.policy.lock import check_locks
from engine.policy.model import Policy
from engine.policy.semantics import redaction_problems

__all__ = ["GateReport", "Verdict", "admit", "judge"]


@dataclass
class Verdict:
    """What the gate decided for one policy version."""

    policy: Policy
    compiled: CompiledPolicy | None = None
    problems: list[Problem] = field(default_factory=list)  # any problem refuses the version
    findings: list[Finding] = field(default_factory=list)  # every lint finding (its errors are in `problems`)
    search_nodes: int = 0  # what lint's searches visited

    @property
    def admitted(self) -> bool:
        return not self.problems and self.compiled is not None


@dataclass
class GateReport:
    """The verdict on every version found, and every problem, sorted by file:line."""

    verdicts: list[Verdict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # everything refused or wrong, sorted
    unloadable: list[Problem] = field(default_factory=list)  # the part of `problems` from files that did not load

    @property
    def ok(self) -> bool:
        return not self.problems

    def admitted(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.admitted]

    def findings(self) -> list[Finding]:
        return sort_findings([f for v in self.verdicts for f in v.findings])

    def lint_report(self, seconds: float) -> LintReport:
        """The findings as `attendance-policy lint` reports them, with what the searches cost."""
        return LintReport(policies=[v.policy.key for v in self.verdicts], findings=self.findings(),
                          combinations=sum(v.search_nodes for v in self.verdicts),
                          space_size=sum(build_space([v.policy]).size() for v in self.verdicts), seconds=seconds)

    def compiled(self) -> dict[str, CompiledPolicy]:
        """The admitted versions' compiled rulesets, by `<policy>@<version>`."""
        return {v.policy.key: v.compiled for v in self.admitted() if v.compiled is not None}

    def close(self, keep: Iterable[CompiledPolicy] = ()) -> None:
        """Free every compiled ruleset this report holds, except those in `keep`."""
        kept = {id(c) for c in keep}
        for v in self.verdicts:
            if v.compiled is not None and id(v.compiled) not in kept:
                v.compiled.close()
                v.compiled = None


def admit(paths: Iterable[str | os.PathLike[str]], *, redact: Iterable[str] = (), locks: bool = True,
          lint: bool = True, isolate: bool = True, compile_timeout: float = COMPILE_TIMEOUT_S,
          reuse: Mapping[str, CompiledPolicy] | None = None) -> GateReport:
    """Judge every version file under `paths`: a broken file refuses its own version, never the others."""
    policies, problems = load_each(paths)
    report = judge(policies, problems, redact=redact, locks=locks, lint=lint, isolate=isolate,
                   compile_timeout=compile_timeout, reuse=reuse)
    report.unloadable = sorted(problems, key=_where)
    return report


def judge(policies: list[Policy], load_problems: Iterable[Problem] = (), *, redact: Iterable[str] = (),
          locks: bool = True, lint: bool = True, isolate: bool = True, compile_timeout: float = COMPILE_TIMEOUT_S,
          reuse: Mapping[str, CompiledPolicy] | None = None) -> GateReport:
    """Judge loaded versions. `reuse`: compiled versions already admitted (same sha256: not compiled again)."""
    verdicts = [Verdict(p) for p in policies]
    by_file = {v.policy.file: v for v in verdicts}
    loose = list(load_problems)
    for problem in _set_problems(policies, redact, locks):
        target = by_file.get(problem.file or "")
        (target.problems if target is not None else loose).append(problem)
    for v in verdicts:
        if v.problems:
            continue  # refused already: compiling and linting it would only add noise
        old = (reuse or {}).get(v.policy.key)
        if old is not None and old.policy.sha256 == v.policy.sha256:
            v.compiled = old  # judged before, unchanged since
            continue
        _compile_and_lint(v, lint=lint, isolate=isolate, timeout=compile_timeout)
    every = loose + [p for v in verdicts for p in v.problems]
    return GateReport(verdicts, sorted(every, key=_where))


def _set_problems(policies: list[Policy], redact: Iterable[str], locks: bool) -> list[Problem]:
    """Problems that need more than one file (or the service's settings) to see."""
    out = version_problems(policies)  # a version defined twice; dates out of version order
    out += redaction_problems(policies, redact)
    if locks:
        out += check_locks(policies)
    return out


def _compile_and_lint(v: Verdict, *, lint: bool, isolate: bool, timeout: float) -> None:
    try:
        v.compiled = compile_policy(v.policy, isolate=isolate, timeout=timeout)  # a freeze costs a child process
    except PolicyError as e:
        v.problems.append(Problem(e.code, e.message, "", v.policy.file))
        return
    if not lint:
        return
    try:
        v.findings, v.search_nodes = lint_policy(v.policy, v.compiled)
    except PolicyError as e:
        v.problems.append(Problem(e.code, e.message, "", v.policy.file))
    v.problems += [Problem(f.code, f.message, "", f.file, f.line, f.column) for f in v.findings
                   if f.severity == "error"]
    if v.problems:
        v.compiled.close()
        v.compiled = None


def _where(p: Problem) -> tuple[str, int, int, str]:
    return (p.file or "", p.line or 0, p.column or 0, p.code)
