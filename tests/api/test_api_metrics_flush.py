"""Publishing metrics is rate-limited per request but forced for /metrics and at exit."""

from __future__ import annotations

import json

from api.metrics import Metrics


def _published(directory) -> float:
    files = list(directory.glob("*.json"))
    if not files:
        return 0.0
    counters = json.loads(files[0].read_text())["counters"]
    return sum(v for _, _, v in counters)


def test_per_request_flushes_are_rate_limited_and_forced_ones_are_not(tmp_path):
    m = Metrics(str(tmp_path), flush_interval_s=3600)
    m.inc("attendance_decisions_total", {"policy": "p"})
    m.flush(force=False)  # first one publishes
    m.inc("attendance_decisions_total", {"policy": "p"})
    m.flush(force=False)  # within the interval: skipped
    assert _published(tmp_path) == 1
    m.flush()  # forced (what /metrics and a worker's exit do)
    assert _published(tmp_path) == 2


def test_interval_zero_publishes_after_every_request(tmp_path):
    m = Metrics(str(tmp_path), flush_interval_s=0)
    for n in range(1, 4):
        m.inc("attendance_decisions_total", {"policy": "p"})
        m.flush(force=False)
        assert _published(tmp_path) == n
