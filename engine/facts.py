"""Session facts: validation with readable errors, defaults, and the fact catalogue."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import ValidationError

from .errors import FactsError, Problem
from .schemas import load_schema, validator
from .suggest import did_you_mean

__all__ = ["FactSpec", "fact_catalogue", "prepare_facts", "describe_error"]


@dataclass(frozen=True)
class FactSpec:
    """What the facts schema says about one leaf fact."""

    path: str
    kind: str  # "boolean" | "integer" | "number" | "enum" | "string"
    title: str
    enum: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    default: Any = None
    has_default: bool = False
    default_from: str | None = None

    @property
    def numeric(self) -> bool:
        return self.kind in ("integer", "number")


def _spec(path: str, node: dict[str, Any]) -> FactSpec:
    types = node.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    if "enum" in node:
        kind = "enum"
    else:
        kind = next(t for t in types if t != "null")
    return FactSpec(
        path=path, kind=kind, title=node.get("title", path),
        enum=tuple(node.get("enum", ())),
        minimum=node.get("minimum"), maximum=node.get("maximum"),
        default=node.get("default"), has_default="default" in node,
        default_from=node.get("x-default-from"),
    )


@cache
def fact_catalogue() -> dict[str, FactSpec]:
    """Every leaf fact path in the facts schema, in schema order."""
    out: dict[str, FactSpec] = {}
    for section, sub in load_schema("session-facts")["properties"].items():
        for name, node in sub["properties"].items():
            out[f"{section}.{name}"] = _spec(f"{section}.{name}", node)
    return out


def _pointer(error: ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path)


def describe_error(error: ValidationError) -> Problem:
    """Turn a jsonschema error into a sentence a person understands."""
    path = _pointer(error)
    v: Any = error.instance
    kw = error.validator
    rv: Any = error.validator_value
    schema: Any = error.schema
    value = _show(v)
    if kw == "maximum":
        msg = f"{value} is greater than the maximum of {rv}"
    elif kw == "minimum":
        msg = f"{value} is less than the minimum of {rv}"
    elif kw == "enum":
        allowed = ", ".join(str(x) for x in rv)
        hint = did_you_mean(v, [str(x) for x in rv]) if isinstance(v, str) else ""
        msg = f"{value} is not one of: {allowed}{hint}"
    elif kw == "type":
        msg = f"{value} is not of type {_types(rv)}"
    elif kw == "required":
        missing = error.message.split("'")[1]
        path = f"{path}.{missing}" if path else missing
        msg = "is required"
    elif kw == "additionalProperties":
        extra = sorted(set(v) - set(schema.get("properties", {})))
        return _unknown_field(path, extra, schema)
    elif kw == "maxLength":
        msg = f"is longer than {rv} characters"
    elif kw == "minLength":
        msg = f"is shorter than {rv} character{'s' if rv != 1 else ''}"
    elif kw == "format":
        msg = f"{value} is not a valid {rv}"
    else:
        msg = error.message
    return Problem("invalid_facts", msg, path)


def _unknown_field(path: str, extra: list[str], schema: dict[str, Any]) -> Problem:
    name = extra[0]
    full = f"{path}.{name}" if path else name
    hint = did_you_mean(name, list(schema.get("properties", {})))
    more = f" (and {len(extra) - 1} more: {', '.join(extra[1:])})" if len(extra) > 1 else ""
    return Problem("invalid_facts", f"unknown field{hint}{more}", full)


def _types(t: Any) -> str:
    names = [t] if isinstance(t, str) else list(t)
    return " or ".join(names)


def _show(v: Any) -> str:
    if isinstance(v, str):
        return repr(v if len(v) <= 40 else v[:37] + "...")
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (dict, list)):
        return "an object" if isinstance(v, dict) else "a list"
    return str(v)


def _non_finite(facts: Any) -> list[Problem]:
    # JSON Schema cannot refuse NaN (it compares false with every bound), and the engine
    # would then disagree with itself; Python callers can pass float("nan").
    out = []
    if isinstance(facts, dict):
        for section, values in facts.items():
            for name, v in (values.items() if isinstance(values, dict) else ()):
                if isinstance(v, float) and not math.isfinite(v):
                    out.append(Problem("invalid_facts", f"{v} is not a finite number", f"{section}.{name}"))
    return out


def validate_facts(facts: Any) -> None:
    """Raise FactsError listing every problem, sorted by path."""
    problems = [describe_error(e) for e in validator("session-facts").iter_errors(facts)] + _non_finite(facts)
    if problems:
        raise FactsError(sorted(problems, key=lambda p: (p.path, p.message)))


def apply_defaults(facts: dict[str, Any]) -> dict[str, Any]:
    """A copy of valid facts with every schema default filled in and nulls removed."""
    out = copy.deepcopy(facts)
    for spec in fact_catalogue().values():
        section, name = spec.path.split(".", 1)
        values = out.setdefault(section, {})
        if values.get(name, 0) is None:
            del values[name]  # null means unknown: the same as not sent
        if name in values:
            continue
        if spec.has_default:
            values[name] = spec.default
    for spec in fact_catalogue().values():
        section, name = spec.path.split(".", 1)
        if spec.default_from and name not in out[section]:
            src_section, src_name = spec.default_from.split(".", 1)
            if src_name in out[src_section]:
                out[section][name] = out[src_section][src_name]
    return out


def prepare_facts(facts: Any) -> dict[str, Any]:
    """Validate, then apply defaults: the facts every rule sees."""
    validate_facts(facts)
    return apply_defaults(facts)


def get_path(facts: dict[str, Any], path: str) -> tuple[bool, Any]:
    """(present, value) of a dotted path."""
    section, name = path.split(".", 1)
    sub = facts.get(section)
    if isinstance(sub, dict) and name in sub:
        return True, sub[name]
    return False, None
