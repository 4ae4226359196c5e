"""The policy lifecycle in a running worker: hot reload, admin pins, the poller, and what the worker reports.

Triggers (see `api.lifecycle.poller`): a poll of the rules files every
`policies.poll_interval_ms` (stat, then sha256 of what moved), SIGHUP (the master
forwards it to every worker, see `api.gunicorn.server`), and `POST /v1/admin/reload`
(which also asks the master to tell every other worker). A reload is prepared
completely (`engine.runtime.reload.prepare`) before anything changes, then
swapped in whole (`engine.runtime.live`); a failed one changes nothing and is
kept as `last_error`. Pins live in the decision log database; each request first
compares one number (`pins_version`) with the one this worker applied, so a pin
made through any worker holds on every worker's next request, not a poll
interval later.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from api.config.settings import Settings
from api.http.metrics import Metrics
from api.lifecycle.board import Board
from api.lifecycle.poller import Poller
from api.lifecycle.replicas import ReplicaBeats
from api.lifecycle.states import OUTCOMES, Outcome, ReloadOutcome, TargetSet, Trigger, WorkerState, versions_of
from api.log.store import DecisionStore, Pin
from engine.core.errors import NoActiveVersionError, PolicyError, Problem, StoreError
from engine.core.timefmt import from_epoch
from engine.policy.loader import load_rules
from engine.runtime.engine import Engine
from engine.runtime.live import LivePolicies
from engine.runtime.registry import PolicySet
from engine.runtime.reload import DiskState, FileMoving, ReloadPlan, fingerprint, load_sources, prepare, scan

__all__ = ["Lifecycle"]

log = logging.getLogger("attendance_policy.lifecycle")
RELOADS = "attendance_policy_reloads_total"


class Lifecycle:
    """One process's live policy set: reloads, pins, leases for requests, and its published state."""

    def __init__(self, engine: Engine, settings: Settings, store: DecisionStore, metrics: Metrics, *,
                 disk: DiskState | None = None, wall: Callable[[], float] = time.time,
                 refused: list[Problem] | None = None) -> None:
        self.live = LivePolicies(engine)
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.board = Board(settings.metrics_dir)
        self.wall = wall
        self.loaded_disk = disk if disk is not None else scan(settings.rules)  # what the current set came from
        self.attempted = self.loaded_disk  # the last disk state a reload tried (failed ones are not retried)
        self.loaded_at = wall()
        self.pins: dict[str, Pin] = {}
        self.pins_version = -1
        self.last_reload: ReloadOutcome | None = None
        self.last_error: ReloadOutcome | None = None
        self.counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        self._adopt_failed: str | None = None
        self._settling: DiskState | None = None  # what the last poll saw change, until it holds still
        self._executor: ThreadPoolExecutor | None = None
        self._executor_pid = -1
        self._executor_lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._pins_lock = threading.Lock()
        self._publish_lock = threading.Lock()
        self.poller = Poller(self, settings.poll_interval_ms / 1000)
        self.replicas = ReplicaBeats(store, settings.port)
        if refused:
            self._refused_at_start(refused)

    def _refused_at_start(self, problems: list[Problem]) -> None:
        """Files the gate refused at start-up: reported like a refused reload, not retried until they change.

        What was loaded excludes them, so the poller sees them as changed again only once they do change.
        """
        files = {p.file for p in problems}
        disk = self.loaded_disk
        self.loaded_disk = DiskState({k: v for k, v in disk.files.items() if k not in files}, disk.seen_at_ns)
        self.attempted = disk
        self.last_reload = self.last_error = ReloadOutcome("failed", "start", from_epoch(self.wall()), 0.0,
                                                           problems=list(problems))
        self._count_start_refusal()

    def _count_start_refusal(self) -> None:
        self.metrics.inc(RELOADS, {"outcome": "failed", "trigger": "start"})

    @property
    def engine(self) -> Engine:
        return self.live.engine

    def today(self) -> _dt.date:
        return self.engine.clock().date()

    # ---- every request -------------------------------------------------------------------------------------

    def sync_pins(self, *, publish: bool = True) -> None:
        """Apply the pins in the database if they changed (one indexed read when they did not)."""
        try:
            if self.store.pins_version() == self.pins_version:
                return
            with self._pins_lock:  # two threads must not apply an older snapshot after a newer one
                version, pins = self.store.pins()
                if version <= self.pins_version:
                    return
                self.live.set_pins({pid: pin.version for pid, pin in pins.items()})
                self.pins, self.pins_version = pins, version
        except StoreError as e:
            log.warning("cannot read the policy pins, keeping the ones applied: %s", e)
            return
        if publish:  # not in the gunicorn master, which serves nothing and must not appear as a worker
            self.publish()

    # ---- reloading -----------------------------------------------------------------------------------------

    def reload(self, trigger: Trigger, *, force: bool = True) -> ReloadOutcome | None:
        """Reload from the rules files; None when not forced and nothing changed since the last attempt."""
        with self._reload_lock:
            self.sync_pins()  # the removal checks need the pins in force now
            started = time.perf_counter()
            disk = scan(self.settings.rules, self.attempted)
            if not force and disk.same(self.attempted):
                self._settling = None
                return None
            if not force and not disk.identical(self._settling):
                self._settling = disk  # changed since the last poll: used once it has held still for one poll
                return None
            self._settling = None
            if disk.same(self.loaded_disk):
                self.attempted = self.loaded_disk = disk
                self.last_error = None  # the files are what is served again
                return self._record(self._outcome("unchanged", trigger, started))
            try:
                policies = load_rules(list(self.settings.rules))
                disk.refuse_moved(policies)
                plan = prepare(self.live.current, policies, today=self.today(),
                               compile_timeout=self.settings.compile_timeout_ms / 1000, redact=self.settings.redact)
            except FileMoving as e:
                return self._failed(trigger, e, started)  # not marked attempted: the next poll tries again
            except PolicyError as e:
                self.attempted = disk
                return self._failed(trigger, e, started)
            self.attempted = disk
            outcome = self._swap(plan, trigger, disk, started)
            if outcome.outcome != "failed":
                self._offer_target(disk)
            return outcome

    def reload_soon(self, trigger: Trigger) -> Future[ReloadOutcome | None]:
        """A forced reload in this worker's reload thread: compiling never runs on a request's thread."""
        with self._executor_lock:
            if self._executor is None or self._executor_pid != os.getpid():  # never a thread from before a fork
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="policy-reload")
                self._executor_pid = os.getpid()
        return self._executor.submit(self.reload, trigger, force=True)

    def close(self) -> None:
        """Stop the poller and the reload thread (a reload under way finishes in the background)."""
        self.poller.stop()
        self.replicas.forget()
        if self._executor is not None and self._executor_pid == os.getpid():
            self._executor.shutdown(wait=False)
        self._executor = None

    def adopt(self) -> ReloadOutcome | None:
        """Take the newest good set another worker published, if it is newer than what this one loaded."""
        target = self.board.target()
        if target is None or target.seen_at_ns <= self.loaded_disk.seen_at_ns:
            return None
        if target.fingerprint in (fingerprint(self.live.current), self._adopt_failed):
            return None
        with self._reload_lock:
            started = time.perf_counter()
            try:
                # The same gate as every reload (the lock files are not among the sources: another worker
                # checked them when it admitted this set).
                plan = prepare(self.live.current, load_sources(target.sources), today=self.today(), locks=False,
                               compile_timeout=self.settings.compile_timeout_ms / 1000, redact=self.settings.redact)
            except PolicyError as e:
                self._adopt_failed = target.fingerprint
                return self._failed("adopt", e, started)
            disk = DiskState(dict(target.disk), target.seen_at_ns)
            error = self.last_error
            outcome = self._swap(plan, "adopt", disk, started)
            if self.attempted.seen_at_ns < disk.seen_at_ns:
                self.attempted = disk
            elif not self.attempted.same(disk):
                self.last_error = error  # the files this worker tried since are still refused
            return outcome

    def _swap(self, plan: ReloadPlan, trigger: Trigger, disk: DiskState, started: float) -> ReloadOutcome:
        if plan.unchanged:  # e.g. only a version lock or a file's time changed: keep the set (and its memos)
            plan.abandon()
            self.loaded_disk, self.last_error = disk, None
            return self._record(self._outcome("unchanged", trigger, started))

        def make(current: PolicySet) -> PolicySet:
            lost = [f"{p}@{v}" for p, v in current.pins.items() if f"{p}@{v}" not in plan.policies.compiled]
            if lost:
                raise _PinLost(lost)
            return plan.policies.with_pins(current.pins)

        try:
            self.live.swap(make)
        except _PinLost as e:
            plan.abandon()
            problems = [Problem("pinned_version_removed", f"{key} was pinned while this reload was prepared", "")
                        for key in e.keys]
            return self._record(self._outcome("failed", trigger, started, problems=problems))
        self.loaded_disk, self.loaded_at, self.last_error = disk, self.wall(), None
        log.info("policies reloaded (%s): added %s, changed %s, removed %s", trigger, plan.added, plan.changed,
                 plan.removed)
        return self._record(self._outcome("reloaded", trigger, started, added=plan.added, changed=plan.changed,
                                          removed=plan.removed))

    def _offer_target(self, disk: DiskState) -> None:
        current = self.live.current
        try:
            self._offer(current, disk)
        except OSError as e:  # the others then converge by their own polls
            log.warning("cannot publish the newest good policy set: %s", e)

    def _offer(self, current: PolicySet, disk: DiskState) -> None:
        self.board.offer(TargetSet(
            fingerprint=fingerprint(current), seen_at_ns=disk.seen_at_ns, published_at=from_epoch(self.wall()),
            published_by=os.getpid(), versions=versions_of(current), disk=dict(disk.files),
            sources={c.policy.file: c.policy.source_text for c in current.compiled.values()}))

    def _failed(self, trigger: Trigger, error: PolicyError, started: float) -> ReloadOutcome:
        problems = error.problems or [Problem(error.code, error.message, "")]
        outcome = self._record(self._outcome("failed", trigger, started, problems=problems))
        log.warning("policy reload refused (%s), still serving the previous set: %s", trigger,
                    "; ".join(p.format() for p in problems))
        return outcome

    def _outcome(self, kind: Outcome, trigger: Trigger, started: float, **lists: list[str] | list[Problem]
                 ) -> ReloadOutcome:
        return ReloadOutcome(kind, trigger, from_epoch(self.wall()), time.perf_counter() - started, **lists)  # type: ignore[arg-type]

    def _record(self, outcome: ReloadOutcome) -> ReloadOutcome:
        self.last_reload = outcome
        if outcome.outcome == "failed":
            self.last_error = outcome
        self.counts[outcome.outcome] += 1
        self.metrics.inc(RELOADS, {"outcome": outcome.outcome, "trigger": outcome.trigger})
        try:
            self.metrics.flush()
        except OSError as e:
            log.warning("cannot publish metrics: %s", e)
        self.publish()
        return outcome

    def forked(self) -> None:
        """A new gunicorn worker counts its own reloads, not the master's (but does count files it started without)."""
        self.counts = dict.fromkeys(OUTCOMES, 0)
        if self.last_error is not None and self.last_error.trigger == "start":
            self._count_start_refusal()

    def tick(self, trigger: Trigger = "poll", *, force: bool = False) -> None:
        """One round: pins, the newest good set of the other workers, the files; then publish."""
        self.sync_pins()
        self.adopt()
        self.reload(trigger, force=force)
        self.publish(refresh=True)

    # ---- what this worker reports ------------------------------------------------------------------------------

    def state(self) -> WorkerState:
        current = self.live.current
        return WorkerState(
            pid=os.getpid(), generation=self.live.generation, fingerprint=fingerprint(current),
            loaded_at=from_epoch(self.loaded_at), heartbeat_at=from_epoch(self.wall()), versions=versions_of(current),
            active=self.active_versions(current), pins=dict(current.pins),
            pin_problems=[f"{p!r} is pinned to {v}, which this worker has not loaded"
                          for p, v in current.pins.items() if f"{p}@{v}" not in current.compiled],
            last_reload=self.last_reload, last_error=self.last_error, reloads=dict(self.counts),
            retired_not_freed=self.live.pending())

    def active_versions(self, current: PolicySet | None = None) -> dict[str, str | None]:
        current = current or self.live.current
        out: dict[str, str | None] = {}
        for pid in current.policy_ids():
            try:
                out[pid] = current.active(pid, self.today()).version
            except NoActiveVersionError:
                out[pid] = None
        return out

    def publish(self, *, refresh: bool = False) -> None:
        """This worker's state on the board (and, on PostgreSQL, in its heartbeat row: `refresh` from the tick)."""
        with self._publish_lock:
            state = self.state()
            try:
                self.board.put(state)
            except OSError as e:
                log.warning("cannot publish the worker's policy state: %s", e)
            self.replicas.beat(state, self.pins_version, refresh=refresh)  # other replicas see it (PostgreSQL)




class _PinLost(Exception):
    def __init__(self, keys: list[str]) -> None:
        super().__init__(", ".join(keys))
        self.keys = keys

