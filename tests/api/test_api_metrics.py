"""Metrics: text format, and counts summed over workers (and kept when a worker is retired)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from api.http.metrics import RETIRED, Metrics, render_text, retire
from support.metrics import families, sample


def _sample(m: Metrics) -> None:
    m.inc("attendance_decisions_total", {"policy": "p", "version": "1.0.0", "outcome": "info"})
    m.inc("attendance_errors_total", {"code": 'we"ird\\co\nde'})
    m.observe("attendance_http_request_duration_seconds", {"route": "/x"}, 0.003)
    m.observe("attendance_http_request_duration_seconds", {"route": "/x"}, 20.0)


def test_text_format_parses_with_prometheus_clients_parser() -> None:
    m = Metrics()
    _sample(m)
    text = m.render()
    assert sample(text, "attendance_decisions_total", outcome="info", policy="p", version="1.0.0") == 1
    assert sample(text, "attendance_errors_total", code='we"ird\\co\nde') == 1  # escaped and read back
    bucket = "attendance_http_request_duration_seconds_bucket"
    assert [sample(text, bucket, route="/x", le=le) for le in ("0.0025", "0.005", "10.0", "+Inf")] == [0, 1, 1, 2]
    assert sample(text, "attendance_http_request_duration_seconds_sum", route="/x") == 20.003
    assert sample(text, "attendance_http_request_duration_seconds_count", route="/x") == 2
    assert families(text)["attendance_http_requests"] == "counter"


def test_empty_families_are_still_declared() -> None:
    assert families(render_text({"counters": [], "histograms": []})) == {
        "attendance_decisions": "counter", "attendance_errors": "counter", "attendance_http_requests": "counter",
        "attendance_http_request_duration_seconds": "histogram", "attendance_policy_reloads": "counter"}


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
    assert sample(before, "attendance_decisions_total", outcome="info", policy="p", version="1.0.0") == 3
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
    assert sample(m.render(), "attendance_errors_total", code="x") == 1
