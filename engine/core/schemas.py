"""The JSON Schemas in `schemas/`: read once, checked once, shared by everyone."""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

SCHEMA_DIR = Path(os.environ.get("ATTENDANCE_POLICY_SCHEMAS", Path(__file__).resolve().parents[2] / "schemas"))

FORMAT_CHECKER = FormatChecker(formats=())


# RFC 3339 exactly: Python's fromisoformat also takes week dates, basic format, hour-only times,
# comma fractions and `+01` offsets, so the shape is checked first and the ranges by fromisoformat.
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII)


@FORMAT_CHECKER.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    _dt.date.fromisoformat(value)
    return _DATE.fullmatch(value) is not None


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    m = _DATE_TIME.fullmatch(value)
    if m is None:
        raise ValueError("not an RFC 3339 date-time (e.g. 2026-01-31T18:00:00Z)")
    day, minutes, seconds, fraction, zone = m.groups()
    seconds = "59" if seconds == "60" else seconds  # a leap second is valid RFC 3339; datetime has none
    zone = "+00:00" if zone in ("Z", "z") else zone
    _dt.datetime.fromisoformat(f"{day}T{minutes}:{seconds}{(fraction or '')[:7]}{zone}")  # ranges
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
