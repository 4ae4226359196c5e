"""Strict JSON reading for facts: no NaN/Infinity, no duplicate keys, bounded depth."""

from __future__ import annotations

import json
from typing import Any

from .errors import FactsError, Problem

__all__ = ["loads_strict"]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def loads_strict(text: str | bytes) -> Any:
    """Parse JSON or raise FactsError(code `malformed_json`) saying where and why."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _error(f"body is not valid UTF-8 (byte {e.start})") from e
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise _error(f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from e
    except RecursionError as e:
        # The C scanner stops itself on deep nesting; the facts schema allows 2 levels anyway.
        raise _error("JSON nests too deeply") from e
    except ValueError as e:
        raise _error(f"malformed JSON: {e}") from e


def _error(message: str) -> FactsError:
    err = FactsError([Problem("malformed_json", message, "")])
    err.code = "malformed_json"
    return err
