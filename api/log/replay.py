"""Replay a logged decision on the policy version that made it, and say whether the result is the same.

The decision log records each decision's policy version and the sha256 of that
version's file, and the facts as sent (with `decision_log.redact` fields replaced).
A replay needs that exact file (same version, same sha256) and every fact the
policy reads: a redacted fact the policy reads makes an exact replay impossible,
and the replay says so instead of guessing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from api.log.redaction import redact, redacted_paths
from api.log.store import Record
from engine.compile.ruleset import CompiledPolicy, check_compiles
from engine.core.errors import PolicyError, PolicyLoadError
from engine.core.timefmt import parse
from engine.decide.decider import decide
from engine.facts.prepare import prepare_facts
from engine.policy.loader import load_policy, policy_files
from engine.policy.model import Policy

__all__ = ["ReplayResult", "load_version", "replay", "without"]

_IDENTITY = ("decision_id", "evaluated_at")  # the same by construction; not part of the outcome
_KEYED = {"recommendations": "id", "suppressed": "id", "not_fired": "rule"}


@dataclass
class ReplayResult:
    """`same` (exit 0), `different` (1, with a diff) or `not_replayable` (2, with the reasons)."""

    decision_id: str
    policy: str
    sha256: str
    outcome: str
    reasons: list[str] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return {"same": 0, "different": 1}.get(self.outcome, 2)

    def to_dict(self) -> dict[str, Any]:
        return {"decision_id": self.decision_id, "policy": self.policy, "sha256": self.sha256,
                "outcome": self.outcome, "reasons": self.reasons, "diff": self.diff}

    def text(self) -> str:
        head = f"decision {self.decision_id} ({self.policy}, sha256 {self.sha256[:12]}…): "
        lines = [head + self.outcome.replace("_", " ")]
        lines += [f"  {r}" for r in self.reasons] + [f"  {d}" for d in self.diff]
        return "\n".join(lines)


def load_version(rules: tuple[str, ...] | list[str], key: str) -> tuple[Policy | None, list[str]]:
    """The loaded version `key` from the rules, or why not (other broken files do not matter here)."""
    problems: list[str] = []
    for f in policy_files(rules):
        if f"{f.parent.name}@{f.name.rsplit('.', 1)[0]}" != key:
            continue
        try:
            return load_policy(f), []
        except PolicyLoadError as e:
            problems += [p.format() for p in e.problems]
    return None, problems



def replay(record: Record, policy: Policy | None, *, problems: list[str] | None = None) -> ReplayResult:
    """Re-decide `record` on `policy` (which must be its recorded version, byte for byte)."""
    e = record.entry
    result = ReplayResult(e.decision_id, f"{e.policy_id}@{e.policy_version}", e.policy_sha256, "not_replayable")
    if policy is None:
        result.reasons = problems or [f"version {e.policy_version} of {e.policy_id!r} is not in the rules: "
                                      "restore its file (from version control) to replay this decision"]
        return result
    if policy.sha256 != e.policy_sha256:
        result.reasons = [f"{policy.file} has sha256 {policy.sha256[:12]}…, not {e.policy_sha256[:12]}… as when the "
                          "decision was made: the file changed since; restore that exact file to replay"]
        return result
    hidden = redacted_paths(e.facts)
    read = sorted(hidden & set(policy.fact_paths))
    if read:
        result.reasons = [f"the decision log redacted {', '.join(read)}, which {policy.key} reads: this decision "
                          "cannot be replayed exactly"]
        return result
    try:
        replayed = _decide(policy, without(e.facts, hidden), "not_fired" in e.decision, e.decision_id,
                           e.evaluated_at)
    except PolicyError as err:
        result.reasons = [f"the logged decision cannot be re-evaluated: {err.code}: {err.message}"]
        return result
    logged = {k: v for k, v in e.decision.items() if k not in _IDENTITY}
    replayed = {k: v for k, v in redact(e.facts, replayed, hidden)[1].items() if k not in _IDENTITY}
    result.diff = diff(logged, replayed)
    result.outcome = "different" if result.diff else "same"
    return result


def without(facts: dict[str, Any], paths: set[str]) -> dict[str, Any]:
    out = {s: dict(v) if isinstance(v, dict) else v for s, v in facts.items()}
    for path in paths:
        section, name = path.split(".", 1)
        out[section].pop(name, None)
    return out


def _decide(policy: Policy, facts: dict[str, Any], explain: bool, decision_id: str, at: str) -> dict[str, Any]:
    check_compiles(policy)  # as every new ruleset: a freeze costs a child process (C5)
    compiled = CompiledPolicy(policy)
    try:
        now = parse(at)
        return decide(compiled, prepare_facts(facts), explain=explain, decision_id=decision_id, now=now).to_dict()
    finally:
        compiled.close()


def _show(v: Any, limit: int = 240) -> str:
    text = json.dumps(v, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def diff(logged: Any, replayed: Any, path: str = "") -> list[str]:
    """Every difference as `path: logged X, replayed Y`; lists of ids are matched by id."""
    if isinstance(logged, dict) and isinstance(replayed, dict):
        out: list[str] = []
        for k in sorted(set(logged) | set(replayed)):
            sub = f"{path}.{k}" if path else k
            if k not in replayed:
                out.append(f"{sub}: only in the log: {_show(logged[k])}")
            elif k not in logged:
                out.append(f"{sub}: only in the replay: {_show(replayed[k])}")
            elif k in _KEYED and isinstance(logged[k], list) and isinstance(replayed[k], list):
                before, after = _by(logged[k], _KEYED[k]), _by(replayed[k], _KEYED[k])
                if list(before) != list(after):
                    out.append(f"{sub}: logged {_show(list(before))}, replayed {_show(list(after))}")
                out += diff(before, after, sub)
            else:
                out += diff(logged[k], replayed[k], sub)
        return out
    if logged != replayed:
        return [f"{path}: logged {_show(logged)}, replayed {_show(replayed)}"]
    return []


def _by(items: list[Any], key: str) -> dict[str, Any]:
    return {str(x.get(key)) if isinstance(x, dict) else str(i): x for i, x in enumerate(items)}
