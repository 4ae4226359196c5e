"""A fast yes/no check of session facts, built once from the facts schema.

jsonschema is thorough and slow (~90 us per document here). Nearly every
request is valid, so the hot path asks this checker first (a few us) and
calls jsonschema only when the answer is no, to list every problem with a
readable message. The checker is built from the same schema file and
refuses to build if the schema uses a keyword it does not implement, so
the two can never drift apart silently (tests compare them on generated
input).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .schemas import FORMAT_CHECKER, load_schema

__all__ = ["build_checker", "facts_ok"]

Check = Callable[[Any], bool]

_SUPPORTED = {"type", "enum", "minimum", "maximum", "minLength", "maxLength", "format", "required",
              "additionalProperties", "properties", "default", "x-default-from", "title", "description",
              "$schema", "$id"}
_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class UnsupportedSchema(Exception):
    """The facts schema uses a keyword this checker does not implement."""


def _node(schema: dict[str, Any]) -> Check:
    unknown = set(schema) - _SUPPORTED
    if unknown:
        raise UnsupportedSchema(f"unsupported keywords {sorted(unknown)}")
    checks: list[Check] = []
    if "type" in schema:
        names = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
        tests = [_TYPES[n] for n in names]
        checks.append(lambda v: any(t(v) for t in tests))
    if "enum" in schema:
        allowed = schema["enum"]
        checks.append(lambda v: any(v == a and type(v) is type(a) for a in allowed))
    checks.extend(_bounds(schema))
    if "format" in schema:
        fmt = schema["format"]
        checks.append(lambda v: not isinstance(v, str) or FORMAT_CHECKER.conforms(v, fmt))
    if "properties" in schema:
        checks.append(_object(schema))
    return lambda v: all(c(v) for c in checks)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _bounds(schema: dict[str, Any]) -> list[Check]:
    out: list[Check] = []
    if "minimum" in schema:
        lo = schema["minimum"]
        out.append(lambda v: not _number(v) or (not _nan(v) and v >= lo))
    if "maximum" in schema:
        hi = schema["maximum"]
        out.append(lambda v: not _number(v) or (not _nan(v) and v <= hi))
    if "minLength" in schema:
        n = schema["minLength"]
        out.append(lambda v: not isinstance(v, str) or len(v) >= n)
    if "maxLength" in schema:
        m = schema["maxLength"]
        out.append(lambda v: not isinstance(v, str) or len(v) <= m)
    return out


def _nan(v: Any) -> bool:
    return isinstance(v, float) and not math.isfinite(v)


def _object(schema: dict[str, Any]) -> Check:
    props = {k: _node(s) for k, s in schema["properties"].items()}
    required = tuple(schema.get("required", ()))
    closed = schema.get("additionalProperties", True) is False

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True  # "type" says whether it must be an object
        for key in required:
            if key not in v:
                return False
        for key, value in v.items():
            sub = props.get(key)
            if sub is None:
                if closed:
                    return False
            elif not sub(value):
                return False
        return True

    return check


def build_checker(name: str = "session-facts") -> Check:
    """A predicate that is True exactly when jsonschema finds no error (and no non-finite number)."""
    return _node(load_schema(name))


_CHECK: Check | None = None


def facts_ok(facts: Any) -> bool:
    """The fast path: True when the facts are certainly valid."""
    global _CHECK
    if _CHECK is None:
        _CHECK = build_checker()
    return _CHECK(facts)
