"""What a JSON Schema error about one value means, in words a clinical director uses."""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any, cast

from jsonschema.exceptions import ValidationError

from engine.core.suggest import did_you_mean
from engine.facts.prepare import fact_catalogue

__all__ = ["date_message", "value_message"]

_TYPES = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true/false",
          "array": "a list", "object": "a mapping (`key: value` lines)", "null": "empty"}
_DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# The schema's patterns, by what they name and how to write one.
_PATTERNS = {
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$": ("a version", "write MAJOR.MINOR.PATCH, e.g. 1.1.0"),
    "^[A-Z][A-Z0-9]*-[0-9]{3,4}$": ("a rule id", "write capital letters, a dash and 3 or 4 digits, e.g. CA-010"),
    "^[a-z][a-z0-9_]{0,62}$": ("a name", "use lowercase letters, digits and _, starting with a letter"),
    "^[a-z][a-z0-9-]{0,62}$": ("a policy id", "use lowercase letters, digits and -, e.g. couples-attendance"),
    r"^[a-z_]+(\.[a-z_]+)+$": ("a fact", "write section.name in lowercase, e.g. attendance.partners_present"),
}
_SLASHED = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*$")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def value_message(err: ValidationError) -> str:
    """The error as a sentence about the value (its place is given separately)."""
    kw, v, bound = str(err.validator), err.instance, cast(Any, err.validator_value)
    name = _field(tuple(err.absolute_path))
    if (kw == "format" and bound == "date") or (kw == "pattern" and bound == _DATE_PATTERN):
        return date_message(v)
    if kw == "type":
        return _wrong_type(name, [bound] if isinstance(bound, str) else list(bound), v)
    if kw == "oneOf":  # written in none of the shapes (see schema_check._headlines): say which are allowed
        types = [t for e in err.context for t in _listed(e.validator_value)]
        return _wrong_type(name, list(dict.fromkeys(types)), v)
    if kw == "enum":
        hint = did_you_mean(v, [str(x) for x in bound]) if isinstance(v, str) else ""
        return f"{v!r} is not one of: {', '.join(str(x) for x in bound)}{hint}"
    if kw == "pattern" and bound in _PATTERNS and isinstance(v, str):
        return _pattern(bound, v)
    return _bounds(kw, name, v, bound) or _generic(err)


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _field(path: tuple[Any, ...]) -> str:
    names = [p for p in path if isinstance(p, str)]
    if not names:
        return "the file" if not path else "the item"
    return f"`{names[-1]}`" if isinstance(path[-1], str) else f"each item of `{names[-1]}`"


def _what(v: Any) -> str:
    if v is None:
        return "empty"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return f"the number {v}"
    if isinstance(v, str):
        return f"text ({_short(v)})"
    return "a list" if isinstance(v, list) else "a mapping"


def _wrong_type(name: str, expected: list[str], v: Any) -> str:
    words = [_TYPES.get(t, t) for t in expected if not (t == "integer" and "number" in expected)]
    want = " or ".join(words) if len(words) < 3 else ", ".join(words[:-1]) + " or " + words[-1]
    if v is None:
        return f"{name} is empty: write {want}"
    message = f"{name} must be {want}, not {_what(v)}"
    if "string" in expected and isinstance(v, (dict, list)):
        opener = "{" if isinstance(v, dict) else "["
        return f"{message}; a value that starts with {opener} is read as {_what(v)}: put it in quotes"
    if "string" in expected and isinstance(v, (bool, int, float)):
        return f"{message}; put it in quotes to make it text"
    if {"integer", "number"} & set(expected) and isinstance(v, str) and re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", v):
        return f"{message}; write it without quotes"
    return message


def _pattern(pattern: str, v: str) -> str:
    what, how = _PATTERNS[pattern]
    if what == "a name":
        guess = re.sub(r"[^a-z0-9_]+", "_", v.strip().lower()).strip("_")
        how += f", e.g. {guess}" if guess and guess[0].isalpha() else ", e.g. review_after_missed"
    if what == "a fact":
        how += did_you_mean(v.strip().lower(), fact_catalogue())
    return f"{v!r} is not {what}: {how}"


def _bounds(kw: str, name: str, v: Any, bound: Any) -> str | None:
    if kw == "minLength":
        return f"{name} is empty" if bound == 1 else f"{name} is shorter than {bound} characters"
    if kw == "maxLength":
        return f"{name} is too long: {len(v)} characters, at most {bound}"
    if kw in ("minimum", "maximum"):
        return f"{name} is {v}; the {'smallest' if kw == 'minimum' else 'largest'} allowed is {bound}"
    if kw in ("maxItems", "minItems") and isinstance(v, list):
        which, most = ("long", "at most") if kw == "maxItems" else ("short", "at least")
        return f"the list is too {which}: {len(v)} items, {most} {bound} allowed"
    if kw == "uniqueItems" and isinstance(v, list):
        twice = next((x for i, x in enumerate(v) if x in v[:i]), None)
        return f"{twice!r} is listed twice in {name}"
    if kw in ("minProperties", "maxProperties") and isinstance(v, dict):
        return (f"{name} is empty: it needs at least {bound}" if kw == "minProperties"
                else f"{name} has {len(v)} entries, at most {bound}")
    return None


def _generic(err: ValidationError) -> str:
    # jsonschema quotes the whole offending value: keep a message readable when the value is huge.
    text, shown = err.message, repr(err.instance)
    if len(shown) > 80 and shown in text:
        text = text.replace(shown, _short(err.instance))
    return text if len(text) <= 300 else text[:297] + "..."


def _short(value: Any) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else f"a {len(value)}-character text ({value[:20]!r}...)"
    if isinstance(value, dict):
        return f"a mapping of {len(value)} keys"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return repr(value)[:60] + "..."


def date_message(value: Any) -> str:
    """How to write a date, with the reader's own date rewritten when it can be read (07/12/2026)."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        return f"{value!r} is not a real date: write the date as YYYY-MM-DD, e.g. 2026-12-07"
    m = _SLASHED.match(value) if isinstance(value, str) else None
    readings = []
    for day, month in ((1, 2), (2, 1)):
        if m is None:
            break
        try:
            readings.append(_dt.date(int(m.group(3)), int(m.group(month)), int(m.group(day))))
        except ValueError:
            continue
    readings = list(dict.fromkeys(readings))
    if not readings:
        return f"{value!r} is not a date: write the date as YYYY-MM-DD, e.g. 2026-12-07"
    said = " (or ".join(f"{d.isoformat()} for {d.day} {_MONTHS[d.month - 1]} {d.year}" for d in readings)
    return f"{value!r} is not written as YYYY-MM-DD: write {said}{')' if len(readings) > 1 else ''}"
