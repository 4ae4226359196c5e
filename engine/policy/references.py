"""References between the parts of a policy: rule ids, recommendation ids, suppression cycles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.core.errors import Problem
from engine.core.suggest import did_you_mean
from engine.policy.locate import Locator
from engine.policy.yaml_source import Path

__all__ = ["check_references"]

Ok = Callable[[Path], bool]


def check_references(loc: Locator, data: dict[str, Any], ok: Ok) -> list[Problem]:
    """Duplicate rule ids, unknown recommendations, self-suppression and suppression cycles."""
    rules = data.get("rules")
    rules = [(i, r) for i, r in enumerate(rules) if isinstance(r, dict)] if isinstance(rules, list) else []
    catalog = data.get("recommendations")
    recs = set(catalog) if isinstance(catalog, dict) else None
    out = _duplicate_ids(loc, rules, ok)
    given: dict[int, tuple[list[str], list[str]]] = {}
    for i, rule in rules:
        then, suppresses = _ids(rule, i, "then", ok), _ids(rule, i, "suppresses", ok)
        given[i] = ([x for x, _ in then], [x for x, _ in suppresses])
        out += _unknown(loc, recs, then + suppresses)
        for rid in sorted(set(given[i][0]) & set(given[i][1])):
            out.append(loc.at_value("self_suppression", f"it both gives and suppresses {rid!r}",
                                    ("rules", i, "suppresses")))
    for rid, rec in (catalog.items() if isinstance(catalog, dict) else ()):
        others = rec.get("conflicts_with") if isinstance(rec, dict) else None
        path = ("recommendations", rid, "conflicts_with")
        if isinstance(others, list) and ok(path):
            out += _unknown(loc, recs, [(x, path + (j,)) for j, x in enumerate(others) if isinstance(x, str)])
    return out + _cycles(loc, rules, given)


def _ids(rule: dict[str, Any], i: int, key: str, ok: Ok) -> list[tuple[str, Path]]:
    """The recommendation ids a rule names under `key`, each with its place."""
    value, path = rule.get(key), ("rules", i, key)
    if not ok(path):
        return []
    if isinstance(value, str):
        return [(value, path)]
    return [(x, path + (j,)) for j, x in enumerate(value) if isinstance(x, str)] if isinstance(value, list) else []


def _unknown(loc: Locator, recs: set[str] | None, named: list[tuple[str, Path]]) -> list[Problem]:
    if recs is None:
        return []  # the catalog itself is broken: the schema said so
    return [loc.at_value("unknown_recommendation", f"unknown recommendation {rid!r}{did_you_mean(rid, recs)}", path)
            for rid, path in named if rid not in recs]


def _duplicate_ids(loc: Locator, rules: list[tuple[int, dict[str, Any]]], ok: Ok) -> list[Problem]:
    out: list[Problem] = []
    seen: dict[str, int] = {}
    for i, rule in rules:
        rule_id = rule.get("id")
        if not isinstance(rule_id, str) or not ok(("rules", i, "id")):
            continue
        if rule_id in seen:
            out.append(loc.at_value("duplicate_rule_id", f"this id is already used by the rule at line "
                                    f"{loc.line(('rules', seen[rule_id]))}; give each rule its own id",
                                    ("rules", i, "id")))
        seen.setdefault(rule_id, i)
    return out


def _cycles(loc: Locator, rules: list[tuple[int, dict[str, Any]]],
            given: dict[int, tuple[list[str], list[str]]]) -> list[Problem]:
    # Edge A -> B when rule A suppresses a recommendation that rule B gives.
    ids = {i: r["id"] for i, r in rules if isinstance(r.get("id"), str)}
    givers: dict[str, list[str]] = {}
    for i, (then, _) in given.items():
        for rid in then:
            if i in ids:
                givers.setdefault(rid, []).append(ids[i])
    edges = {ids[i]: sorted({g for s in sup for g in givers.get(s, ()) if g != ids[i]})
             for i, (_, sup) in given.items() if i in ids}
    cycle = _find_cycle(edges)
    if not cycle:
        return []
    index = {rule_id: i for i, rule_id in ids.items()}
    return [loc.at_value("suppression_cycle", "suppression cycle: " + " -> ".join(cycle) + " (each suppresses "
                         "what the next one gives, so none of them can win); remove one of these suppressions",
                         ("rules", index[cycle[0]], "suppresses"))]


def _find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in edges.get(n, ()):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(edges):
        if n not in state and (found := visit(n)):
            return found
    return None
