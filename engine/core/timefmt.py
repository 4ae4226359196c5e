"""RFC 3339 timestamps in UTC with a `Z`: one way to write them and one way to read them back."""

from __future__ import annotations

import datetime as _dt

__all__ = ["from_epoch", "parse", "utc_text"]


def utc_text(moment: _dt.datetime, timespec: str = "auto") -> str:
    """`2026-11-28T10:00:00.123456Z` (an aware datetime; `timespec` as for `isoformat`)."""
    return moment.astimezone(_dt.UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def from_epoch(seconds: float, timespec: str = "milliseconds") -> str:
    """A `time.time()` value as RFC 3339 UTC text."""
    return utc_text(_dt.datetime.fromtimestamp(seconds, _dt.UTC), timespec)


def parse(text: str) -> _dt.datetime:
    """RFC 3339 text (`Z`, `z` or an offset) -> an aware datetime; ValueError without a time zone."""
    parsed = _dt.datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("a time zone is required")
    return parsed
