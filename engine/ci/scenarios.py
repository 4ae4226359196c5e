"""Scenario files beside a policy (`rules/<policy>/tests/*.yaml`): facts in, expectations out.

Every problem in a file is found at once, each at file:line:column like a
policy's (the YAML positions come from engine.policy.yaml_source).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.ci.versions import Versions, parse_versions
from engine.compile.ruleset import CompiledPolicy
from engine.core.errors import PolicyError, PolicyLoadError, Problem
from engine.core.schemas import validator
from engine.core.suggest import did_you_mean
from engine.decide.decider import decide
from engine.decide.rationale import Decision
from engine.facts.prepare import prepare_facts
from engine.policy.yaml_source import MAX_FILE_BYTES, Document, json_path, read_yaml
from engine.runtime.engine import Engine

__all__ = ["Scenario", "ScenarioResult", "load_scenarios", "scenario_files", "run_scenario", "compare", "run_on",
           "ID_LISTS"]

YamlPath = tuple[Any, ...]
ID_LISTS = ("include", "exclude", "suppressed", "exact")  # lists of recommendation ids
_EXPECT_KEYS = (*ID_LISTS, "indicator")
_KEYS = ("name", "facts", "expect", "versions", "policy")
_FILE_KEYS = ("policy", "versions", "scenarios")


@dataclass(frozen=True)
class Scenario:
    name: str
    facts: Any
    expect: dict[str, Any]
    file: str
    line: int
    policy: str | None = None
    versions: Versions | None = None  # None: the newest loaded version of its policy
    column: int = 1
    path: YamlPath = ()  # ("scenarios", i) in its file
    policy_path: YamlPath = ()  # where `policy:` is written (the scenario itself when it comes from the folder)
    doc: Document | None = field(default=None, compare=False, repr=False)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def problem(self, code: str, message: str, path: YamlPath) -> Problem:
        """A problem at `path` in the scenario's file (file:line:column)."""
        line, col = (self.doc.position(path) if self.doc else None) or (self.line, self.column)
        return Problem(code, message, json_path(path), self.file, line, col)

    def named_recommendations(self) -> Iterator[tuple[YamlPath, str]]:
        """Every recommendation id the expectations name, with where it is written."""
        for key in ID_LISTS:
            for j, rid in enumerate(self.expect.get(key, ())):
                yield self.path + ("expect", key, j), rid
        for rid in self.expect.get("indicator", {}):
            yield self.path + ("expect", "indicator", rid), rid


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
    doc = _read(p)
    problems = _file_problems(doc, str(p))
    if not isinstance(doc.data, dict) or not isinstance(doc.data.get("scenarios"), list):
        raise PolicyLoadError(problems)
    out = []
    for i, item in enumerate(doc.data["scenarios"]):
        found = _item_problems(doc, str(p), i, item)
        problems += found
        if not found and not problems:
            out.append(_scenario(doc, p, i))
    if problems:
        raise PolicyLoadError(sorted(problems, key=lambda pr: (pr.line or 0, pr.column or 0)))
    return out


def _read(p: Path) -> Document:
    with p.open("rb") as fh:
        raw = fh.read(MAX_FILE_BYTES + 1)  # never more: read_yaml refuses a larger file
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise PolicyLoadError([Problem("encoding", "the file is not valid UTF-8", "$", str(p), line, 1)]) from e
    doc, problems = read_yaml(text, str(p))
    if doc is None or problems:
        raise PolicyLoadError(problems)
    return doc


def _scenario(doc: Document, p: Path, i: int) -> Scenario:
    item, top = doc.data["scenarios"][i], doc.data
    here: YamlPath = ("scenarios", i)
    policy_path = here + ("policy",) if "policy" in item else ("policy",) if "policy" in top else here
    policy = item.get("policy", top.get("policy"))
    if policy is None and p.parent.name == "tests":
        policy = p.parent.parent.name
    versions_path = here + ("versions",) if "versions" in item else ("versions",)
    raw = item.get("versions", top.get("versions"))
    versions = None if raw is None else parse_versions(raw, versions_path)[0]
    line, col = doc.position(here) or (1, 1)
    return Scenario(item["name"], item["facts"], item["expect"], str(p), line, policy, versions, col, here,
                    policy_path, doc)


def _file_problems(doc: Document, file: str) -> list[Problem]:
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("scenarios"), list):
        at: YamlPath = ("scenarios",) if isinstance(data, dict) else ()
        return [_at(doc, file, "scenario", "expected a top-level `scenarios:` list", at)]
    out = _unknown_keys(doc, file, data, (), _FILE_KEYS)
    return out + _common_problems(doc, file, data, ())


def _item_problems(doc: Document, file: str, i: int, item: Any) -> list[Problem]:
    here: YamlPath = ("scenarios", i)
    if not isinstance(item, dict):
        return [_at(doc, file, "scenario", "a scenario must be a mapping", here)]
    out = _unknown_keys(doc, file, item, here, _KEYS)
    out += [_at(doc, file, "scenario", f"a scenario needs `{key}`", here)
            for key in ("name", "facts", "expect") if key not in item]
    if "name" in item and not isinstance(item["name"], str):
        out.append(_at(doc, file, "scenario", "`name` must be a string", here + ("name",)))
    out += _common_problems(doc, file, item, here)
    expect = item.get("expect", {})
    if not isinstance(expect, dict):
        return out + [_at(doc, file, "scenario", "`expect` must be a mapping", here + ("expect",))]
    return out + _expect_problems(doc, file, expect, here + ("expect",))


def _common_problems(doc: Document, file: str, node: dict[str, Any], here: YamlPath) -> list[Problem]:
    """`policy:` and `versions:`, which a file and each of its scenarios may have."""
    out = []
    if "policy" in node and not isinstance(node["policy"], str):
        out.append(_at(doc, file, "scenario", "`policy` must be a policy id", here + ("policy",)))
    if "versions" in node:
        for msg, path in parse_versions(node["versions"], here + ("versions",))[1]:
            out.append(_at(doc, file, "invalid_versions", msg, path))
    return out


def _expect_problems(doc: Document, file: str, expect: dict[str, Any], here: YamlPath) -> list[Problem]:
    out = _unknown_keys(doc, file, expect, here, _EXPECT_KEYS)
    for key in ID_LISTS:
        ids = expect.get(key, [])
        if not isinstance(ids, list):
            out.append(_at(doc, file, "scenario", f"`{key}` must be a list of recommendation ids", here + (key,)))
            continue
        out += [_at(doc, file, "scenario", f"{rid!r} is not a recommendation id", here + (key, j))
                for j, rid in enumerate(ids) if not isinstance(rid, str)]
    levels = expect.get("indicator", {})
    if not isinstance(levels, dict):
        return out + [_at(doc, file, "scenario", "`indicator` must map recommendation ids to indicators",
                          here + ("indicator",))]
    known = _indicators()
    return out + [_at(doc, file, "scenario", f"indicator {level!r} is not one of {', '.join(known)}"
                      f"{did_you_mean(str(level), known)}", here + ("indicator", rid))
                  for rid, level in levels.items() if level not in known]


def _unknown_keys(doc: Document, file: str, node: dict[str, Any], here: YamlPath,
                  known: tuple[str, ...]) -> list[Problem]:
    return [_at(doc, file, "scenario", f"unknown key {key!r} (expected {', '.join(known)}){did_you_mean(key, known)}",
                here + (key,)) for key in node if key not in known]


def _at(doc: Document, file: str, code: str, message: str, path: YamlPath) -> Problem:
    line, col = doc.position(path) or (1, 1)
    return Problem(code, message, json_path(path), file, line, col)


def _indicators() -> tuple[str, ...]:
    """The indicator levels, as policy.schema.json has them."""
    schema: Any = validator("policy").schema
    return tuple(schema["$defs"]["recommendation"]["properties"]["indicator"]["enum"])


def run_scenario(engine: Engine, sc: Scenario, version: str | None = None) -> ScenarioResult:
    """Evaluate one scenario (on `version`, else the active version) and compare with its expectations."""
    result = ScenarioResult(sc)
    try:
        decision = engine.evaluate(sc.facts, policy=sc.policy, version=version)
    except PolicyError as e:
        result.failures.append(f"evaluation failed: {e.code}: {e.message}")
        return result
    result.decision = decision
    result.failures = compare(sc.expect, decision)
    return result


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
