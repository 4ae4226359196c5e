"""A fired rule's explanation, compiled once per rule: its matched conditions and its rationale text.

The same data as the reference interpreter's `Outcome` put through `leaf_dict` and the rule's
template (`engine.decide.rationale`), which stay the definition (tests compare the two on
generated facts), without building an Outcome per condition node or looking anything up per
leaf: on a decision the memo did not answer this is most of the Python around the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.decide.rationale import _show
from engine.decide.reference import OPS
from engine.facts.prepare import fact_catalogue
from engine.policy.model import SYMBOL, All, Condition, Leaf, Policy, Rule, to_nnf
from engine.policy.template import parse_template

__all__ = ["Explainer", "compile_explainer"]

Facts = dict[str, Any]
Explainer = Callable[[Facts], tuple[tuple[dict[str, Any], ...], str]]
_ABSENT = object()


class _Leaf:
    """One condition leaf, prepared: whether it holds, its `matched` entry, its words in a rationale."""

    __slots__ = ("leaf", "section", "name", "other", "test", "describe")

    def __init__(self, leaf: Leaf) -> None:
        self.leaf = leaf
        self.section, self.name = leaf.fact.split(".", 1)
        self.other = tuple(leaf.other_fact.split(".", 1)) if leaf.other_fact else None
        op, value = OPS[leaf.op], leaf.value
        self.describe = _describer(leaf)
        if self.other is None:
            self.test: Callable[[Any, Facts], bool] = lambda a, facts: op(a, value)
        else:
            section, name = self.other

            def pair(a: Any, facts: Facts) -> bool:
                b = facts.get(section, {}).get(name, _ABSENT)
                return b is not _ABSENT and op(a, b)
            self.test = pair

    def holds(self, facts: Facts) -> bool:
        actual = facts.get(self.section, {}).get(self.name, _ABSENT)
        return actual is not _ABSENT and self.test(actual, facts)

    def as_dict(self, facts: Facts) -> dict[str, Any]:
        """`leaf_dict(leaf, facts)`: the same keys in the same order."""
        leaf = self.leaf
        expected = list(leaf.value) if isinstance(leaf.value, tuple) else leaf.value
        out = {"fact": leaf.fact, "op": leaf.op, "expected": expected, "actual": _value(facts, self.section, self.name)}
        if leaf.param:
            out["param"] = leaf.param
        if self.other is not None:
            out["expected"] = _value(facts, *self.other)
            out["other_fact"] = leaf.other_fact
        return out


def _value(facts: Facts, section: str, name: str) -> Any:
    sub = facts.get(section)
    return sub.get(name) if isinstance(sub, dict) else None


def _describer(leaf: Leaf) -> Callable[[Facts], str]:
    """`describe_leaf(leaf, ·)` with the catalogue, the symbol and a constant side looked up once."""
    spec = fact_catalogue()[leaf.fact]
    section, name = leaf.fact.split(".", 1)
    if spec.kind == "boolean" and leaf.op in ("eq", "ne"):
        yes, no = spec.title, f"no {spec.title}"
        return lambda facts: yes if _value(facts, section, name) else no
    if leaf.op in ("lt", "lte", "gt", "gte"):
        head, symbol = spec.title, SYMBOL[leaf.op]
        if leaf.other_fact:
            other = leaf.other_fact.split(".", 1)
            return lambda facts: f"{head} {_show(_value(facts, section, name))} {symbol} {_show(_value(facts, *other))}"
        tail = f" {symbol} {_show(leaf.value)}"
        return lambda facts: f"{head} {_show(_value(facts, section, name))}{tail}"
    head = f"{spec.title}: "

    def text(facts: Facts) -> str:
        sub = facts.get(section)
        return head + (_show(sub[name]) if isinstance(sub, dict) and name in sub else "unknown")
    return text


_Node = Callable[[Facts], "tuple[list[_Leaf], list[_Leaf]] | None"]  # (matched, reasons) when it holds


def _compile(cond: Condition, leaves: list[_Leaf]) -> _Node:
    if isinstance(cond, Leaf):
        prepared = _Leaf(cond)
        leaves.append(prepared)
        one = [prepared]
        return lambda facts: (one, []) if prepared.holds(facts) else None
    items = [_compile(c, leaves) for c in cond.items]  # type: ignore[union-attr]
    if isinstance(cond, All):
        def all_(facts: Facts) -> tuple[list[_Leaf], list[_Leaf]] | None:
            matched: list[_Leaf] = []
            reasons: list[_Leaf] = []
            for item in items:
                out = item(facts)
                if out is None:
                    return None
                matched += out[0]
                reasons += out[1]
            return matched, reasons
        return all_

    def any_(facts: Facts) -> tuple[list[_Leaf], list[_Leaf]] | None:
        hits = [leaf for out in [item(facts) for item in items] if out is not None for leaf in out[0]]
        return (hits, hits) if hits else None
    return any_


def _template(rule: Rule, policy: Policy) -> list[tuple[str, Any]]:
    """The rule's rationale as parts: ("text", str), ("fact", (section, name)), ("matched", None)."""
    parts: list[tuple[str, Any]] = []
    for part in parse_template(rule.rationale, policy.parameters, fact_catalogue()).parts:
        if part.kind == "param":
            parts.append(("text", _show(policy.parameters[part.text])))
        elif part.kind == "fact":
            parts.append(("fact", tuple(part.text.split(".", 1))))
        else:
            parts.append((part.kind, part.text))
    return parts


def compile_explainer(rule: Rule, policy: Policy) -> Explainer:
    """facts (on which `rule` fired) -> (its matched conditions as dicts, its rationale text)."""
    node = _compile(to_nnf(rule.when), [])
    parts = _template(rule, policy)

    def explain(facts: Facts) -> tuple[tuple[dict[str, Any], ...], str]:
        out = node(facts)
        matched, reasons = out if out is not None else ([], [])
        why = reasons or matched
        text = []
        for kind, value in parts:
            if kind == "text":
                text.append(value)
            elif kind == "fact":
                sub = facts.get(value[0])
                text.append(_show(sub[value[1]]) if isinstance(sub, dict) and value[1] in sub else "unknown")
            else:
                text.append("; ".join(dict.fromkeys([leaf.describe(facts) for leaf in why])))
        return tuple([leaf.as_dict(facts) for leaf in matched]), "".join(text)

    return explain
