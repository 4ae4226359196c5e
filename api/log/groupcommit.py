"""Group commit: concurrent requests in one worker share one durable transaction.

Every decision must be on disk before its 200 (an fsync per
commit). With threaded workers, requests that finish while a commit is in
progress queue up; when it completes, one of them (the leader) commits the
whole queue in a single transaction and wakes the others. Nobody waits longer
than one commit behind them, and nobody is answered before their own rows are
durable; a failed commit fails every request in its batch. No background
thread: with one request at a time it is exactly a direct commit.

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
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

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
            while not ticket.done:
                if self._busy:
                    self._cond.wait()
                else:
                    self._lead()
        if ticket.error is not None:
            raise ticket.error

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
