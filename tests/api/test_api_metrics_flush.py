"""Publishing metrics is rate-limited per request but forced for /metrics and at exit."""

from __future__ import annotations

import json

import pytest

from api.http.metrics import Metrics


def _published(directory) -> float:
    files = list(directory.glob("*.json"))
    if not files:
        return 0.0
    counters = json.loads(files[0].read_text())["counters"]
    return sum(v for _, _, v in counters)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# A freshly booted machine has a small time.monotonic(): the first flush must publish whatever the clock reads.
@pytest.mark.parametrize("boot", [0.0, 5.0, 1e6])
def test_per_request_flushes_are_rate_limited_and_forced_ones_are_not(tmp_path, boot):
    clock = Clock(boot)
    m = Metrics(str(tmp_path), flush_interval_s=3600, clock=clock)
    m.inc("attendance_decisions_total", {"policy": "p"})
    m.flush(force=False)  # first one publishes
    m.inc("attendance_decisions_total", {"policy": "p"})
    clock.now += 3599
    m.flush(force=False)  # within the interval: skipped
    assert _published(tmp_path) == 1
    m.flush()  # forced (what /metrics and a worker's exit do)
    assert _published(tmp_path) == 2
    m.inc("attendance_decisions_total", {"policy": "p"})
    clock.now += 3600
    m.flush(force=False)  # the interval has passed since the forced flush: publishes
    assert _published(tmp_path) == 3


def test_interval_zero_publishes_after_every_request(tmp_path):
    m = Metrics(str(tmp_path), flush_interval_s=0)
    for n in range(1, 4):
        m.inc("attendance_decisions_total", {"policy": "p"})
        m.flush(force=False)
        assert _published(tmp_path) == n
