"""Strict JSON for facts: no NaN/Infinity, duplicate keys, lone surrogates or control characters; bounded depth."""

from __future__ import annotations

import json
import re
from typing import Any

from engine.core.errors import MalformedJSONError

__all__ = ["MAX_FACTS_BYTES", "loads_strict"]

# The most one session's facts may take as JSON: the service's `limits.max_body_bytes` default (the setting
# refers to this) and all that `attendance-policy eval` reads. Real facts are well under 2 KiB.
MAX_FACTS_BYTES = 64 * 1024


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


# JSON escapes can put two kinds of text in a str that no field of ours may hold: a lone UTF-16
# surrogate ("\\ud800"), which cannot be written as UTF-8 (to the decision log, in a response), and
# control characters ("\\u0000", "\\n"), which make two ids look alike (SQLite tools, C strings and
# terminals stop or break at them). Raw control bytes but DEL are refused by the parser already; only
# an escape (or DEL) produces either, so documents without one skip the walk.
_SUSPECT_ESCAPE = re.compile(r"\\(?:u[dD][89a-fA-F]|u00[01]|u007[fF]|[bfnrt])|\x7f")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _bad_text(value: Any) -> str | None:
    """Why a string (key or value) in a parsed document is not acceptable text, or None."""
    stack = [value]
    while stack:  # iterative: the document may nest as deep as the parser allowed
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return "a string holds an unpaired surrogate escape (\\ud800-\\udfff), which is not Unicode text"
            if _CONTROL.search(item):
                return "a string holds a control character (U+0000-U+001F or U+007F)"
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def loads_strict(text: str | bytes) -> Any:
    """Parse JSON or raise MalformedJSONError saying where and why."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _error(f"body is not valid UTF-8 (byte {e.start})") from e
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise _error(f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from e
    except RecursionError as e:
        # The C scanner stops itself on deep nesting; the facts schema allows 2 levels anyway.
        raise _error("JSON nests too deeply") from e
    except ValueError as e:
        raise _error(f"malformed JSON: {e}") from e
    reason = _bad_text(value) if _SUSPECT_ESCAPE.search(text) else None
    if reason:
        raise _error(f"malformed JSON: {reason}")
    return value


def _error(message: str) -> MalformedJSONError:
    return MalformedJSONError(message)
