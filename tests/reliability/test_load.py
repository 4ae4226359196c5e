"""A short soak (scripts/soak.py) in CI: fixed clients on loopback, every answer a 200, every decision logged,
no worker replaced; and the worker's loop reading without a fresh buffer per read (the cause of the threaded
workers' growth). The long runs and their figures are in docs/reliability.md section 6 (no timing asserted here)."""

from __future__ import annotations

import os
import selectors
import socket
import tracemalloc
from pathlib import Path

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from api.gunicorn.buffered import _READ, BufferedWorker, _Conn, _Inbox
from support.scripts import script_json

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads worker pids in /proc")


def test_short_soak_has_no_errors() -> None:
    status, result = script_json("soak.py", "--seconds", "4", "--clients", "4", "--window", "4", "--max-requests", "0",
                                 "--probe")
    assert result["errors"] == 0, result["error_samples"]
    assert result["requests"] > 0 and result["decisions_logged"] > 0
    assert result["decisions_missing_from_log"] == 0
    assert result["same_workers"] is True and result["server_exit"] == 0
    assert result["memory"] and all(len(m["rss_mb"]) == 2 for m in result["memory"])  # both workers were measured
    assert (status, result["problems"]) == (0, [])
    samples = result["probe"]["samples"]  # the memory probe ran inside both workers
    assert len(samples) == 2 and all(s and s[-1]["py_blocks"] > 0 and s[-1]["py_arenas"] > 0 for s in samples.values())


@pytest.mark.parametrize("chunks", [1, 40])
def test_the_worker_loop_reads_into_one_buffer(chunks: int) -> None:
    """Reading a request in the serving worker's loop allocates about what arrived, never a fresh _READ-byte buffer
    per read: those buffers, shrunk to the bytes received, fragmented glibc's heap and kept workers growing."""
    cfg = Config()
    worker = BufferedWorker(0, os.getpid(), [], None, 30, cfg, Logger(cfg))
    worker.init_reading()
    worker.poller = selectors.DefaultSelector()
    ours, theirs = socket.socketpair()
    try:
        conn = _Conn(cfg, _Inbox(ours, 10.0), ("127.0.0.1", 1), ("127.0.0.1", 2), worker._linger)
        worker._start_reading(conn)
        head = b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 2000
        tracemalloc.start()
        try:
            for i in range(chunks):
                part = head[i * len(head) // chunks:(i + 1) * len(head) // chunks]
                theirs.sendall(part)
                worker._on_readable(conn, ours)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert bytes(conn.sock.buf) == head  # all of it read, none dispatched (the head is not complete)
        assert peak < _READ // 8, peak
    finally:
        worker.poller.close()
        worker.tmp.close()
        ours.close()
        theirs.close()
