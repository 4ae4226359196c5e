"""Where the CI commands find their inputs: policies beside scenarios, versions by name, scenario cases."""

from __future__ import annotations

from pathlib import Path

from engine.ci.scenarios import Scenario, load_scenarios, scenario_files
from engine.core.errors import PolicyLoadError, Problem, UnknownPolicyError, UnknownPolicyVersionError
from engine.core.suggest import closest
from engine.policy.loader import load_policy, load_rules, policy_files
from engine.policy.model import Policy

__all__ = ["policy_sources", "load_policies", "load_all_scenarios", "resolve_ref", "diff_cases"]


def policy_sources(paths: list[str]) -> list[Path]:
    """Where the policies of the given scenario files or rules directories live."""
    out = []
    for p in map(Path, paths):
        out.append(p if p.is_dir() else p.parent.parent if p.parent.name == "tests" else p.parent)
    return out


def load_policies(sources: list[Path] | list[str]) -> list[Policy]:
    """Every policy version under the sources, each file once."""
    files = list({f.resolve(): f for f in policy_files(sources)}.values())
    return load_rules(files)


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


def diff_cases(cases: list[str] | None, old: Policy, new: Policy) -> list[Scenario]:
    """The scenarios a diff evaluates: from `cases`, or from the tests/ folders beside both versions."""
    dirs = [Path(d) for d in cases] if cases else [Path(p.file).parent / "tests" for p in (old, new)]
    files: dict[Path, Path] = {}
    for d in dirs:
        for f in (scenario_files([d]) or sorted(d.glob("*.y*ml"))) if d.is_dir() else [d] if d.exists() else []:
            files.setdefault(f.resolve(), f)
    return [s for s in load_all_scenarios(list(files.values())) if s.policy in (None, old.id, new.id)]
