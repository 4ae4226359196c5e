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

import datetime as _dt
import fcntl
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

__all__ = ["Board", "assess", "clear_board", "remove_worker"]

_SUB = "lifecycle"
_TARGET = "target.json"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # gone meanwhile (the worker exited) or never written
    return data if isinstance(data, dict) else None


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)


class Board:
    """Per-worker state files and the newest good set (in memory without a directory)."""

    def __init__(self, directory: str | None) -> None:
        self.directory = Path(directory) / _SUB if directory else None
        self._memory: dict[int, dict[str, Any]] = {}
        self._target: dict[str, Any] | None = None
        self._cached: tuple[tuple[int, int, int], dict[str, Any] | None] | None = None
        self._lock = threading.Lock()
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)

    def put(self, pid: int, state: dict[str, Any]) -> None:
        if self.directory is None:
            self._memory = {pid: state}  # one process: only this one is alive
        else:
            _write(self.directory / f"{pid}.json", state)

    def workers(self) -> list[dict[str, Any]]:
        if self.directory is None:
            return list(self._memory.values())
        found = (_read(p) for p in sorted(self.directory.glob("*.json")) if p.name != _TARGET)
        return sorted((s for s in found if s), key=lambda s: s.get("pid", 0))

    def target(self) -> dict[str, Any] | None:
        if self.directory is None:
            return self._target
        path = self.directory / _TARGET
        try:
            st = path.stat()
        except OSError:
            return None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if self._cached is None or self._cached[0] != stamp:  # each poll reads it: parse only when it changed
            self._cached = (stamp, _read(path))
        return self._cached[1]

    def offer(self, target: dict[str, Any]) -> bool:
        """Make `target` the newest good set unless one seen later on disk is already there."""
        with self._lock, _flock(self.directory):
            current = self.target()
            if current is not None and (current["fingerprint"] == target["fingerprint"]
                                        or current["seen_at_ns"] >= target["seen_at_ns"]):
                return False
            if self.directory is None:
                self._target = target
            else:
                _write(self.directory / _TARGET, target)
            return True


class _flock:
    """An exclusive lock across processes (nothing to lock in memory mode)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._fh: Any = None

    def __enter__(self) -> None:
        if self.directory is not None:
            self._fh = open(self.directory / ".lock", "a+b")  # noqa: SIM115 - closed in __exit__
            fcntl.flock(self._fh, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()


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
    return now - _dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def assess(workers: list[dict[str, Any]], target: dict[str, Any] | None, now: float, *, stale_after: float,
           heartbeat_after: float | None) -> tuple[dict[int, bool], list[str]]:
    """Which workers serve the newest good set, and why the others count as stale (past `stale_after`)."""
    converged: dict[int, bool] = {}
    stale: list[str] = []
    for w in workers:
        pid = w["pid"]
        behind = target is not None and w["fingerprint"] != target["fingerprint"]
        pin_problems = w.get("pin_problems") or []
        converged[pid] = not behind and not pin_problems
        if behind and target is not None and _age(target["published_at"], now) > stale_after:
            stale.append(f"worker {pid} serves policy set {w['fingerprint'][:12]}, not the newest good set "
                         f"{target['fingerprint'][:12]} (published {target['published_at']})")
        stale += [f"worker {pid}: {p}" for p in pin_problems]
        if heartbeat_after is not None and _age(w.get("heartbeat_at"), now) > heartbeat_after:
            stale.append(f"worker {pid} has not checked its policies since {w.get('heartbeat_at')}")
    return converged, stale
