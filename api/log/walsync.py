"""Durable commits with one fsync shared by every process: SQLite commits without syncing, we sync the WAL.

With `synchronous=FULL` SQLite fsyncs the WAL inside COMMIT, while it holds the write lock,
so the workers' commits queue behind each other's fsyncs: one fsync per transaction, however
many processes wait. Here the writer connection runs with `synchronous=NORMAL` (a commit
writes its WAL frames to the OS, SQLite syncs only around checkpoints) and the caller makes
its commit durable before answering, outside the write lock:

1. still holding the writer lock, right after COMMIT, it takes a ticket: `issued + 1`, kept in
   a small file every process maps (`<log>.sync`, two counters);
2. then it takes the sync lock (`flock` on that file); if `synced` has reached its ticket,
   another process's fsync (begun after this commit) covered it: done. Otherwise it becomes the
   leader: it reads `issued`, fsyncs the WAL and sets `synced` to what it read.

Every commit counted in `issued` had written its frames before the fsync began, so `synced`
never covers a commit that was not on disk. The frames stay in the WAL until a checkpoint,
which SQLite syncs (WAL before, database after) in NORMAL mode too, so a synced WAL is a
durable commit whether or not a checkpoint ran since. A row is visible to readers between its
COMMIT and its fsync; nobody has been told it exists (no 200) until after.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import threading

__all__ = ["WalSync"]

_COUNTER = struct.Struct("=Q")
# Offsets: `issued` changes under the writer lock only, `synced` and `fsyncs` (how many it took) under the sync lock.
_ISSUED, _SYNCED, _FSYNCS = 0, 8, 16
_SIZE = 4096


class WalSync:
    """One process's view of the shared counters and the WAL (reopen after a fork: `reset`)."""

    def __init__(self, db_path: str) -> None:
        self.wal_path = db_path + "-wal"
        self.sync_path = db_path + ".sync"
        self._wal = -1
        self._fd = -1
        self._map: mmap.mmap | None = None
        # Threads of one process share the descriptors, and a flock does not exclude holders of one descriptor.
        self._guard = threading.Lock()
        self._opening = threading.Lock()

    @staticmethod
    def create(db_path: str) -> None:
        """Make the counters file (the master, when it migrates): two counters, both 0 when new."""
        fd = os.open(db_path + ".sync", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if os.fstat(fd).st_size < _SIZE:
                os.ftruncate(fd, _SIZE)
        finally:
            os.close(fd)

    @staticmethod
    def counters(db_path: str) -> tuple[int, int, int]:
        """(commits counted, commits synced, fsyncs) so far, for benchmarks and tests; zeros without the file."""
        try:
            with open(db_path + ".sync", "rb") as fh:
                data = fh.read(24)
        except OSError:
            return 0, 0, 0
        return struct.unpack("=QQQ", data) if len(data) == 24 else (0, 0, 0)

    def ticket(self) -> int:
        """Count a commit that just completed (call with the writer lock held); its ticket, 0 without counters."""
        counters = self._counters()
        if counters is None:
            return 0
        ticket = _COUNTER.unpack_from(counters, _ISSUED)[0] + 1
        _COUNTER.pack_into(counters, _ISSUED, ticket)
        return int(ticket)

    def durable(self, ticket: int) -> None:
        """Return once every commit up to `ticket` is on disk; OSError if the fsync fails."""
        with self._guard:
            counters = self._counters()
            if counters is None or ticket == 0:  # no shared counters (a full disk at start-up): sync on our own
                self._sync()
                return
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                if _COUNTER.unpack_from(counters, _SYNCED)[0] >= ticket:
                    return
                issued = _COUNTER.unpack_from(counters, _ISSUED)[0]  # every commit counted so far is written
                self._sync()
                _COUNTER.pack_into(counters, _SYNCED, issued)
                _COUNTER.pack_into(counters, _FSYNCS, _COUNTER.unpack_from(counters, _FSYNCS)[0] + 1)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _sync(self) -> None:
        """fsync the WAL that is there now (reopened when it was replaced); without a WAL, the database file
        (the WAL is deleted only after a checkpoint of everything into the database)."""
        try:
            current = os.stat(self.wal_path).st_ino
        except FileNotFoundError:
            fd = os.open(self.wal_path[: -len("-wal")], os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            return
        if self._wal >= 0 and os.fstat(self._wal).st_ino != current:
            os.close(self._wal)
            self._wal = -1
        if self._wal < 0:
            self._wal = os.open(self.wal_path, os.O_RDONLY | os.O_CLOEXEC)
        os.fsync(self._wal)

    def _counters(self) -> mmap.mmap | None:
        if self._map is not None:
            return self._map
        with self._opening:
            if self._map is not None:
                return self._map
            try:
                fd = os.open(self.sync_path, os.O_RDWR | os.O_CLOEXEC)
            except OSError:
                return None
            try:
                if os.fstat(fd).st_size < _SIZE:
                    os.close(fd)
                    return None
                counters = mmap.mmap(fd, _SIZE)
            except OSError:
                os.close(fd)
                return None
            self._fd, self._map = fd, counters  # the descriptor first: a reader of `_map` then uses `_fd`
            return counters

    def reset(self, *, inherited: bool = False) -> None:
        """Forget the descriptors: closed when they are ours, left alone when inherited across a fork (a flock
        taken through an inherited descriptor would be the parent's lock)."""
        if inherited:
            self._guard, self._opening = threading.Lock(), threading.Lock()
        with self._guard:
            if not inherited:
                for fd in (self._wal, self._fd):
                    if fd >= 0:
                        os.close(fd)
                if self._map is not None:
                    self._map.close()
            self._wal, self._fd, self._map = -1, -1, None
