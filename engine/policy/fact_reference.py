"""Every fact a policy may use, described for the people who write policies: type, allowed values, default, meaning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.core.schemas import load_schema
from engine.facts.prepare import FactSpec, fact_catalogue
from engine.policy.model import OPS

__all__ = ["FactDoc", "fact_docs", "operators_for"]

_NUMERIC_OPS = ("lt", "lte", "gt", "gte")  # they order values: numbers only (as engine/policy/semantics.py checks)
_TYPE = {"enum": "choice", "boolean": "boolean", "integer": "integer", "number": "number", "string": "text"}


@dataclass(frozen=True)
class FactDoc:
    """One fact as `attendance-policy facts` shows it."""

    path: str
    type: str  # choice | boolean | integer | number | text
    allowed: str  # in words: the choices, a range, a length
    values: tuple[Any, ...]  # the choices (for a choice or a boolean), else ()
    operators: tuple[str, ...]  # what a condition may compare it with
    default: str  # in words: the value, where it is copied from, or why there is none
    meaning: str
    spec: FactSpec

    def to_dict(self) -> dict[str, Any]:
        s = self.spec
        return {"path": self.path, "type": self.type, "allowed": self.allowed, "values": list(self.values),
                "operators": list(self.operators),
                "minimum": s.minimum, "maximum": s.maximum, "default": s.default if s.has_default else None,
                "has_default": s.has_default, "default_from": s.default_from, "required": self.default == "required",
                "default_text": self.default, "title": s.title, "meaning": self.meaning}


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _allowed(spec: FactSpec, node: dict[str, Any]) -> str:
    if spec.kind == "enum":
        return ", ".join(spec.enum)
    if spec.kind == "boolean":
        return "true, false"
    if spec.numeric:
        whole = "whole numbers" if spec.kind == "integer" else "numbers"
        return f"{whole} from {_show(spec.minimum)} to {_show(spec.maximum)}"
    if node.get("format") == "date-time":
        return "a date and time (RFC 3339, e.g. 2026-01-31T18:00:00Z)"
    return f"text of {node.get('minLength', 0)} to {node.get('maxLength')} characters"


def _default(spec: FactSpec, required: bool) -> str:
    if required:
        return "required"
    if spec.has_default:
        return _show(spec.default)
    if spec.default_from:
        return f"the value of {spec.default_from}"
    return "no default: unknown when not sent"


def operators_for(spec: FactSpec) -> tuple[str, ...]:
    """The operators a condition may use on the fact: all for numbers; eq, ne, in, not_in for the others."""
    return OPS if spec.numeric else tuple(op for op in OPS if op not in _NUMERIC_OPS)


def fact_docs() -> list[FactDoc]:
    """Every fact of the facts schema, in schema order, with the schema's own descriptions."""
    sections = load_schema("session-facts")["properties"]
    out = []
    for path, spec in fact_catalogue().items():
        section, name = path.split(".", 1)
        node = sections[section]["properties"][name]
        required = name in sections[section].get("required", ())
        values: tuple[Any, ...] = spec.enum if spec.kind == "enum" else (True, False) if spec.kind == "boolean" else ()
        out.append(FactDoc(path, _TYPE[spec.kind], _allowed(spec, node), values, operators_for(spec),
                           _default(spec, required),
                           node.get("description", spec.title), spec))
    return out
