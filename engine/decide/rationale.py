"""Decision data and its rendering: rationale text, matched conditions, to_dict()."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.facts.prepare import fact_catalogue, get_path
from engine.policy.model import SYMBOL, Leaf, Policy
from engine.policy.template import parse_template

__all__ = ["Decision", "FiredRecommendation", "Suppressed", "NotFired", "render", "compile_template", "leaf_dict",
           "describe_leaf"]


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (list, tuple)):
        return ", ".join(_show(x) for x in v)
    return str(v)


def leaf_dict(leaf: Leaf, facts: dict[str, Any]) -> dict[str, Any]:
    """`{fact, op, expected, actual}` for a decision (actual is null when unknown)."""
    present, actual = get_path(facts, leaf.fact)
    out: dict[str, Any] = {"fact": leaf.fact, "op": leaf.op, "expected": leaf.expected(),
                           "actual": actual if present else None}
    if leaf.param:
        out["param"] = leaf.param
    if leaf.other_fact:
        out["expected"] = get_path(facts, leaf.other_fact)[1]
        out["other_fact"] = leaf.other_fact
    return out


def describe_leaf(leaf: Leaf, facts: dict[str, Any]) -> str:
    """A matched condition in words, e.g. `major decision pending: marriage`."""
    spec = fact_catalogue()[leaf.fact]
    present, actual = get_path(facts, leaf.fact)
    if spec.kind == "boolean" and leaf.op in ("eq", "ne"):
        return spec.title if actual else f"no {spec.title}"
    if leaf.op in ("lt", "lte", "gt", "gte"):
        other = _show(get_path(facts, leaf.other_fact)[1]) if leaf.other_fact else _show(leaf.value)
        return f"{spec.title} {_show(actual)} {SYMBOL[leaf.op]} {other}"
    return f"{spec.title}: {_show(actual) if present else 'unknown'}"


Renderer = Callable[[dict[str, Any], tuple[Leaf, ...]], str]


def compile_template(template: str, policy: Policy) -> Renderer:
    """Prepare a rationale template once: `{fact.path}`, `{param:name}` and `{matched}`.

    The template is parsed by engine.policy.template, as the loader parsed it to
    check it; parameters are constants and are filled in here.
    """
    parts: list[tuple[str, str]] = []  # (kind, text): "text" literal, "fact" path, "matched"
    for part in parse_template(template, policy.parameters, fact_catalogue()).parts:
        shown = _show(policy.parameters[part.text]) if part.kind == "param" else part.text
        parts.append(("text" if part.kind == "param" else part.kind, shown))

    def render_(facts: dict[str, Any], matched: tuple[Leaf, ...]) -> str:
        out = []
        for kind, text in parts:
            if kind == "text":
                out.append(text)
            elif kind == "fact":
                present, value = get_path(facts, text)
                out.append(_show(value) if present else "unknown")
            else:
                out.append("; ".join(dict.fromkeys(describe_leaf(x, facts) for x in matched)))
        return "".join(out)

    return render_


def render(template: str, facts: dict[str, Any], policy: Policy, matched: tuple[Leaf, ...]) -> str:
    """Fill a rationale template (see `compile_template`)."""
    return compile_template(template, policy)(facts, matched)


@dataclass(frozen=True)
class FiredRecommendation:
    id: str
    title: str
    indicator: str
    category: str
    text: str
    rule: str
    rationale: str
    source: str
    matched: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "indicator": self.indicator, "category": self.category,
                "text": self.text, "rule": self.rule, "rationale": self.rationale, "source": self.source,
                "matched": [dict(m) for m in self.matched]}


@dataclass(frozen=True)
class Suppressed:
    id: str
    rule: str
    suppressed_by: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "rule": self.rule, "suppressed_by": self.suppressed_by}


@dataclass(frozen=True)
class NotFired:
    rule: str
    title: str
    failed: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "title": self.title, "failed": self.failed}


@dataclass(frozen=True)
class Decision:
    decision_id: str
    policy: Policy
    evaluated_at: str
    session_id: str
    fired: tuple[str, ...]
    recommendations: tuple[FiredRecommendation, ...]
    suppressed: tuple[Suppressed, ...]
    not_fired: tuple[NotFired, ...] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "decision_id": self.decision_id,
            "policy": {"id": self.policy.id, "version": self.policy.version, "sha256": self.policy.sha256},
            "evaluated_at": self.evaluated_at,
            "session_id": self.session_id,
            "rules_fired": list(self.fired),
            "recommendations": [r.to_dict() for r in self.recommendations],
            "suppressed": [s.to_dict() for s in self.suppressed],
        }
        if self.not_fired is not None:
            out["not_fired"] = [n.to_dict() for n in self.not_fired]
        return out
