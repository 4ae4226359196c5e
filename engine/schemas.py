"""The JSON Schemas in `schemas/`: read once, checked once, shared by everyone."""

from __future__ import annotations

import datetime as _dt
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

SCHEMA_DIR = Path(os.environ.get("ATTENDANCE_POLICY_SCHEMAS", Path(__file__).resolve().parent.parent / "schemas"))

FORMAT_CHECKER = FormatChecker(formats=())


@FORMAT_CHECKER.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    _dt.date.fromisoformat(value)
    return len(value) == 10


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    # RFC 3339 requires a time zone ("Z" or an offset); fromisoformat alone does not.
    if not isinstance(value, str):
        return True
    parsed = _dt.datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    if parsed.tzinfo is None or "T" not in value.upper():
        raise ValueError("RFC 3339 date-time needs a 'T' and a time zone")
    return True


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Read `schemas/<name>.schema.json` and check that it is a valid 2020-12 schema."""
    with open(SCHEMA_DIR / f"{name}.schema.json", encoding="utf-8") as fh:
        schema = json.load(fh)
    Draft202012Validator.check_schema(schema)
    return schema


@cache
def validator(name: str) -> Draft202012Validator:
    """A compiled validator for one of our schemas (built once per process)."""
    return Draft202012Validator(load_schema(name), format_checker=FORMAT_CHECKER)
