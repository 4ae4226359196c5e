"""Replicas sharing one PostgreSQL decision log: each worker's heartbeat row, and who has not converged.

A replica is one `attendance-policy serve` (`host:port`); each of its workers beats from
its poller's tick (every `policies.poll_interval_ms`, at most every BEAT_S) and at once
when what it serves changes, and leaves the list when it stops. `/v1/status` lists the replicas whose workers beat
recently, with the versions they serve, and names each that serves another policy set
than the newest one loaded anywhere, or pins older than the newest pin change.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from api.lifecycle.states import WorkerState
from api.log.store import DecisionStore, Heartbeat, Replicas
from engine.core.errors import StoreError

__all__ = ["BEAT_S", "ReplicaBeats", "converge"]

BEAT_S = 1.0
log = logging.getLogger("attendance_policy.lifecycle")


def _summary(state: WorkerState, pins_version: int) -> dict[str, Any]:
    return {"fingerprint": state.fingerprint, "loaded_at": state.loaded_at, "generation": state.generation,
            "versions": [f"{v.policy}@{v.version}" for v in state.versions], "active": state.active,
            "pins": state.pins, "pins_version": pins_version}


class ReplicaBeats:
    """This worker's heartbeat row, when the store is shared (a no-op on SQLite: one replica)."""

    def __init__(self, store: DecisionStore, port: int) -> None:
        self.shared: Replicas | None = store if isinstance(store, Replicas) else None
        self.replica = f"{socket.gethostname()}:{port}"
        self._last: tuple[dict[str, Any], float] | None = None
        self._failing = False

    def beat(self, state: WorkerState, pins_version: int, *, refresh: bool = False) -> None:
        """Write the row when what this worker serves changed, or (`refresh`: the poller's tick) when it is older
        than BEAT_S; a request's thread thus never waits on a heartbeat while nothing changes."""
        if self.shared is None:
            return
        summary, now = _summary(state, pins_version), time.monotonic()
        if self._last is not None and self._last[0] == summary and (not refresh or now - self._last[1] < BEAT_S):
            return
        self._last = (summary, now)  # a failed beat is not retried before BEAT_S either
        try:
            self.shared.heartbeat(Heartbeat(self.replica, os.getpid(), summary))
            self._failing = False
        except StoreError as e:
            if not self._failing:
                log.warning("cannot record this worker's heartbeat: %s", e)
            self._failing = True

    def forget(self) -> None:
        if self.shared is None or self._last is None:
            return
        try:
            self.shared.forget(self.replica, os.getpid())
        except StoreError:
            pass  # its row ages out of the list

    def listing(self, live_s: float) -> dict[str, Any] | None:
        """`/v1/status`'s `replicas`: every live replica, and which have not converged (None on SQLite)."""
        if self.shared is None:
            return None
        return converge(self.shared.heartbeats(live_s))


def converge(beats: list[Heartbeat]) -> dict[str, Any]:
    """Group heartbeats by replica; a replica converged when its workers serve the newest set and pins."""
    newest = max(beats, key=lambda b: str(b.state.get("loaded_at", "")), default=None)
    target = newest.state.get("fingerprint") if newest else None
    pins_now = max((int(b.state.get("pins_version", 0)) for b in beats), default=0)
    replicas: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for b in beats:
        r = replicas.setdefault(b.replica, {"replica": b.replica, "converged": True, "workers": []})
        r["workers"].append({"pid": b.pid, "heartbeat_at": b.at, **b.state})
        fp, pins = b.state.get("fingerprint"), int(b.state.get("pins_version", 0))
        if fp != target:
            r["converged"] = False
            problems.append(f"replica {b.replica} worker {b.pid} serves policy set {str(fp)[:12]}, not the newest "
                            f"{str(target)[:12]} (loaded by {newest.replica if newest else '?'})")
        if pins < pins_now:
            r["converged"] = False
            problems.append(f"replica {b.replica} worker {b.pid} applies pin change {pins}, not the newest {pins_now}")
    return {"converged": not problems, "problems": problems, "live": list(replicas.values())}
