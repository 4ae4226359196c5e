"""Two versions compared: the impact report of `attendance-policy diff`, and the policy's scenarios."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from engine.ci.diff import diff_policies
from engine.ci.diff_report import KIND_TITLES, to_dict
from engine.ci.scenarios import Scenario, scenario_files
from engine.ci.sources import diff_cases, load_all_scenarios
from engine.core.errors import PolicyLoadError
from engine.policy.model import Policy

__all__ = ["KIND_TITLES", "impact", "scenarios_of", "short_paths"]

_CACHE_SIZE = 16  # reports kept per process: the versions are immutable, so a report never goes stale
_cache: dict[tuple[str, str, str, str], dict[str, Any]] = {}
_lock = threading.Lock()
_FOLDERS = re.compile(r"[^\s()]*/(?=[^/\s()]+/tests/)")  # where the rules directory sits on the server


def impact(old: Policy, new: Policy, *, beside: Policy | None = None) -> dict[str, Any]:
    """The structured impact report (`diff --format json`) of `old` -> `new`, with the same scenarios.

    `beside`: take the scenarios from this version's folder only (a draft has no folder of its own).
    """
    key = (old.key, old.sha256, new.key, new.sha256)
    with _lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    folders = None if beside is None else [str(Path(beside.file).parent / "tests")]
    report = to_dict(diff_policies(old, new, diff_cases(folders, old, new)))
    with _lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = report
    return report


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
