"""Metrics: text format, and counts summed over workers (and kept when a worker is retired)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from api.http.metrics import RETIRED, Metrics, render_text, retire


def _sample(m: Metrics) -> None:
    m.inc("attendance_decisions_total", {"policy": "p", "version": "1.0.0", "outcome": "info"})
    m.inc("attendance_errors_total", {"code": 'we"ird\\co\nde'})
    m.observe("attendance_http_request_duration_seconds", {"route": "/x"}, 0.003)
    m.observe("attendance_http_request_duration_seconds", {"route": "/x"}, 20.0)


def test_text_format() -> None:
    m = Metrics()
    _sample(m)
    lines = m.render().splitlines()
    assert 'attendance_decisions_total{outcome="info",policy="p",version="1.0.0"} 1' in lines
    assert 'attendance_errors_total{code="we\\"ird\\\\co\\nde"} 1' in lines
    assert 'attendance_http_request_duration_seconds_bucket{route="/x",le="0.0025"} 0' in lines
    assert 'attendance_http_request_duration_seconds_bucket{route="/x",le="0.005"} 1' in lines
    assert 'attendance_http_request_duration_seconds_bucket{route="/x",le="10.0"} 1' in lines
    assert 'attendance_http_request_duration_seconds_bucket{route="/x",le="+Inf"} 2' in lines
    assert 'attendance_http_request_duration_seconds_sum{route="/x"} 20.003' in lines
    assert 'attendance_http_request_duration_seconds_count{route="/x"} 2' in lines
    assert "# TYPE attendance_http_requests_total counter" in lines


def test_empty_families_are_still_declared() -> None:
    text = render_text({"counters": [], "histograms": []})
    assert text.count("# TYPE ") == 5


def _worker_file(directory: Path, pid: int, m: Metrics) -> None:
    (directory / f"{pid}.json").write_text(json.dumps(m.snapshot()))


def test_workers_are_summed_and_retired_counts_are_kept(tmp_path: Path) -> None:
    other = Metrics()
    _sample(other)
    _worker_file(tmp_path, 999_991, other)
    _worker_file(tmp_path, 999_992, other)
    mine = Metrics(str(tmp_path))
    _sample(mine)
    before = mine.render()
    assert 'attendance_decisions_total{outcome="info",policy="p",version="1.0.0"} 3' in before.splitlines()
    retire(str(tmp_path), 999_991)
    retire(str(tmp_path), 999_992)
    retire(str(tmp_path), 999_993)  # a worker that never wrote anything
    assert not (tmp_path / "999991.json").exists() and (tmp_path / RETIRED).exists()
    assert mine.render() == before
    assert (tmp_path / f"{os.getpid()}.json").exists()


@pytest.mark.parametrize("junk", ["", "{", "[]", "null"])
def test_unreadable_snapshot_is_skipped(tmp_path: Path, junk: str) -> None:
    (tmp_path / "123.json").write_text(junk)
    m = Metrics(str(tmp_path))
    m.inc("attendance_errors_total", {"code": "x"})
    assert 'attendance_errors_total{code="x"} 1' in m.render().splitlines()
