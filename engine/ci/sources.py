"""Where the CI commands find their inputs: policies beside scenarios, the versions each scenario runs on,
versions by name."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.ci.scenarios import Scenario, load_scenarios
from engine.core.errors import PolicyLoadError, Problem, UnknownPolicyError, UnknownPolicyVersionError
from engine.core.suggest import closest, did_you_mean
from engine.facts.prepare import fact_catalogue
from engine.policy.loader import load_policy, policy_files
from engine.policy.model import Policy

__all__ = ["policy_sources", "load_all_scenarios", "plan_runs", "resolve_ref"]


def policy_sources(paths: list[str]) -> list[Path]:
    """Where the policies of the given scenario files or rules directories live."""
    out = []
    for p in map(Path, paths):
        out.append(p if p.is_dir() else p.parent.parent if p.parent.name == "tests" else p.parent)
    return out



def load_all_scenarios(files: list[Path]) -> list[Scenario]:
    """Every scenario in the files; all problems at once."""
    scenarios: list[Scenario] = []
    problems: list[Problem] = []
    for f in files:
        try:
            scenarios += load_scenarios(f)
        except PolicyLoadError as e:
            problems += e.problems
        except OSError as e:
            problems.append(Problem("unreadable_file", e.strerror or str(e), "", str(f)))
    if problems:
        raise PolicyLoadError(problems)
    return scenarios


def plan_runs(scenarios: Sequence[Scenario], policies: Sequence[Policy]) -> list[tuple[Scenario, Policy]]:
    """Each scenario with every loaded version it applies to, its names checked against them; all problems at once.

    A scenario without `versions:` applies to the newest loaded version of its policy.
    """
    by_id: dict[str, list[Policy]] = {}
    for p in sorted(policies, key=lambda p: p.version_tuple):
        by_id.setdefault(p.id, []).append(p)
    runs: list[tuple[Scenario, Policy]] = []
    problems: list[Problem] = []
    for sc in scenarios:
        targets, found = _targets(sc, by_id)
        problems += found + _fact_problems(sc) + _recommendation_problems(sc, targets)
        runs += [(sc, p) for p in targets]
    if problems:
        raise PolicyLoadError(list(dict.fromkeys(problems)))  # a file-level mistake once, not once per scenario
    return runs


def _targets(sc: Scenario, by_id: dict[str, list[Policy]]) -> tuple[list[Policy], list[Problem]]:
    loaded = ", ".join(by_id) or "none"
    if sc.policy is None and len(by_id) != 1:
        return [], [sc.problem("unknown_policy", f"name the scenario's policy with `policy:` (loaded: {loaded})",
                               sc.path)]
    policy_id = sc.policy if sc.policy is not None else next(iter(by_id))
    versions = by_id.get(policy_id)
    if versions is None:
        msg = f"unknown policy {policy_id!r} (loaded: {loaded}){did_you_mean(policy_id, by_id)}"
        return [], [sc.problem("unknown_policy", msg, sc.policy_path)]
    if sc.versions is None:
        return [versions[-1]], []
    known = [p.version for p in versions]
    problems = []
    for item in sc.versions.items:
        if not any(item.matches(v) for v in known):
            msg = f"{item.text!r} matches no loaded version of {policy_id} (loaded: {', '.join(known)})"
            problems.append(sc.problem("unknown_policy_version", msg, item.path))
    return [p for p in versions if sc.versions.matches(p.version)], problems


def _fact_problems(sc: Scenario) -> list[Problem]:
    """Fact paths in `facts:` the facts schema does not have (a value the schema refuses fails the scenario)."""
    if not isinstance(sc.facts, dict):
        return []
    catalogue = fact_catalogue()
    sections = list(dict.fromkeys(path.split(".", 1)[0] for path in catalogue))
    out = []
    for section, values in sc.facts.items():
        here = sc.path + ("facts", section)
        if section not in sections:
            out.append(sc.problem("unknown_fact", f"unknown fact section {section!r}{did_you_mean(section, sections)}",
                                  here))
            continue
        for name in values if isinstance(values, dict) else ():
            full = f"{section}.{name}"
            if full not in catalogue:
                out.append(sc.problem("unknown_fact", f"unknown fact {full!r}{did_you_mean(full, catalogue)}",
                                      here + (name,)))
    return out


def _recommendation_problems(sc: Scenario, targets: list[Policy]) -> list[Problem]:
    """Every recommendation id the expectations name must be one of every version the scenario runs on."""
    out = []
    for path, rid in sc.named_recommendations():
        lacking = [p for p in targets if rid not in p.recommendations]
        if lacking:
            out.append(sc.problem("unknown_recommendation", _not_a_recommendation(rid, lacking, targets), path))
    return out


def _not_a_recommendation(rid: str, lacking: list[Policy], targets: list[Policy]) -> str:
    first = lacking[0]
    where = ", ".join(p.key for p in lacking)
    rule = next((r for r in first.rules if r.id == rid), None)
    if rule is not None:
        return f"{rid!r} is a rule of {where}, not a recommendation (it gives {', '.join(map(repr, rule.then))})"
    if rid in fact_catalogue():
        return f"{rid!r} is a fact, not a recommendation of {where}"
    missing = {p.key for p in lacking}
    having = [p.version for p in targets if p.key not in missing]
    also = (f" (the scenario also applies to {', '.join(having)}, which {'has' if len(having) == 1 else 'have'} "
            "it: narrow its `versions:`)") if having else ""
    return f"unknown recommendation {rid!r} in {where}{also}{did_you_mean(rid, first.recommendations)}"


def resolve_ref(ref: str, rules_dir: str) -> Policy:
    """`<policy>@<version>` (looked up in the rules directory) or a policy file."""
    if Path(ref).is_file() or "@" not in ref:
        return load_policy(ref)
    policy_id, version = ref.split("@", 1)
    folder = Path(rules_dir) / policy_id
    if not folder.is_dir():
        known = [d.name for d in Path(rules_dir).iterdir() if d.is_dir()] if Path(rules_dir).is_dir() else []
        raise UnknownPolicyError(f"unknown policy {policy_id!r} in {rules_dir}", suggestion=closest(policy_id, known))
    found = [f for f in policy_files([folder]) if f.parent == folder]
    match = [f for f in found if f.name.rsplit(".", 1)[0] == version]
    if not match:
        raise UnknownPolicyVersionError(f"policy {policy_id!r} has no version {version!r} in {folder}",
                                        suggestion=closest(version, [f.name.rsplit(".", 1)[0] for f in found]))
    return load_policy(match[0])

