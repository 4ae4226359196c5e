"""Two versions compared: the impact report of `attendance-policy diff`, and the policy's scenarios."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from engine.ci.diff import diff_scenarios, scenario_cases
from engine.ci.scenarios import Scenario, scenario_files
from engine.ci.sources import load_all_scenarios
from engine.core.errors import PolicyLoadError
from engine.impact.report import impact_report
from engine.policy.model import Policy

__all__ = ["KIND_TITLES", "impact", "scenarios_of", "short_paths"]

KIND_TITLES = {
    "removed": "removed", "suppressed": "now suppressed", "added": "added", "unsuppressed": "no longer suppressed",
    "indicator": "indicator changed", "rule": "given by another rule", "rationale": "rationale changed",
    "text": "recommendation text changed", "order": "recommendations in another order",
}
_CACHE_SIZE = 16  # reports kept per process: the versions are immutable, so a report never goes stale
_cache: dict[tuple[Any, ...], dict[str, Any]] = {}
_lock = threading.Lock()
_FOLDERS = re.compile(r"[^\s()]*/(?=[^/\s()]+/tests/)")  # where the rules directory sits on the server


def impact(old: Policy, new: Policy, *, beside: Policy | None = None) -> dict[str, Any]:
    """The impact report (`diff --format json`, engine.impact.report) of `old` -> `new`, with the same scenarios;
    `changes` holds the generated cases' groups, as the compare page lists them, and `scenario_problems`
    what kept the scenario tests out (a broken file costs the page its scenarios, not its report).

    `beside`: take the scenarios from this version's folder only (a draft has no folder of its own).
    """
    folders = [Path(p.file).parent / "tests" for p in ((beside,) if beside is not None else (old, new))]
    key = (old.key, old.sha256, new.key, new.sha256, _signature(folders))
    with _lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    problems: list[str] = []
    try:
        scenarios = scenario_cases(diff_scenarios([str(f) for f in folders] if beside else None, old, new))
    except PolicyLoadError as e:
        scenarios, problems = [], [short_paths(p.format()) for p in e.problems]  # the report still shows
    full = impact_report(old, new, scenarios=scenarios).to_dict()
    generated = full["generated"]  # the page shows the generated cases' groups as its `changes`
    report = {**full, "cases": generated["cases"], "changed_cases": generated["changed_cases"],
              "changes": generated["groups"], "enumeration": generated["enumeration"],
              "scenarios": generated["scenarios"], "policy_changes": full["policy_changes"],
              "scenario_problems": problems}
    with _lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = report
    return report


def _signature(folders: list[Path]) -> tuple[tuple[str, int, int], ...]:
    """The scenario files as they are now (path, size, mtime): an edited test file is a new report."""
    out = []
    for folder in folders:
        for f in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
            st = f.stat()
            out.append((str(f), st.st_size, st.st_mtime_ns))
    return tuple(out)


def scenarios_of(policy: Policy) -> list[Scenario]:
    """The scenario tests beside a version's file that apply to its policy; none when they do not load."""
    try:
        found = load_all_scenarios(scenario_files([Path(policy.file).parent / "tests"]))
    except PolicyLoadError:
        return []
    return [s for s in found if s.policy in (None, policy.id)]


def short_paths(where: str) -> str:
    """A scenario's `file:line` from its policy folder on (`couples-attendance/tests/absence.yaml:7`)."""
    return _FOLDERS.sub("", where)
