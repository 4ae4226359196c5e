"""Policies and facts for tests: a minimal policy, writing policy files, facts builders, projections."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from engine import Engine, PolicySet, load_rules
from engine.decide.decider import fact_pairs
from engine.decide.decider import project as _project

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
DEFAULT_POLICY = RULES / "couples-attendance" / "1.0.0.yaml"

MINIMAL: dict[str, Any] = {
    "policy": "demo",
    "version": "1.0.0",
    "effective_from": "2026-01-01",
    "title": "Demo",
    "owner": "Clinical director",
    "changelog": [{"version": "1.0.0", "changes": "first"}],
    "parameters": {"limit": 3},
    "recommendations": {
        "rec_a": {"title": "A", "indicator": "info", "category": "attendance", "text": "a"},
        "rec_b": {"title": "B", "indicator": "warning", "category": "attendance", "text": "b"},
    },
    "rules": [
        {"id": "R-001", "title": "one", "priority": 10,
         "when": {"fact": "attendance.partners_present", "op": "eq", "value": 1},
         "then": "rec_a", "rationale": "because", "source": "s"},
    ],
}


def minimal_policy(**changes: Any) -> dict[str, Any]:
    """A deep copy of MINIMAL with top-level keys replaced."""
    data = copy.deepcopy(MINIMAL)
    data.update(copy.deepcopy(changes))
    return data


def write_policy(base: Path, data: dict[str, Any] | str, policy: str = "demo", version: str = "1.0.0") -> Path:
    """Write a policy file at base/<policy>/<version>.yaml and return its path."""
    folder = base / policy
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{version}.yaml"
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def engine_for(tmp_path: Path, data: dict[str, Any], **kw: Any) -> Engine:
    """An Engine over one policy written to tmp_path."""
    write_policy(tmp_path, data, data.get("policy", "demo"), data.get("version", "1.0.0"))
    clock = kw.pop("clock", lambda: dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    return Engine(PolicySet.build(load_rules([tmp_path]), isolate=False), clock=clock)


def couples(**sections: Any) -> dict[str, Any]:
    """Facts for a couples session with the given sections."""
    facts: dict[str, Any] = {"session": {"id": "t-1", "type": "couples"}}
    facts.update(sections)
    return facts


def project(facts: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    """Only the facts at `paths`, as a Decider hands them to the engine (C4)."""
    return _project(facts, fact_pairs(paths))[1]
