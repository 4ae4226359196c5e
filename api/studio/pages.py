"""What each studio page shows, built from engine objects (the templates only lay it out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.http.problems import BadRequest, NotFound
from api.state import state
from api.studio.forms import parse_facts
from api.studio.sentences import comparison, condition_words, rule_sentence, show
from api.views.admin import policy_lifecycle
from engine.ci.scenarios import Scenario
from engine.core.errors import FactsError
from engine.decide.rationale import Decision
from engine.impact.words import title
from engine.policy.model import Policy, Rule

__all__ = ["DecisionView", "VersionStatus", "catalogue", "chosen", "decision_view", "from_ref", "loaded_versions",
           "matched_words", "must_decide_view", "pair", "pick", "rules_view", "try_version", "version_status"]


@dataclass(frozen=True)
class VersionStatus:
    """One loaded version and what the service does with it today."""

    policy: Policy
    active: bool
    scheduled: bool
    pinned: bool

    @property
    def labels(self) -> list[str]:
        return [name for name, on in (("active", self.active), ("scheduled", self.scheduled),
                                      ("pinned", self.pinned)) if on]


def version_status(policy_id: str) -> list[VersionStatus]:
    """Every loaded version of a policy, newest first, with active / scheduled / pinned."""
    state().lifecycle.sync_pins()  # a pin made through another worker shows here at once, as in /v1/status
    life = policy_lifecycle(state().lifecycle, policy_id)
    pin = (life["pin"] or {}).get("version")
    return [VersionStatus(p, p.version == life["active_version"], p.version == life["scheduled_version"],
                          p.version == pin)
            for p in reversed(state().engine.policies.versions(policy_id))]


def catalogue() -> list[tuple[str, list[VersionStatus]]]:
    """Every loaded policy with its versions."""
    return [(pid, version_status(pid)) for pid in state().engine.policies.policy_ids()]


def rules_view(policy: Policy) -> list[dict[str, Any]]:
    """Each rule as a sentence with its rationale, source, priority and what it suppresses, in precedence order."""
    def one(rule: Rule) -> dict[str, Any]:
        sup = [policy.recommendations[r].title if r in policy.recommendations else r for r in rule.suppresses]
        return {"rule": rule, "sentence": rule_sentence(rule, policy), "suppresses": sup}
    return [one(r) for r in sorted(policy.rules, key=lambda r: (r.priority, r.id))]


def matched_words(m: dict[str, Any]) -> str:
    """A matched or failed condition of a decision, in words, with the session's value."""
    words = comparison(m["fact"], m["op"], m["expected"], other_fact=m.get("other_fact"), param=m.get("param"))
    seen = f"{title(m['fact'])} was {show(m['actual'])}"
    if m.get("other_fact"):
        seen += f", {title(m['other_fact'])} was {show(m['expected'])}"
    return f"{words} ({seen})"


@dataclass(frozen=True)
class DecisionView:
    decision: Decision
    recommendations: list[dict[str, Any]]
    suppressed: list[dict[str, Any]]
    why_not: list[dict[str, Any]]


def decision_view(decision: Decision) -> DecisionView:
    """Recommendations in order with their matched conditions in words; suppressed ones; why not, rule by rule."""
    policy = decision.policy
    recs = [{"rec": r, "because": [matched_words(m) for m in r.matched]} for r in decision.recommendations]
    sup = [{"id": s.id, "title": policy.recommendations[s.id].title, "rule": s.rule, "by": s.suppressed_by,
            "by_title": policy.rule(s.suppressed_by).title} for s in decision.suppressed]
    why = [{"rule": n.rule, "title": n.title, "failed": matched_words(n.failed) if n.failed else None,
            "when": condition_words(policy.rule(n.rule).when)} for n in decision.not_fired or ()]
    return DecisionView(decision, recs, sup, why)


def chosen(policy_id: str | None, version: str | None) -> Policy:
    """The version asked for (the active one of the only or named policy when no version is given)."""
    engine = state().engine
    pid = engine.policies.known(policy_id) if policy_id else None
    return engine.resolve(pid, version or None).policy


def from_ref(ref: str) -> Policy:
    """A loaded version named `<policy>@<version>`."""
    policy_id, at, version = ref.partition("@")
    if not at or not version:
        raise BadRequest(f"name a version as <policy>@<version>, not {ref!r}")
    return chosen(policy_id, version)


def pick(scenarios: list[Scenario], index: str) -> Scenario:
    """A scenario by its place in the list the form offers."""
    if not index.isdigit() or int(index) >= len(scenarios):
        raise NotFound(f"no scenario {index!r}: this policy has {len(scenarios)} (numbered from 0)")
    return scenarios[int(index)]


def try_version(policy: Policy, values: dict[str, str]) -> tuple[DecisionView | None, dict[str, str]]:
    """The decision on the entered facts (not logged: trying is not deciding), or each field's problem."""
    if not values:
        return None, {}
    try:
        decision = state().engine.evaluate(parse_facts(values), policy=policy.id, version=policy.version,
                                           explain=True)
    except FactsError as e:
        return None, {p.path or "facts": p.message for p in e.problems}
    return decision_view(decision), {}


def pair(policy_id: str | None, old: str | None, new: str | None) -> tuple[Policy | None, Policy | None, list[Policy]]:
    """The two versions to compare: as asked, else the newest and the one before it."""
    engine = state().engine
    pid = engine.policies.known(policy_id) if policy_id else engine.resolve().policy.id
    versions = engine.policies.versions(pid)
    by_version = {p.version: p for p in versions}
    for v in (old, new):
        if v and v not in by_version:
            engine.resolve(pid, v)  # raises the API's unknown-version error, with its suggestion
    newest = versions[-1]
    before = versions[-2] if len(versions) > 1 else None
    return (by_version[old] if old else before), (by_version[new] if new else newest), versions


def loaded_versions(policy_id: str) -> list[Policy]:
    """The loaded versions of a policy, newest first; none when the service does not have it."""
    policies = state().engine.policies
    return list(reversed(policies.versions(policy_id))) if policy_id in policies.policy_ids() else []


def must_decide_view(policy: Policy) -> list[dict[str, Any]]:
    return [{"name": m.name, "when": condition_words(m.when)} for m in policy.must_decide]
