"""Scenario files beside a policy (`rules/<policy>/tests/*.yaml`): facts in, expectations out."""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.compile.ruleset import CompiledPolicy
from engine.core.errors import PolicyError, PolicyLoadError, Problem
from engine.decide.decider import decide
from engine.decide.rationale import Decision
from engine.facts.prepare import prepare_facts
from engine.policy.yaml_source import json_path, read_yaml
from engine.runtime.engine import Engine
from engine.runtime.registry import PolicySet

__all__ = ["Scenario", "ScenarioResult", "load_scenarios", "scenario_files", "run_scenario", "compare",
           "target_version", "run_on"]

_EXPECT_KEYS = {"include", "exclude", "suppressed", "indicator", "exact"}
_KEYS = {"name", "facts", "expect", "version", "policy"}


@dataclass(frozen=True)
class Scenario:
    name: str
    facts: Any
    expect: dict[str, Any]
    file: str
    line: int
    policy: str | None = None
    version: str | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class ScenarioResult:
    scenario: Scenario
    failures: list[str] = field(default_factory=list)
    decision: Decision | None = None
    facts: dict[str, Any] | None = None  # the prepared facts (defaults applied), when they were valid
    policy_key: str | None = None  # `<policy>@<version>` the scenario ran against

    @property
    def passed(self) -> bool:
        return not self.failures


def scenario_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Scenario files: given directly, or every `tests/*.yaml` under a rules directory."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*.y*ml") if f.parent.name == "tests"))
        else:
            out.append(p)
    return out


def load_scenarios(path: str | os.PathLike[str]) -> list[Scenario]:
    """Read one scenario file; the policy defaults to the folder above `tests/`."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    doc, problems = read_yaml(text, str(p))
    if doc is None or problems:
        raise PolicyLoadError(problems)
    data = doc.data
    default_policy = data.get("policy") if isinstance(data, dict) else None
    if default_policy is None and p.parent.name == "tests":
        default_policy = p.parent.parent.name
    items = data.get("scenarios") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise PolicyLoadError([Problem("scenario", "expected a top-level `scenarios:` list", "$", str(p), 1, 1)])
    out, errors = [], []
    for i, item in enumerate(items):
        line = (doc.position(("scenarios", i)) or (1, 1))[0]
        bad = _shape_problem(item)
        if bad:
            errors.append(Problem("scenario", bad, json_path(("scenarios", i)), str(p), line, 1))
            continue
        out.append(Scenario(item["name"], item["facts"], item["expect"], str(p), line,
                            item.get("policy", default_policy), item.get("version")))
    if errors:
        raise PolicyLoadError(errors)
    return out


def _shape_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "a scenario must be a mapping"
    unknown = set(item) - _KEYS
    if unknown:
        return f"unknown key(s) {', '.join(sorted(unknown))}"
    for key in ("name", "facts", "expect"):
        if key not in item:
            return f"a scenario needs `{key}`"
    if not isinstance(item["expect"], dict) or set(item["expect"]) - _EXPECT_KEYS:
        return f"`expect` may only have {', '.join(sorted(_EXPECT_KEYS))}"
    return None


def run_scenario(engine: Engine, sc: Scenario) -> ScenarioResult:
    """Evaluate one scenario and compare with its expectations."""
    result = ScenarioResult(sc)
    try:
        decision = engine.evaluate(sc.facts, policy=sc.policy, version=sc.version)
    except PolicyError as e:
        result.failures.append(f"evaluation failed: {e.code}: {e.message}")
        return result
    result.decision = decision
    result.failures = compare(sc.expect, decision)
    return result


def target_version(policies: PolicySet, sc: Scenario) -> CompiledPolicy:
    """The version a scenario tests: the one it pins, else the newest loaded version of its policy.

    The newest, not the active one: in a pull request the new version is usually not in effect yet,
    and it is the one whose behaviour the scenarios describe.
    """
    version = sc.version
    if version is None and sc.policy is not None:
        found = policies.versions(sc.policy)
        version = found[-1].version if found else None
    return policies.resolve(sc.policy, version, _dt.date.today())


def run_on(compiled: CompiledPolicy, sc: Scenario) -> ScenarioResult:
    """Evaluate one scenario on a given compiled version, keeping the prepared facts (for coverage)."""
    result = ScenarioResult(sc, policy_key=compiled.policy.key)
    try:
        result.facts = prepare_facts(sc.facts)
        result.decision = decide(compiled, result.facts)
    except PolicyError as e:
        result.failures.append(f"evaluation failed: {e.code}: {e.message}")
        return result
    result.failures = compare(sc.expect, result.decision)
    return result


def compare(expect: dict[str, Any], decision: Decision) -> list[str]:
    """Every way the decision differs from the expectation, as readable lines."""
    got = [r.id for r in decision.recommendations]
    sup = {s.id: s.suppressed_by for s in decision.suppressed}
    fails = []
    for rid in expect.get("include", ()):
        if rid not in got:
            why = f" (suppressed by {sup[rid]})" if rid in sup else ""
            fails.append(f"expected recommendation {rid!r} is missing{why}")
    for rid in expect.get("exclude", ()):
        if rid in got:
            fails.append(f"unexpected recommendation {rid!r} (from rule {_rule_of(decision, rid)})")
    for rid in expect.get("suppressed", ()):
        if rid not in sup:
            fails.append(f"expected {rid!r} to be suppressed; suppressed were {sorted(sup) or 'none'}")
    for rid, level in (expect.get("indicator") or {}).items():
        actual = next((r.indicator for r in decision.recommendations if r.id == rid), None)
        if actual != level:
            fails.append(f"indicator of {rid!r}: expected {level!r}, got {actual!r}")
    if "exact" in expect and list(expect["exact"]) != got:
        fails.append(f"recommendations in order: expected {list(expect['exact'])}, got {got}")
    return fails


def _rule_of(decision: Decision, rid: str) -> str:
    return next(r.rule for r in decision.recommendations if r.id == rid)
