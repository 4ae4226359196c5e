"""`attendance-policy diff`'s inputs: the scenario cases it adds to the generated ones, chosen as `test` chooses.

A scenario is a case of the diff when `test` would run it on OLD or on NEW: its
`versions:` (none: the newest loaded version of its policy) are matched against
the versions beside the two files plus the two themselves, and every name it
writes (recommendation ids, rule ids, fact paths in `include`, `exclude`,
`suppressed`, `exact`, `indicator` and `facts`) is checked by the same
engine.ci.sources.plan_runs, so a misspelt id stops the diff with "did you
mean" instead of passing unseen.
"""

from __future__ import annotations

from pathlib import Path

from engine.ci.scenarios import Scenario, scenario_files
from engine.ci.sources import load_all_scenarios, plan_runs
from engine.impact.cases import CaseInput
from engine.policy.loader import load_each
from engine.policy.model import Policy

__all__ = ["diff_scenarios", "scenario_cases"]


def _beside(policy: Policy) -> list[Policy]:
    """The other versions in the policy's own folder (`rules/<policy>/`), when it is one."""
    folder = Path(policy.file).parent
    return load_each([folder])[0] if folder.name == policy.id else []


def diff_scenarios(cases: list[str] | None, old: Policy, new: Policy) -> list[Scenario]:
    """The scenarios that run on OLD or NEW, from `cases` (default: the tests/ folders beside both); names checked.

    Raises PolicyLoadError with every problem (unreadable file, misspelt id, a `versions:` matching nothing).
    """
    dirs = [Path(d) for d in cases] if cases else [Path(p.file).parent / "tests" for p in (old, new)]
    files: dict[Path, Path] = {}
    for d in dirs:
        for f in (scenario_files([d]) or sorted(d.glob("*.y*ml"))) if d.is_dir() else [d] if d.exists() else []:
            files.setdefault(f.resolve(), f)
    scenarios = [s for s in load_all_scenarios(list(files.values())) if s.policy in (None, old.id, new.id)]
    if not scenarios:
        return []
    own = {old.key, new.key}
    pool = {p.key: p for p in [*_beside(old), *_beside(new)] if p.key not in own}
    versions = [*pool.values(), *([old] if old.key != new.key else []), new]
    chosen: dict[int, Scenario] = {}
    for sc, policy in plan_runs(scenarios, versions):
        if policy is old or policy is new:
            chosen.setdefault(id(sc), sc)
    return list(chosen.values())


def scenario_cases(scenarios: list[Scenario]) -> list[CaseInput]:
    """Scenarios as the impact report's hand-written cases (name, file:line, facts)."""
    return [CaseInput(sc.name, sc.where, sc.facts) for sc in scenarios]
