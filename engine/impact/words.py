"""Policies and facts in words a clinical committee reads: conditions as sentences, facts that differ from defaults."""

from __future__ import annotations

from typing import Any

from engine.facts.prepare import fact_catalogue
from engine.policy.model import All, Condition, Leaf, Not

__all__ = ["VERBS", "condition_sentence", "fact_rows", "facts_in_words", "show", "title"]

VERBS = {"eq": "is", "ne": "is not", "lt": "is less than", "lte": "is at most", "gt": "is more than",
        "gte": "is at least", "in": "is one of", "not_in": "is none of"}


def show(value: Any) -> str:
    """A value as a reader says it: yes/no, whole numbers without `.0`, lists joined, enum words unsnaked."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ", ".join(show(v) for v in value)
    if value is None:
        return "unknown"
    return str(value).replace("_", " ") if isinstance(value, str) else str(value)


def title(path: str) -> str:
    """The schema's title of a fact (`attendance.partners_present` -> `partners present`)."""
    spec = fact_catalogue().get(path)
    return spec.title if spec else path


def _leaf(leaf: Leaf, parameters: dict[str, Any] | None) -> str:
    spec = fact_catalogue().get(leaf.fact)
    if spec is not None and spec.kind == "boolean" and leaf.op in ("eq", "ne") and isinstance(leaf.value, bool):
        return spec.title if leaf.value == (leaf.op == "eq") else f"not {spec.title}"
    if leaf.other_fact:
        other = title(leaf.other_fact)
    elif leaf.param:
        other = leaf.param if parameters is None else f"{leaf.param} ({show(parameters.get(leaf.param))})"
    else:
        other = show(leaf.value)
    return f"{title(leaf.fact)} {VERBS[leaf.op]} {other}"


def condition_sentence(cond: Condition, parameters: dict[str, Any] | None, depth: int = 0) -> str:
    """`session type is couples and partners present is less than partners expected`; nested groups bracketed.

    A parameter is shown by name and value (`window (14)`), by name alone when `parameters` is None.
    """
    if isinstance(cond, Leaf):
        return _leaf(cond, parameters)
    if isinstance(cond, Not):
        return f"not ({condition_sentence(cond.item, parameters, depth + 1)})"
    word = " and " if isinstance(cond, All) else " or "
    text = word.join(condition_sentence(c, parameters, depth + 1) for c in cond.items)
    return f"({text})" if depth and len(cond.items) > 1 else text


def fact_rows(facts: Any) -> list[tuple[str, str]]:
    """(fact in words, value in words) for each fact sent that differs from its default; the session id never."""
    rows: list[tuple[str, str]] = []
    catalogue = fact_catalogue()
    for section, values in (facts.items() if isinstance(facts, dict) else ()):
        for name, value in (values.items() if isinstance(values, dict) else ()):
            path = f"{section}.{name}"
            spec = catalogue.get(path)
            if path == "session.id" or (spec is not None and spec.has_default and spec.default == value):
                continue
            rows.append((title(path), show(value)))
    return rows


def facts_in_words(facts: Any) -> str:
    """`session type: couples, partners present: 1, absence reason: work` (defaults left out)."""
    return ", ".join(f"{k}: {v}" for k, v in fact_rows(facts)) or "every fact at its default"
