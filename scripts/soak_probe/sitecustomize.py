"""The soak's memory probe (scripts/soak.py --probe): a diagnostic, never part of the service.

Put on PYTHONPATH with SOAK_PROBE_DIR set, this module is imported by every interpreter
at start (Python's `sitecustomize` hook); it only registers an at-fork hook, so each
forked child (a gunicorn worker) starts a thread that every SOAK_PROBE_EVERY seconds
appends one JSON line to `<dir>/<pid>.jsonl`: VmRSS and RssAnon, glibc's heap figures
(mallinfo2: bytes in its arenas, in use, free; mmapped), pymalloc's (arenas, bytes in
allocated blocks, from sys._debugmallocstats), the count of live Python blocks, and
SQLite's own allocations. With SOAK_PROBE_TRACE=1 the child also runs tracemalloc and
dumps a snapshot (`<pid>-<n>.snap`) with each sample.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from typing import Any

__all__: list[str] = []

OUT = os.environ.get("SOAK_PROBE_DIR", "")
EVERY = float(os.environ.get("SOAK_PROBE_EVERY", "20"))
TRACE = os.environ.get("SOAK_PROBE_TRACE") == "1"
_PYMALLOC = {"# arenas allocated current": "py_arenas", "# bytes in allocated blocks": "py_alloc_b"}


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


def _status() -> dict[str, int]:
    with open("/proc/self/status", encoding="ascii") as fh:
        fields = [line.split(":", 1) for line in fh if line.startswith(("VmRSS:", "RssAnon:", "Threads:"))]
    return {name: int(value.split()[0]) for name, value in fields}


def _pymalloc() -> dict[str, int]:
    """pymalloc's figures: sys._debugmallocstats writes them to fd 2, borrowed for the moment it takes."""
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        lines = tmp.read().decode("latin-1").splitlines()
    return {name: int(line.split("=")[1].replace(",", "")) for line in lines
            for key, name in _PYMALLOC.items() if line.startswith(key)}


def _native() -> dict[str, int]:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    sqlite = ctypes.CDLL("libsqlite3.so.0")  # the library the sqlite3 module uses (one copy per process)
    sqlite.sqlite3_memory_used.restype = ctypes.c_int64
    info = libc.mallinfo2()
    return {"malloc_heap_kb": info.arena // 1024, "malloc_used_kb": info.uordblks // 1024,
            "malloc_free_kb": info.fordblks // 1024, "malloc_mmap_kb": info.hblkhd // 1024,
            "sqlite_kb": int(sqlite.sqlite3_memory_used()) // 1024}


def _sample(n: int) -> dict[str, Any]:
    status = _status()
    record: dict[str, Any] = {"n": n, "wall": round(time.time(), 1), "rss_kb": status.get("VmRSS"),
                              "anon_kb": status.get("RssAnon"), "threads": status.get("Threads"),
                              "py_blocks": sys.getallocatedblocks()}
    try:
        record.update(_native())
    except (OSError, AttributeError):  # not glibc, or no shared libsqlite3
        pass
    record.update(_pymalloc())
    if tracemalloc.is_tracing():
        record["traced_kb"] = tracemalloc.get_traced_memory()[0] // 1024
        tracemalloc.take_snapshot().dump(f"{OUT}/{os.getpid()}-{n:04d}.snap")
    return record


def _run() -> None:
    n = 0
    while True:
        n += 1
        line = json.dumps(_sample(n))
        with open(f"{OUT}/{os.getpid()}.jsonl", "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        time.sleep(EVERY)


def _in_child() -> None:
    if TRACE:
        tracemalloc.start(8)
    threading.Thread(target=_run, name="soak-probe", daemon=True).start()


if OUT:
    os.register_at_fork(after_in_child=_in_child)
