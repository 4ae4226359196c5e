"""Session facts: validation with readable errors, defaults, and the fact catalogue."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import ValidationError

from engine.core.errors import FactsError, Problem
from engine.core.schemas import load_schema, validator
from engine.core.suggest import did_you_mean
from engine.facts.consistency import clause_of, cross_field_problem
from engine.facts.fast_validator import facts_ok

__all__ = ["FactSpec", "fact_catalogue", "facts_problems", "json_pointer", "prepare_facts", "describe_error"]


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


def json_pointer(segments: Any) -> str:
    """RFC 6901: `["a.b", 0]` -> `/a.b/0`."""
    return "".join("/" + str(s).replace("~", "~0").replace("/", "~1") for s in segments)


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
        return Problem("invalid_facts", "is required", path,
                       pointer=json_pointer([*error.absolute_path, missing]))
    elif kw == "additionalProperties":
        extra = sorted(str(k) for k in set(v) - set(schema.get("properties", {})))  # a Python caller's keys: any type
        return _unknown_field(path, extra, schema, list(error.absolute_path))
    elif kw == "maxLength":
        msg = f"is longer than {rv} characters"
    elif kw == "minLength":
        msg = f"is shorter than {rv} character{'s' if rv != 1 else ''}"
    elif kw == "format":
        msg = f"{value} is not a valid {rv}"
    elif kw == "pattern":
        msg = "holds a control character (U+0000-U+001F or U+007F)" if "u0000" in rv else f"{value} does not match {rv}"
    else:
        msg = error.message
    return Problem("invalid_facts", msg, path, pointer=json_pointer(error.absolute_path))


def _unknown_field(path: str, extra: list[str], schema: dict[str, Any], at: list[Any]) -> Problem:
    name = extra[0]
    full = f"{path}.{name}" if path else name
    hint = did_you_mean(name, list(schema.get("properties", {})))
    more = f" (and {len(extra) - 1} more: {', '.join(extra[1:])})" if len(extra) > 1 else ""
    return Problem("invalid_facts", f"unknown field{hint}{more}", full, pointer=json_pointer([*at, name]))


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


def facts_problems(facts: Any) -> list[Problem]:
    """Every problem with these facts (the schema's, cross-field checks included), sorted by path."""
    schema = load_schema("session-facts")
    try:
        problems = [_describe_fact_error(e, schema) for e in validator("session-facts").iter_errors(facts)]
    except RecursionError:  # only a Python caller nests this deep (strict JSON refuses it first)
        return [Problem("invalid_facts", "nests too deeply: facts are sections of values, two levels deep")]
    return sorted(problems + _non_finite(facts), key=lambda p: (p.path, p.message))


def _describe_fact_error(error: ValidationError, schema: dict[str, Any]) -> Problem:
    clause = clause_of(error, schema)
    if clause is None:
        return describe_error(error)
    return cross_field_problem(clause, error, json_pointer(error.absolute_path))


def validate_facts(facts: Any) -> None:
    """Raise FactsError listing every problem, sorted by path."""
    problems = facts_problems(facts)
    if problems:
        raise FactsError(problems)


@dataclass(frozen=True)
class _DefaultPlan:
    sections: tuple[tuple[str, dict[str, Any]], ...]
    copied: tuple[tuple[str, str, str, str], ...]  # (section, name) <- (section, name)
    numeric: tuple[tuple[str, str], ...]


@cache
def _default_plan() -> _DefaultPlan:
    sections: dict[str, dict[str, Any]] = {}
    copied, numeric = [], []
    for spec in fact_catalogue().values():
        section, name = spec.path.split(".", 1)
        sections.setdefault(section, {})
        if spec.has_default:
            sections[section][name] = spec.default
        if spec.default_from:
            src_section, src_name = spec.default_from.split(".", 1)
            copied.append((section, name, src_section, src_name))
        if spec.numeric:
            numeric.append((section, name))
    return _DefaultPlan(tuple(sections.items()), tuple(copied), tuple(numeric))


def apply_defaults(facts: dict[str, Any]) -> dict[str, Any]:
    """A new dict of valid facts with every schema default filled in, nulls removed, whole floats as ints."""
    plan = _default_plan()
    out: dict[str, dict[str, Any]] = {}
    for section, defaults in plan.sections:
        sent = facts.get(section)
        merged = {**defaults, **sent} if sent else dict(defaults)
        out[section] = merged
    for section, name, src_section, src_name in plan.copied:
        values = out[section]
        if values.get(name) is None and src_name in out[src_section]:
            values[name] = out[src_section][src_name]
    for section, name in plan.numeric:
        values = out[section]
        v = values.get(name, 0)
        if v is None:
            del values[name]  # null means unknown: the same as not sent
        elif isinstance(v, float) and v.is_integer():
            values[name] = int(v)  # 9.0 and 9 are one value: same memo key, same JSON
    return out


def prepare_facts(facts: Any) -> dict[str, Any]:
    """Validate (fast path first, jsonschema for the error list), then apply defaults."""
    if not facts_ok(facts):
        validate_facts(facts)
    return apply_defaults(facts)


def get_path(facts: dict[str, Any], path: str) -> tuple[bool, Any]:
    """(present, value) of a dotted path."""
    section, name = path.split(".", 1)
    sub = facts.get(section)
    if isinstance(sub, dict) and name in sub:
        return True, sub[name]
    return False, None
