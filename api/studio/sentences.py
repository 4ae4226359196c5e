"""Conditions in words, for people who write policies: rules as sentences, matched and failed conditions."""

from __future__ import annotations

from typing import Any

from engine.facts.prepare import fact_catalogue
from engine.impact import words
from engine.policy.model import All, AnyOf, Condition, Leaf, Not, Policy, Rule

__all__ = ["comparison", "condition_words", "rule_sentence", "show"]

def show(value: Any) -> str:
    """A value as a director reads it (`engine.impact.words.show`); a reference to another fact by its title."""
    if isinstance(value, dict) and "fact" in value:
        return words.title(str(value["fact"]))
    return words.show(value)


def comparison(fact: str, op: str, expected: Any, *, other_fact: str | None = None, param: str | None = None) -> str:
    """`fact op expected` in words; a flag reads `<title>: yes` or `<title>: no`."""
    spec = fact_catalogue().get(fact)
    if spec is not None and spec.kind == "boolean" and op in ("eq", "ne") and isinstance(expected, bool):
        return f"{spec.title}: {show(expected == (op == 'eq'))}"
    rhs = words.title(other_fact) if other_fact else show(expected)
    if param:
        rhs = f"{rhs} (parameter {param})"
    return f"{words.title(fact)} {words.VERBS[op]} {rhs}"


def _leaf(leaf: Leaf) -> str:
    return comparison(leaf.fact, leaf.op, leaf.value, other_fact=leaf.other_fact, param=leaf.param)


def condition_words(cond: Condition) -> str:
    """A condition as one phrase: `and` between all, `either ... or ...` between any, `not (...)`."""
    if isinstance(cond, Leaf):
        return _leaf(cond)
    if isinstance(cond, Not):
        return f"not ({condition_words(cond.item)})"
    parts = [condition_words(c) if isinstance(c, Leaf) else f"({condition_words(c)})" for c in cond.items]
    if isinstance(cond, All):
        return _join(parts, "and")
    assert isinstance(cond, AnyOf)
    return "either " + _join(parts, "or") if len(parts) > 1 else parts[0]


def _join(parts: list[str], word: str) -> str:
    if len(parts) <= 2:
        return f" {word} ".join(parts)
    return ", ".join(parts[:-1]) + f", {word} " + parts[-1]


def rule_sentence(rule: Rule, policy: Policy) -> str:
    """`When <condition> -> <recommendation titles>`, as the studio shows each rule."""
    then = ", ".join(policy.recommendations[r].title if r in policy.recommendations else r for r in rule.then)
    return f"When {condition_words(rule.when)} → {then}"
