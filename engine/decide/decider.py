"""One policy version, prepared for deciding many times: precedence, rationale, and a bounded memo.

A decision depends only on the facts the policy reads (its conditions and the
facts its rationale quotes). Sessions look alike, so identical projections are
answered from a bounded memo without touching the engine; `decision_id`,
`evaluated_at` and `session_id` are added per request. A memo answer is the
same data a fresh evaluation gives (tested byte for byte).
"""

from __future__ import annotations

import datetime as _dt
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from engine.compile.ruleset import CompiledPolicy
from engine.core.randomness import random_hex
from engine.core.timefmt import utc_text
from engine.decide.explain import compile_explainer
from engine.decide.rationale import Decision, FiredRecommendation, NotFired, Suppressed, leaf_dict
from engine.decide.reference import compile_condition
from engine.policy.model import Rule

__all__ = ["Decider", "MEMO_SIZE", "decide", "fact_pairs", "memo_key", "new_decision_id", "project", "projected"]

MEMO_SIZE = 4096
_MISSING = object()


FactPairs = tuple[tuple[str, str], ...]  # (section, name) of each fact a policy reads, grouped by section
_EMPTY: dict[str, Any] = {}


def fact_pairs(paths: tuple[str, ...]) -> FactPairs:
    """The (section, name) of each fact path, grouped by section, in order."""
    by_section: dict[str, list[str]] = {}
    for path in paths:
        section, name = path.split(".", 1)
        by_section.setdefault(section, []).append(name)
    return tuple((section, name) for section, names in by_section.items() for name in names)


def fact_sections(pairs: FactPairs) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The same facts as (section, its names), in the same order."""
    by_section: dict[str, list[str]] = {}
    for section, name in pairs:
        by_section.setdefault(section, []).append(name)
    return tuple((section, tuple(names)) for section, names in by_section.items())


def memo_key(facts: dict[str, Any], pairs: FactPairs) -> tuple[Any, ...]:
    """The values of the facts a policy reads, in order (a marker where one is not sent)."""
    return tuple([(facts.get(section) or _EMPTY).get(name, _MISSING) for section, name in pairs])


def projected(key: tuple[Any, ...], pairs: FactPairs) -> dict[str, dict[str, Any]]:
    """The facts the engine sees, from a memo key: only those the policy reads and the request sent."""
    out: dict[str, dict[str, Any]] = {}
    for (section, name), value in zip(pairs, key, strict=True):
        if value is not _MISSING:
            out.setdefault(section, {})[name] = value
    return out


def project(facts: dict[str, Any], pairs: FactPairs) -> tuple[tuple[Any, ...], dict[str, dict[str, Any]]]:
    """(memo key, projected facts): only the facts a policy reads."""
    key = memo_key(facts, pairs)
    return key, projected(key, pairs)


def new_decision_id(now: _dt.datetime) -> str:
    """A UUID version 7 (RFC 9562) as text: the decision's time in milliseconds, then 74 random bits.

    Ids made later sort later, so the decision log's index on them grows at its end: a transaction
    touches the index's last page instead of one random page per row (13-22 µs of CPU a row at 4
    rows per transaction, docs/performance.md). The time it carries is the `evaluated_at` the
    decision states anyway; the random bits keep it unguessable.
    """
    h = f"{int(now.timestamp() * 1000) & 0xFFFF_FFFF_FFFF:012x}{random_hex(10)}"
    return f"{h[:8]}-{h[8:12]}-7{h[12:15]}-{'89ab'[int(h[15], 16) & 3]}{h[16:19]}-{h[19:31]}"


@dataclass(frozen=True)
class _Body:
    fired: tuple[str, ...]
    recommendations: tuple[FiredRecommendation, ...]
    suppressed: tuple[Suppressed, ...]


class Decider:
    """Decides prepared facts on one compiled policy version."""

    def __init__(self, compiled: CompiledPolicy, memo_size: int = MEMO_SIZE) -> None:
        self.compiled = compiled
        self.policy = compiled.policy
        self._pairs = fact_pairs(self.policy.fact_paths)
        self._sections = fact_sections(self._pairs)
        self._rules = {r.id: r for r in self.policy.rules}
        self._checks = {r.id: compile_condition(r.when) for r in self.policy.rules}
        self._explain = {r.id: compile_explainer(r, self.policy) for r in self.policy.rules}
        self._memo: OrderedDict[tuple[Any, ...], _Body] = OrderedDict()
        self._memo_size = memo_size
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def project(self, facts: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, dict[str, Any]]]:
        """The memo key and the facts the engine sees (C4: nothing else reaches it)."""
        return project(facts, self._pairs)

    def key(self, facts: dict[str, Any]) -> tuple[Any, ...]:
        """The memo key alone, without building the projected facts (all a memo hit needs)."""
        return memo_key(facts, self._pairs)

    def _projected(self, key: tuple[Any, ...]) -> dict[str, dict[str, Any]]:
        return projected(key, self._pairs)

    def _project_only(self, facts: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """`projected(key(facts))` without the key (no memo to look it up in)."""
        out: dict[str, dict[str, Any]] = {}
        for section, names in self._sections:
            sub = facts.get(section)
            if sub:
                values = {name: sub[name] for name in names if name in sub}
                if values:
                    out[section] = values
        return out

    def decide(self, facts: dict[str, Any], *, explain: bool = False, decision_id: str | None = None,
               now: _dt.datetime) -> Decision:
        if self._memo_size:
            key = self.key(facts)
            body = self._cached(key)
            if body is None:
                body = self._body(facts, self._projected(key))
                self._remember(key, body)
        else:
            self.misses += 1
            body = self._body(facts, self._project_only(facts))
        return Decision(
            decision_id=decision_id or new_decision_id(now), policy=self.policy,
            evaluated_at=utc_text(now), session_id=facts["session"]["id"],
            fired=body.fired, recommendations=body.recommendations, suppressed=body.suppressed,
            not_fired=self._why_not(set(body.fired), facts) if explain else None,
        )

    def _cached(self, key: tuple[Any, ...]) -> _Body | None:
        with self._lock:
            body = self._memo.get(key)
            if body is None:
                self.misses += 1
            else:
                self.hits += 1
                self._memo.move_to_end(key)
            return body

    def _remember(self, key: tuple[Any, ...], body: _Body) -> None:
        with self._lock:
            self._memo[key] = body
            if len(self._memo) > self._memo_size:
                self._memo.popitem(last=False)

    def _body(self, facts: dict[str, Any], projected: dict[str, Any]) -> _Body:
        fired = sorted((self._rules[r] for r in self.compiled.fired(projected)), key=lambda r: (r.priority, r.id))
        suppressor: dict[str, str] = {}
        for rule in fired:
            for rec_id in rule.suppresses:
                suppressor.setdefault(rec_id, rule.id)
        recs: list[FiredRecommendation] = []
        suppressed: list[Suppressed] = []
        given: set[str] = set()
        for rule in fired:
            fresh = [r for r in rule.then if r not in given]
            given.update(fresh)
            suppressed += [Suppressed(r, rule.id, suppressor[r]) for r in fresh if r in suppressor]
            kept = [r for r in fresh if r not in suppressor]
            if kept:
                recs += self._recommendations(rule, kept, facts)
        return _Body(tuple(r.id for r in fired), tuple(recs), tuple(suppressed))

    def _recommendations(self, rule: Rule, ids: list[str], facts: dict[str, Any]) -> list[FiredRecommendation]:
        matched, text = self._explain[rule.id](facts)
        out = []
        for rec_id in ids:
            cat = self.policy.recommendations[rec_id]
            out.append(FiredRecommendation(rec_id, cat.title, rule.indicator or cat.indicator, cat.category,
                                           cat.text, rule.id, text, rule.source, matched))
        return out

    def _why_not(self, fired: set[str], facts: dict[str, Any]) -> tuple[NotFired, ...]:
        out = []
        for rule in sorted(self.policy.rules, key=lambda r: (r.priority, r.id)):
            if rule.id not in fired:
                failed = self._checks[rule.id](facts).failed
                out.append(NotFired(rule.id, rule.title, leaf_dict(failed, facts) if failed else None))
        return tuple(out)


def decide(compiled: CompiledPolicy, facts: dict[str, Any], *, explain: bool = False,
           decision_id: str | None = None, now: _dt.datetime | None = None) -> Decision:
    """Evaluate prepared facts on one compiled policy version, without a memo."""
    return Decider(compiled, memo_size=0).decide(facts, explain=explain, decision_id=decision_id,
                                                 now=now or _dt.datetime.now(_dt.UTC))
