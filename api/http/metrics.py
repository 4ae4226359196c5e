"""Prometheus text-format metrics (written by prometheus_client), summed over every gunicorn worker.

Each worker keeps its counters in memory and publishes them (at most once per
`server.metrics_flush_ms`, and always on `/metrics` and at exit) by replacing its own
snapshot file `<metrics_dir>/<pid>.json`. `/metrics` (answered by whichever worker)
sums every snapshot. When a worker exits, the master folds its snapshot into
`retired.json` (`retire`), so counters never go down when workers are recycled.
Without a metrics directory (tests, a single process) the numbers are per process.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from api.pid import pid
from engine.core.files import atomic_write_text, flocked, read_json_object

__all__ = ["BUCKETS", "FAMILIES", "Metrics", "retire"]

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FAMILIES: dict[str, tuple[str, str]] = {
    "attendance_decisions_total": (
        "counter", "Decisions returned (and logged), by policy, version and outcome (the most severe indicator)."),
    "attendance_errors_total": ("counter", "Problem responses (and failed batch items), by error code."),
    "attendance_http_requests_total": ("counter", "HTTP requests, by method, route and status."),
    "attendance_http_request_duration_seconds": ("histogram", "Time to answer an HTTP request, by route."),
    "attendance_policy_reloads_total": (
        "counter", "Policy reload attempts, by outcome (reloaded, unchanged, failed) and trigger "
                   "(poll, sighup, api, adopt, start)."),
}
RETIRED = "retired.json"
_LOCK = ".lock"
Labels = tuple[tuple[str, str], ...]


class Metrics:
    """Counters and histograms of this process; `render()` is the text for `/metrics`."""

    def __init__(self, directory: str | None = None, flush_interval_s: float = 0.0, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.directory = Path(directory) if directory else None
        self.flush_interval_s = flush_interval_s
        self._clock = clock
        self._flushed_at: float | None = None  # never published: the first flush always publishes
        self._pid = pid()
        self._counters: dict[tuple[str, Labels], float] = {}
        self._histograms: dict[tuple[str, Labels], list[float]] = {}
        # The policy poller thread counts reloads while a request thread counts requests.
        self._lock = threading.RLock()

    def _mine(self) -> None:
        # A forked worker starts from zero: what the master counted is not the worker's.
        if self._pid != pid():
            self._pid = pid()
            self._counters.clear()
            self._histograms.clear()

    def inc(self, name: str, labels: dict[str, str], by: float = 1.0) -> None:
        with self._lock:
            self._mine()
            key = (name, tuple(sorted(labels.items())))
            self._counters[key] = self._counters.get(key, 0.0) + by

    def observe(self, name: str, labels: dict[str, str], value: float) -> None:
        with self._lock:
            self._mine()
            key = (name, tuple(sorted(labels.items())))
            h = self._histograms.setdefault(key, [0.0] * (len(BUCKETS) + 2))
            for i, bound in enumerate(BUCKETS):
                if value <= bound:
                    h[i] += 1
            h[-2] += value
            h[-1] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            self._mine()
            return {"counters": [[n, dict(lb), v] for (n, lb), v in self._counters.items()],
                    "histograms": [[n, dict(lb), list(h)] for (n, lb), h in self._histograms.items()]}

    def flush(self, *, force: bool = True) -> None:
        """Publish this worker's snapshot for the others (atomic replace, no lock needed).

        Per request (`force=False`) at most once per `flush_interval_s`: writing a file
        after every request cost more than deciding. `/metrics`, reloads and a worker's
        exit always publish; a worker killed outright loses at most one interval.
        """
        if self.directory is None:
            return
        now = self._clock()
        if not force and self._flushed_at is not None and now - self._flushed_at < self.flush_interval_s:
            return
        with self._lock:
            self._flushed_at = now
            self._mine()
            atomic_write_text(self.directory / f"{self._pid}.json", json.dumps(self.snapshot()))

    def render(self) -> str:
        snapshots = [self.snapshot()]
        if self.directory is not None:
            self.flush()
            with flocked(self.directory / _LOCK, shared=True):
                # a worker's file may vanish between listing and reading: it retired meanwhile
                snapshots = [s for s in map(read_json_object, sorted(self.directory.glob("*.json"))) if s]
        return render_text(merge(snapshots))


def merge(snapshots: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum snapshots series by series."""
    counters: dict[tuple[str, Labels], float] = {}
    histograms: dict[tuple[str, Labels], list[float]] = {}
    for snap in snapshots:
        for name, labels, value in snap.get("counters", []):
            key = (name, tuple(sorted(labels.items())))
            counters[key] = counters.get(key, 0.0) + value
        for name, labels, values in snap.get("histograms", []):
            key = (name, tuple(sorted(labels.items())))
            old = histograms.get(key, [0.0] * len(values))
            histograms[key] = [a + b for a, b in zip(old, values, strict=True)]
    return {"counters": [[n, dict(lb), v] for (n, lb), v in counters.items()],
            "histograms": [[n, dict(lb), h] for (n, lb), h in histograms.items()]}


def _by_labels(row: tuple[dict[str, str], Any]) -> list[tuple[str, str]]:
    return sorted(row[0].items())


class _Merged(Collector):
    """A prometheus_client collector over one merged snapshot: our files across workers, its text format.

    prometheus_client's own multiprocess mode is not used: it never compacts the files of recycled
    workers, while `retire` folds each exited worker into one file.
    """

    def __init__(self, merged: dict[str, Any]) -> None:
        self._merged = merged

    def collect(self) -> Iterable[Metric]:
        for family, (kind, help_text) in FAMILIES.items():
            if kind == "counter":
                counter = CounterMetricFamily(family, help_text)
                for lb, v in sorted(((lb, v) for n, lb, v in self._merged["counters"] if n == family), key=_by_labels):
                    counter.add_sample(family, {k: str(x) for k, x in lb.items()}, v)
                yield counter
            else:
                yield self._histogram(family, help_text)

    def _histogram(self, family: str, help_text: str) -> Metric:
        histogram = HistogramMetricFamily(family, help_text)
        for lb, h in sorted(((lb, h) for n, lb, h in self._merged["histograms"] if n == family), key=_by_labels):
            labels = {k: str(x) for k, x in lb.items()}
            for bound, count in zip(BUCKETS, h, strict=False):
                histogram.add_sample(f"{family}_bucket", {**labels, "le": repr(bound)}, count)
            histogram.add_sample(f"{family}_bucket", {**labels, "le": "+Inf"}, h[-1])
            histogram.add_sample(f"{family}_count", labels, h[-1])
            histogram.add_sample(f"{family}_sum", labels, h[-2])
        return histogram


def render_text(merged: dict[str, Any]) -> str:
    """The Prometheus text exposition format (version 0.0.4), written by prometheus_client."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged(merged))
    return generate_latest(registry).decode("utf-8")


def retire(directory: str, pid: int) -> None:
    """Fold an exited worker's snapshot into `retired.json` (run by the gunicorn master)."""
    d = Path(directory)
    source = d / f"{pid}.json"
    with flocked(d / _LOCK):
        snap = read_json_object(source)
        if snap is None:
            return
        total = merge([x for x in (read_json_object(d / RETIRED), snap) if x])
        atomic_write_text(d / RETIRED, json.dumps(total))
        source.unlink()
