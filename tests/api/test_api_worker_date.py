"""The serving worker's Date header: gunicorn's format, formatted once per second, never stale by a second."""

from __future__ import annotations

import email.utils
import subprocess
import sys

import pytest

from api.gunicorn import buffered
from support.policies import ROOT


@pytest.mark.parametrize("now", [1_780_000_000.2, 1_780_000_000.9, 1_780_000_001.0, 0.5])
def test_the_date_is_the_current_seconds_http_date(monkeypatch: pytest.MonkeyPatch, now: float) -> None:
    monkeypatch.setattr(buffered, "_formatted", buffered._formatted)  # whatever an earlier test cached, restored
    monkeypatch.setattr(buffered.time, "time", lambda: now)
    assert buffered._http_date() == email.utils.formatdate(int(now), usegmt=True)


def test_a_new_second_gives_a_new_date_and_a_timestamp_is_formatted_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(buffered, "_formatted", buffered._formatted)
    clock = [1_780_000_000.5]
    monkeypatch.setattr(buffered.time, "time", lambda: clock[0])
    first = buffered._http_date()
    clock[0] += 1
    assert buffered._http_date() != first
    assert buffered._http_date(86_400) == "Fri, 02 Jan 1970 00:00:00 GMT"


def test_a_fresh_worker_formats_even_the_epoch_second() -> None:
    # The cache's first value must not pass for a second already formatted: it once returned "" for second 0, so
    # this file passed or failed depending on which case ran first. A fresh interpreter: the module as a worker has it.
    code = "import time; from api.gunicorn import buffered; time.time = lambda: 0.5; print(buffered._http_date())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "Thu, 01 Jan 1970 00:00:00 GMT"
