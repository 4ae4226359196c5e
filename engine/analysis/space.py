"""The finite fact space a policy can tell apart: each fact's domain, and cases built from them.

Booleans and enums take every value; numbers are split at the thresholds the
policies compare them with (each threshold, one below, one above, clamped to the
schema's bounds); a fact with no default may also be absent (unknown). The
neutral value (the default, or absent) comes first in every domain, so searches
and enumerations meet the plainest cases first.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from engine.core.schemas import load_schema
from engine.facts.prepare import FactSpec, apply_defaults, fact_catalogue
from engine.policy.model import Leaf, Policy, leaves

__all__ = ["ABSENT", "FactSpace", "policy_leaves", "build_space", "numeric_points", "to_facts", "prepared", "case_key",
           "neutral"]

_SMALL_RANGE = 8  # a bounded integer with at most this many values and no threshold takes them all


class _Absent:
    """The value of a fact that was not sent and has no default."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "absent"


ABSENT: Any = _Absent()


@cache
def _required() -> frozenset[str]:
    schema = load_schema("session-facts")
    out = set()
    for section in schema.get("required", ()):
        for name in schema["properties"][section].get("required", ()):
            out.add(f"{section}.{name}")
    return frozenset(out)


def policy_leaves(policy: Policy) -> list[Leaf]:
    """Every leaf of every rule and must_decide condition."""
    return [x for r in policy.rules for x in leaves(r.when)] + [x for m in policy.must_decide for x in leaves(m.when)]


def neutral(spec: FactSpec) -> Any:
    """The value a fact has when it is not sent (a default_from fact: absent, i.e. it follows its source)."""
    if spec.has_default:
        return spec.default
    if spec.path in _required() and spec.enum:
        return spec.enum[0]
    return ABSENT


def numeric_points(spec: FactSpec, thresholds: set[float]) -> list[Any]:
    """Each threshold, one step below and above (1, or less between close thresholds), moved within bounds.

    A point beyond a bound becomes the bound (a value the fact can take), so a domain is never empty:
    `partners_present < -5` still has a value to find unreachable."""
    if not thresholds:
        lo, hi = spec.minimum, spec.maximum
        if spec.kind == "integer" and lo is not None and hi is not None and hi - lo < _SMALL_RANGE:
            return list(range(int(lo), int(hi) + 1))
        return [lo if lo is not None else 0]
    ordered = sorted(thresholds)
    gaps = [b - a for a, b in itertools.pairwise(ordered) if b > a]
    step: float = 1 if spec.kind == "integer" else min([1.0] + [g / 2 for g in gaps])
    points: set[float] = set()
    for t in ordered:
        if spec.kind == "integer" and not float(t).is_integer():
            points |= {math.floor(t), math.ceil(t)}
        else:
            points |= {t - step, t, t + step}
    lo = spec.minimum if spec.minimum is not None else -math.inf
    hi = spec.maximum if spec.maximum is not None else math.inf
    return sorted({_tidy(min(max(p, lo), hi)) for p in points})


def _tidy(x: float) -> Any:
    return int(x) if float(x).is_integer() else x


def _domain(spec: FactSpec, thresholds: set[float], literals: set[Any]) -> tuple[Any, ...]:
    if spec.kind == "boolean":
        values: list[Any] = [False, True]
    elif spec.kind == "enum":
        values = list(spec.enum)
    elif spec.numeric:
        values = numeric_points(spec, thresholds)
    else:
        values = sorted(literals, key=str)
    first = neutral(spec)
    if first is ABSENT and (spec.default_from or spec.path in _required()):
        first = None  # never absent: follows its source, or must be sent
    ordered = [first] if first is not None else []
    return tuple(ordered + [v for v in values if not _same(v, first)])


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class FactSpace:
    """The domain of every fact the analysed policies read."""

    domains: Mapping[str, tuple[Any, ...]]

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(self.domains)

    def size(self, paths: Iterable[str] | None = None) -> int:
        """How many combinations the given facts (default: all) have."""
        return math.prod(len(self.domains[p]) for p in (self.paths if paths is None else paths))

    def assignments(self, paths: Iterable[str]) -> Iterator[dict[str, Any]]:
        """Every combination of the given facts' values, neutral values first."""
        keys = list(paths)
        for combo in itertools.product(*(self.domains[p] for p in keys)):
            yield dict(zip(keys, combo, strict=True))


def build_space(policies: Iterable[Policy]) -> FactSpace:
    """The fact space of the facts the policies read, split at the thresholds they use."""
    catalogue = fact_catalogue()
    thresholds: dict[str, set[float]] = {}
    literals: dict[str, set[Any]] = {}
    linked: list[tuple[str, str]] = []
    paths: set[str] = set()
    for policy in policies:
        paths.update(policy.fact_paths)
        for leaf in policy_leaves(policy):
            paths.add(leaf.fact)
            if leaf.other_fact:
                paths.add(leaf.other_fact)
                linked.append((leaf.fact, leaf.other_fact))
                continue
            for v in leaf.value if isinstance(leaf.value, tuple) else (leaf.value,):
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    thresholds.setdefault(leaf.fact, set()).add(v)
                elif isinstance(v, str):
                    literals.setdefault(leaf.fact, set()).add(v)
    for a, b in linked:  # facts compared with each other must meet at each other's thresholds
        shared = thresholds.get(a, set()) | thresholds.get(b, set())
        thresholds[a] = thresholds[b] = shared
    paths.discard("session.id")
    ordered = [p for p in catalogue if p in paths]
    return FactSpace({p: _domain(catalogue[p], thresholds.get(p, set()), literals.get(p, set())) for p in ordered})


def to_facts(assign: Mapping[str, Any], case_id: str) -> dict[str, Any]:
    """Session facts (as a client would send them) for an assignment; unassigned facts are not sent."""
    out: dict[str, Any] = {"session": {"id": case_id}}
    catalogue = fact_catalogue()
    for path, spec in catalogue.items():
        value = assign.get(path, neutral(spec) if path in _required() else ABSENT)
        if value is ABSENT or path == "session.id":
            continue
        section, name = path.split(".", 1)
        if spec.has_default and _same(value, spec.default):
            continue  # the default: leave it out, as a client would
        out.setdefault(section, {})[name] = value
    for path, spec in catalogue.items():  # a value equal to the one it follows need not be sent
        section, name = path.split(".", 1)
        if spec.default_from and name in out.get(section, {}):
            src = spec.default_from.split(".", 1)
            if out[section][name] == out.get(src[0], {}).get(src[1], catalogue[spec.default_from].default):
                del out[section][name]
                if not out[section]:
                    del out[section]
    return out


def prepared(assign: Mapping[str, Any], case_id: str) -> dict[str, Any]:
    """The facts every rule sees for an assignment (defaults applied)."""
    return apply_defaults(to_facts(assign, case_id))


def case_key(facts: Mapping[str, Any]) -> str:
    """A stable identity for a case: its facts without the session id."""
    parts = []
    for section in sorted(facts):
        for name, value in sorted(facts[section].items()):
            if (section, name) != ("session", "id"):
                parts.append(f"{section}.{name}={value!r}")
    return ";".join(parts)
