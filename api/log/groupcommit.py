"""Group commit: concurrent requests in one worker share one durable transaction.

Every decision must be on disk before its 200 (an fsync per
commit). With threaded workers, requests that finish while a commit is in
progress queue up; when it completes, one of them (the leader) commits the
whole queue in a single transaction and wakes the others. Nobody waits longer
than one commit behind them, and nobody is answered before their own rows are
durable; a failed commit fails every request in its batch. No background
thread: with one request at a time it is exactly a direct commit.

Requests that the serving worker's loop runs itself (api/gunicorn/buffered.py) run as
greenlets of the loop's thread, inside a `Cooperation`: a commit queues its rows and
hands the thread back to the loop, which runs the other requests that are ready up to
their own commits, then commits the queue in one transaction with one fsync and resumes
each request with its outcome. The request goes on as it would after a direct commit
(its 503 if the commit failed, its metrics and access-log line either way): only the
thread it waited in differs. Each 200 still follows its own durable commit; what is
shared is one wait for the disk, where the threads waited once each (issue 15: 3.7 rows
per transaction at 8 connections and 2 workers, from 1.9).

The next batch waits for the previous one's fsync, not only its write: writing it
meanwhile let one fsync cover more batches (2.4 rows per fsync) but made batches of
1.07 rows, and the extra transactions cost more CPU than the fsyncs saved (1,304 vs
1,066 µs per request, issue 15). Across workers the fsync is still shared
(`api.log.walsync`): the writer lock is free while it runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, TypeVar

import greenlet

__all__ = ["Cooperation", "GroupCommit"]

T = TypeVar("T")


@dataclass
class _Ticket(Generic[T]):
    items: Sequence[T]
    done: bool = False
    error: BaseException | None = None


@dataclass
class GroupCommit(Generic[T]):
    """Wraps `append(items)` (one durable transaction per call) so concurrent callers share transactions."""

    append: Callable[[Sequence[T]], None]
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _queue: list[_Ticket[T]] = field(default_factory=list)
    _busy: bool = False
    batches: int = 0
    committed: int = 0

    def submit(self, items: Sequence[T]) -> None:
        """Return once `items` are durably committed; raise the commit's error otherwise."""
        ticket = _Ticket(items)
        with self._cond:
            self._queue.append(ticket)
        cooperation = _cooperations.get(threading.get_ident())
        if cooperation is None or not cooperation.park(self, ticket):
            self.settle([ticket])
        if ticket.error is not None:
            raise ticket.error

    def settle(self, tickets: Sequence[_Ticket[T]]) -> None:
        """Return once every ticket is committed or failed: led here, or by whoever leads meanwhile."""
        with self._cond:
            while not all(t.done for t in tickets):
                if self._busy:
                    self._cond.wait()
                else:
                    self._lead()

    def _lead(self) -> None:
        # Called with the condition held; releases it while committing.
        self._busy = True
        batch, self._queue = self._queue, []
        error: BaseException | None = None
        self._cond.release()
        try:
            self.append([item for t in batch for item in t.items])
        except BaseException as e:  # noqa: BLE001 - handed to every waiter, re-raised in each
            error = e
        finally:
            self._cond.acquire()
        for t in batch:
            t.done, t.error = True, error
        self.batches += 1
        self.committed += 0 if error else sum(len(t.items) for t in batch)
        self._busy = False
        self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)


_IDLE_KEPT = 64  # idle request greenlets a cooperation keeps (as many as requests it has run at once, up to this)
_cooperations: dict[int, Cooperation] = {}  # thread id -> the cooperation its requests run in


class Cooperation:
    """One thread running requests as greenlets: their commits are settled together when `settle` is called.

    `with Cooperation() as c:` on the thread that runs them (its main greenlet); `c.run(fn, ...)` runs
    `fn` as a greenlet until it returns or parks in `GroupCommit.submit`; `c.settle()` commits what the
    parked requests queued and resumes them, until none is parked. Leaving the block settles what is left.
    """

    def __init__(self) -> None:
        self._main: Any = None
        self._parked: list[tuple[Any, GroupCommit[Any], _Ticket[Any]]] = []
        # Greenlets that finished a request, kept for the next: a new greenlet's first Python frame maps a fresh
        # 16 KiB frame stack, which its end unmaps again (an mmap, page faults and a munmap per request).
        self._idle: list[Any] = []
        self.settled = 0  # requests resumed, and
        self.rounds = 0  # the settling rounds it took (the loop's rows per transaction: settled / rounds)

    def __enter__(self) -> Cooperation:
        current = greenlet.getcurrent()
        if current is not self._main:  # another thread's (or a first) block: that thread's idle greenlets are not ours
            self._main, self._idle = current, []
        _cooperations[threading.get_ident()] = self
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if kind is None:
                self.settle()
        finally:
            del _cooperations[threading.get_ident()]

    def run(self, fn: Callable[..., object], *args: object) -> None:
        """Run `fn(*args)` as a greenlet of this thread until it returns or waits for a commit. An exception
        `fn` raises ends its greenlet and is raised here, or in `settle` if it parked first."""
        runner = self._idle.pop() if self._idle else greenlet.greenlet(self._runner, parent=self._main)
        runner.switch((fn, args))

    def _runner(self, job: tuple[Callable[..., object], tuple[object, ...]]) -> None:
        """A request greenlet: runs one job, then waits idle on the loop's greenlet for the next."""
        while True:
            fn, args = job
            fn(*args)
            if len(self._idle) < _IDLE_KEPT:
                self._idle.append(greenlet.getcurrent())
                job = self._main.switch()
            else:
                return

    def park(self, committer: GroupCommit[Any], ticket: _Ticket[Any]) -> bool:
        """In a request greenlet: hand the thread back until `ticket` is settled (True). On the thread's own
        greenlet there is nobody to hand it to: False, the caller settles the ticket itself."""
        current = greenlet.getcurrent()
        if current is self._main:
            return False
        self._parked.append((current, committer, ticket))
        self._main.switch()
        return True

    def settle(self) -> None:
        """Commit every parked request's rows (one transaction per committer), then resume each in the order it
        parked; again while a resumed request parks on a new commit."""
        while self._parked:
            parked, self._parked = self._parked, []
            committers: dict[int, tuple[GroupCommit[Any], list[_Ticket[Any]]]] = {}
            for _, committer, ticket in parked:
                committers.setdefault(id(committer), (committer, []))[1].append(ticket)
            for committer, tickets in committers.values():
                committer.settle(tickets)
            self.rounds += 1
            self.settled += len(parked)
            for request, _, _ in parked:
                request.switch()
