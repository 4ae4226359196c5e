"""Group commit: concurrent requests in one worker share one durable transaction.

Every decision must be on disk before its 200. With threaded workers, requests that
finish while a transaction is being written queue up; when it is written, one of them
(the leader) writes the whole queue as one transaction. A store commits in two steps
(`stage`): the transaction is written under the writer lock, then made durable (an fsync)
outside it. The next batch is written while the previous one syncs, so an fsync can cover
batches of several workers (`api.log.walsync`); nobody is answered before their own rows
are durable, and a failed write or sync fails every request in its batch. No background
thread: with one request at a time it is exactly a direct commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["GroupCommit", "Stage"]

T = TypeVar("T")
# Write `items` as one transaction and return what makes it durable (call it before answering).
Stage = Callable[[Sequence[T]], Callable[[], None]]


@dataclass
class _Ticket(Generic[T]):
    items: Sequence[T]
    staged: bool = False  # in a batch whose leader is writing or syncing it
    done: bool = False
    error: BaseException | None = None


@dataclass
class GroupCommit(Generic[T]):
    """Wraps a store's `stage` so that concurrent callers share transactions and fsyncs."""

    stage: Stage[T]
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _queue: list[_Ticket[T]] = field(default_factory=list)
    _busy: bool = False  # a batch is being written (not: synced)
    batches: int = 0
    committed: int = 0

    def submit(self, items: Sequence[T]) -> None:
        """Return once `items` are durably committed; raise the commit's error otherwise."""
        ticket = _Ticket(items)
        with self._cond:
            self._queue.append(ticket)
            while not ticket.done:
                if self._busy or ticket.staged:
                    self._cond.wait()
                else:
                    self._lead()
        if ticket.error is not None:
            raise ticket.error

    def _lead(self) -> None:
        # Called with the condition held; releases it while writing and while syncing.
        self._busy = True
        batch, self._queue = self._queue, []
        for t in batch:
            t.staged = True
        error: BaseException | None = None
        durable: Callable[[], None] | None = None
        with _released(self._cond):
            try:
                durable = self.stage([item for t in batch for item in t.items])
            except BaseException as e:  # noqa: BLE001 - handed to every waiter, re-raised in each
                error = e
        self._busy = False
        self._cond.notify_all()  # the next batch is written while this one syncs
        if durable is not None:
            with _released(self._cond):
                try:
                    durable()
                except BaseException as e:  # noqa: BLE001 - as above
                    error = e
        for t in batch:
            t.done, t.error = True, error
        self.batches += 1
        self.committed += 0 if error else sum(len(t.items) for t in batch)
        self._cond.notify_all()

    def pending(self) -> int:
        """Items queued and not yet in a batch."""
        with self._cond:
            return len(self._queue)


@contextmanager
def _released(cond: threading.Condition) -> Iterator[None]:
    """The condition's lock released for the block, held again after it (whatever happens)."""
    cond.release()
    try:
        yield
    finally:
        cond.acquire()
