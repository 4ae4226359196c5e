"""Reading the soak's memory probe (scripts/soak_probe/sitecustomize.py) back: what each worker sampled.

scripts/soak.py --probe starts its server with the probe on PYTHONPATH (`probe_env`); each
worker appends its samples to `<pid>.jsonl` in the probe directory (and tracemalloc
snapshots with --trace), read here once the server has stopped.
"""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

from support.service import ROOT

__all__ = ["PROBE_KEYS", "attach_probe", "probe_env", "probe_report"]

PROBE_KEYS = ("py_blocks", "py_arenas", "py_alloc_b", "malloc_heap_kb", "malloc_used_kb", "malloc_free_kb",
              "malloc_mmap_kb", "sqlite_kb", "traced_kb")


def probe_env(directory: Path, every: float, trace: bool) -> None:
    """Make the servers started from now on load the probe (every `every` s; tracemalloc too when `trace`)."""
    directory.mkdir()
    probe = str(ROOT / "scripts" / "soak_probe")
    os.environ["PYTHONPATH"] = os.pathsep.join([probe, *filter(None, [os.environ.get("PYTHONPATH")])])
    os.environ.update(SOAK_PROBE_DIR=str(directory), SOAK_PROBE_EVERY=str(every), SOAK_PROBE_TRACE=str(int(trace)))


def _readings(directory: Path, pids: list[int]) -> dict[int, list[dict[str, Any]]]:
    readings = {}
    for pid in pids:
        path = directory / f"{pid}.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        readings[pid] = [json.loads(line) for line in lines]
    return readings


def _traced_growth(directory: Path, pid: int, after: list[dict[str, Any]], top: int = 12) -> list[str]:
    """What tracemalloc saw grow in a worker between the first sample in `after` and the last."""
    if len(after) < 2:
        return []
    first, last = (tracemalloc.Snapshot.load(str(directory / f"{pid}-{r['n']:04d}.snap"))
                   for r in (after[0], after[-1]))
    return [str(stat) for stat in last.compare_to(first, "lineno")[:top]]


def probe_report(directory: Path, pids: list[int], warm_wall: float, trace: bool) -> dict[str, Any]:
    """Each worker's samples, and (with `trace`) what grew from `warm_wall` (a time.time()) to the end."""
    readings = _readings(directory, pids)
    report: dict[str, Any] = {"samples": {str(pid): [{k: r.get(k) for k in ("wall", *PROBE_KEYS)} for r in rs]
                                          for pid, rs in readings.items()}}
    if trace:
        report["traced_growth"] = {str(pid): _traced_growth(directory, pid, [r for r in rs if r["wall"] >= warm_wall])
                                   for pid, rs in readings.items()}
    return report


def attach_probe(windows: list[dict[str, Any]], probe: dict[str, Any], began_wall: float) -> None:
    """Give each soak window (`end_s` after `began_wall`) each worker's last probe sample by then."""
    for w in windows:
        at = began_wall + w["end_s"] + 0.5
        w["probe"] = {pid: ([{k: r.get(k) for k in PROBE_KEYS if r.get(k) is not None}
                             for r in rs if r["wall"] <= at] or [{}])[-1] for pid, rs in probe["samples"].items()}
