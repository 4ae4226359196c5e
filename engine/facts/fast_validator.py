"""A fast yes/no check of session facts (and of our other schemas): jsonschema-rs, with our formats.

jsonschema is thorough and slow (~90 us per document here). Nearly every request is valid, so
the hot path asks jsonschema-rs (the Rust validator, built once from the same schema file) and
calls jsonschema only when the answer is no, to list every problem with a readable message.
The two must agree, so jsonschema-rs checks exactly the formats jsonschema checks, with the same
functions (`engine.core.schemas.FORMAT_CHECKER`: its own RFC 3339 reading differs, e.g. on
ten fraction digits and on `:60` before 23:59), and ignores every other format, as jsonschema
does. A value it cannot read (a non-text key, a set, bytes, a lone surrogate, from a Python
caller) is "not certainly valid": jsonschema decides. Tests compare the two on generated,
mutated and hostile input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jsonschema_rs

from engine.core.schemas import FORMAT_CHECKER, load_schema

__all__ = ["Check", "build_checker", "checker_for", "facts_ok"]

Check = Callable[[Any], bool]


def _formats_in(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        fmt = schema.get("format")
        if isinstance(fmt, str):
            yield fmt
        for value in schema.values():
            yield from _formats_in(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _formats_in(value)


def _format(name: str) -> Callable[[str], bool]:
    if name in FORMAT_CHECKER.checkers:
        return lambda value: FORMAT_CHECKER.conforms(value, name)
    return lambda value: True  # jsonschema's checker knows only ours: any other format is an annotation


def checker_for(schema: dict[str, Any]) -> Check | None:
    """A predicate that is True only when jsonschema finds no error; None if jsonschema-rs cannot build it."""
    formats = {name: _format(name) for name in set(_formats_in(schema))}
    try:
        is_valid = jsonschema_rs.validator_for(schema, formats=formats, validate_formats=True).is_valid
    except (ValueError, jsonschema_rs.ValidationError):
        return None

    def check(value: Any) -> bool:
        try:
            return is_valid(value)
        except (ValueError, TypeError, OverflowError, RecursionError):  # UnicodeEncodeError is a ValueError
            return False

    return check


def build_checker(name: str = "session-facts") -> Check:
    """The fast check of one of our schemas (they are all within what jsonschema-rs implements)."""
    check = checker_for(load_schema(name))
    if check is None:
        raise ValueError(f"jsonschema-rs cannot build a validator for {name}")
    return check


_CHECK: Check | None = None


def facts_ok(facts: Any) -> bool:
    """The fast path: True when the facts are certainly valid (NaN and infinities are never valid)."""
    global _CHECK
    if _CHECK is None:
        _CHECK = build_checker()
    return _CHECK(facts)
