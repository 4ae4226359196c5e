"""Where gunicorn workers publish their policy state for each other, and the newest good policy set.

Like the metrics, it is a directory of small JSON files under `server.metrics_dir`
(a fresh one per server): `lifecycle/<pid>.json` is one worker's state, replaced
atomically after each reload, pin change and poll tick; the master removes it
when the worker exits. `lifecycle/target.json` is the newest policy set any
worker loaded successfully, with its YAML sources, so a worker that starts later
(recycled, or replacing a crashed one) or that missed a change converges to it
even if the files on disk have been broken since. Without a directory (tests,
one process) the board lives in memory.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from pathlib import Path
from typing import Any

import orjson

from api.lifecycle.states import TargetSet, WorkerState
from engine.core.files import atomic_write_text, flocked, read_json_object
from engine.core.timefmt import parse

__all__ = ["Board", "assess", "clear_board", "remove_worker"]

_SUB = "lifecycle"
_TARGET = "target.json"


def _write(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, orjson.dumps(data).decode())


def _worker(path: Path) -> WorkerState | None:
    try:
        return WorkerState.from_dict(read_json_object(path))
    except (ValueError, TypeError, KeyError):
        return None  # gone meanwhile (the worker exited), never written, or not a worker's state


def _target(path: Path) -> TargetSet | None:
    try:
        return TargetSet.from_dict(read_json_object(path))
    except (ValueError, TypeError, KeyError, IndexError):
        return None


class Board:
    """Per-worker state files and the newest good set (in memory without a directory)."""

    def __init__(self, directory: str | None) -> None:
        self.directory = Path(directory) / _SUB if directory else None
        self._memory: dict[int, WorkerState] = {}
        self._target: TargetSet | None = None
        self._cached: tuple[tuple[int, int, int], TargetSet | None] | None = None
        self._lock = threading.Lock()
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)

    def put(self, state: WorkerState) -> None:
        if self.directory is None:
            self._memory = {state.pid: state}  # one process: only this one is alive
        else:
            _write(self.directory / f"{state.pid}.json", state.to_dict())

    def workers(self) -> list[WorkerState]:
        if self.directory is None:
            return list(self._memory.values())
        found = (_worker(p) for p in sorted(self.directory.glob("*.json")) if p.name != _TARGET)
        return sorted((s for s in found if s), key=lambda s: s.pid)

    def target(self) -> TargetSet | None:
        if self.directory is None:
            return self._target
        path = self.directory / _TARGET
        try:
            st = path.stat()
        except OSError:
            return None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if self._cached is None or self._cached[0] != stamp:  # each poll reads it: parse only when it changed
            self._cached = (stamp, _target(path))
        return self._cached[1]

    def offer(self, target: TargetSet) -> bool:
        """Make `target` the newest good set unless one seen later on disk is already there."""
        across = flocked(self.directory / ".lock") if self.directory is not None else contextlib.nullcontext()
        with self._lock, across:
            current = self.target()
            if current is not None and (current.fingerprint == target.fingerprint
                                        or current.seen_at_ns >= target.seen_at_ns):
                return False
            if self.directory is None:
                self._target = target
            else:
                _write(self.directory / _TARGET, target.to_dict())
            return True


def remove_worker(directory: str, pid: int) -> None:
    """Forget an exited worker (run by the gunicorn master)."""
    try:
        (Path(directory) / _SUB / f"{pid}.json").unlink()
    except OSError:
        pass


def clear_board(directory: str) -> None:
    """A new server starts with an empty board."""
    shutil.rmtree(Path(directory) / _SUB, ignore_errors=True)


def _age(stamp: str | None, now: float) -> float:
    if not stamp:
        return float("inf")
    return now - parse(stamp).timestamp()


def assess(workers: list[WorkerState], target: TargetSet | None, now: float, *, stale_after: float,
           heartbeat_after: float | None) -> tuple[dict[int, bool], list[str]]:
    """Which workers serve the newest good set, and why the others count as stale (past `stale_after`)."""
    converged: dict[int, bool] = {}
    stale: list[str] = []
    for w in workers:
        behind = target is not None and w.fingerprint != target.fingerprint
        converged[w.pid] = not behind and not w.pin_problems
        if behind and target is not None and _age(target.published_at, now) > stale_after:
            stale.append(f"worker {w.pid} serves policy set {w.fingerprint[:12]}, not the newest good set "
                         f"{target.fingerprint[:12]} (published {target.published_at})")
        stale += [f"worker {w.pid}: {p}" for p in w.pin_problems]
        if heartbeat_after is not None and _age(w.heartbeat_at, now) > heartbeat_after:
            stale.append(f"worker {w.pid} has not checked its policies since {w.heartbeat_at}")
    return converged, stale
