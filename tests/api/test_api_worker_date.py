"""The serving worker's Date header: gunicorn's format, formatted once per second, never stale by a second."""

from __future__ import annotations

import email.utils

import pytest

from api.gunicorn import buffered


@pytest.mark.parametrize("now", [1_780_000_000.2, 1_780_000_000.9, 1_780_000_001.0, 0.5])
def test_the_date_is_the_current_seconds_http_date(monkeypatch: pytest.MonkeyPatch, now: float) -> None:
    monkeypatch.setattr(buffered.time, "time", lambda: now)
    assert buffered._http_date() == email.utils.formatdate(int(now), usegmt=True)


def test_a_new_second_gives_a_new_date_and_a_timestamp_is_formatted_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_780_000_000.5]
    monkeypatch.setattr(buffered.time, "time", lambda: clock[0])
    first = buffered._http_date()
    clock[0] += 1
    assert buffered._http_date() != first
    assert buffered._http_date(86_400) == "Fri, 02 Jan 1970 00:00:00 GMT"
