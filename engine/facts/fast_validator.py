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
import re
from collections.abc import Callable
from typing import Any

from engine.core.errors import PolicyError
from engine.core.schemas import FORMAT_CHECKER, load_schema

__all__ = ["build_checker", "checker_for", "facts_ok"]

Check = Callable[[Any], bool]

_SUPPORTED = {"type", "enum", "minimum", "maximum", "minLength", "maxLength", "format", "required",
              "additionalProperties", "properties", "default", "x-default-from", "title", "description",
              "$schema", "$id", "pattern", "x-cross-field-checks", "allOf", "if", "then", "else", "const",
              "x-cross-field-check"}
_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class UnsupportedSchema(PolicyError):
    """The facts schema uses a keyword this checker does not implement (jsonschema alone then decides)."""

    code, title = "unsupported_schema", "Facts schema keyword not supported by the fast check"

    def __init__(self, keywords: list[str]) -> None:
        super().__init__(f"unsupported keywords {keywords}")
        self.keywords = keywords


def _node(schema: dict[str, Any]) -> Check:
    unknown = set(schema) - _SUPPORTED
    if unknown:
        raise UnsupportedSchema(sorted(unknown))
    checks: list[Check] = []
    names = [schema["type"]] if isinstance(schema.get("type"), str) else schema.get("type", [])
    if names:
        tests = [_TYPES[n] for n in names]
        checks.append(tests[0] if len(tests) == 1 else lambda v: any(t(v) for t in tests))
    if "enum" in schema:
        checks.append(_enum(schema["enum"]))
    checks.extend(_bounds(schema, numeric=bool(names) and set(names) <= {"integer", "number"}))
    if "format" in schema:
        fmt = schema["format"]
        checks.append(lambda v: not isinstance(v, str) or FORMAT_CHECKER.conforms(v, fmt))
    if "pattern" in schema:
        search = re.compile(schema["pattern"]).search
        checks.append(lambda v: not isinstance(v, str) or search(v) is not None)
    if "const" in schema:
        checks.append(_const(schema["const"]))
    if "properties" in schema or "required" in schema:
        checks.append(_object(schema))
    checks.extend(_node(sub) for sub in schema.get("allOf", ()))
    if "if" in schema:
        checks.append(_conditional(schema))
    return _all(checks)


def _const(expected: Any) -> Check:
    # JSON equality: 1 and 1.0 are one number, true is no number.
    if _number(expected):
        return lambda v: _number(v) and v == expected
    return lambda v: v == expected and type(v) is type(expected)


def _conditional(schema: dict[str, Any]) -> Check:
    """if/then/else: a missing branch holds."""
    test = _node(schema["if"])
    then = _node(schema["then"]) if "then" in schema else None
    other = _node(schema["else"]) if "else" in schema else None
    return lambda v: (then is None or then(v)) if test(v) else (other is None or other(v))


def _all(checks: list[Check]) -> Check:
    """One predicate that is the conjunction of `checks` (unrolled: this runs for every fact of every request)."""
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        a, b = checks
        return lambda v: a(v) and b(v)
    if len(checks) == 3:
        a, b, c = checks
        return lambda v: a(v) and b(v) and c(v)
    return lambda v: all(c(v) for c in checks)


def _enum(allowed: list[Any]) -> Check:
    # Same type and value (True is not 1): a set of (type, value) when every member is hashable.
    try:
        members = frozenset((type(a), a) for a in allowed)
    except TypeError:
        return lambda v: any(v == a and type(v) is type(a) for a in allowed)

    def check(v: Any) -> bool:
        try:
            return (type(v), v) in members
        except TypeError:  # an unhashable value (list, object) is in no enum of hashable members
            return False

    return check


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _bounds(schema: dict[str, Any], *, numeric: bool) -> list[Check]:
    """minimum/maximum (NaN fails both), minLength/maxLength. `numeric`: the type check before
    this one already guarantees a number, so the bound is a plain comparison."""
    out: list[Check] = []
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if numeric and (lo is not None or hi is not None):
        low = -math.inf if lo is None else lo
        high = math.inf if hi is None else hi
        inf = math.inf
        out.append(lambda v: low <= v <= high and (type(v) is int or -inf < v < inf))
    else:
        if lo is not None:
            out.append(lambda v: not _number(v) or (not _nan(v) and v >= lo))
        if hi is not None:
            out.append(lambda v: not _number(v) or (not _nan(v) and v <= hi))
    if "minLength" in schema or "maxLength" in schema:
        n, m = schema.get("minLength", 0), schema.get("maxLength", math.inf)
        out.append(lambda v: not isinstance(v, str) or n <= len(v) <= m)
    return out


def _nan(v: Any) -> bool:
    return isinstance(v, float) and not math.isfinite(v)


def _object(schema: dict[str, Any]) -> Check:
    props = {k: _node(s) for k, s in schema.get("properties", {}).items()}
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


def checker_for(schema: dict[str, Any]) -> Check | None:
    """A fast predicate for any schema within the supported keywords, None for one beyond them."""
    try:
        return _node(schema)
    except UnsupportedSchema:
        return None


_CHECK: Check | None = None


def facts_ok(facts: Any) -> bool:
    """The fast path: True when the facts are certainly valid."""
    global _CHECK
    if _CHECK is None:
        _CHECK = build_checker()
    return _CHECK(facts)
