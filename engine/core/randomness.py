"""Random ids without a system call each: the kernel's random bytes, fetched 4 KiB at a time.

Decision ids and request ids are 128 random bits each, two a request. `os.urandom(16)` is one
`getrandom` call per id; here one call serves 256 of them. The bytes are the same
kernel CSPRNG output, each handed out once. A forked child (every gunicorn worker) starts with
an empty pool, so no two processes ever hand out the same bytes.
"""

from __future__ import annotations

import os
import threading

__all__ = ["random_hex"]

_CHUNK = 4096
_pool = bytearray()
_lock = threading.Lock()


def random_hex(n: int = 16) -> str:
    """`n` random bytes from the kernel's CSPRNG, as hex."""
    with _lock:
        if len(_pool) < n:
            _pool[:] = os.urandom(_CHUNK)
        data = bytes(_pool[-n:])
        del _pool[-n:]
    return data.hex()


def _forget() -> None:
    global _lock
    _lock = threading.Lock()  # a lock held by another thread at the fork would stay held in the child
    _pool.clear()


os.register_at_fork(after_in_child=_forget)
