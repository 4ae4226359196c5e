"""`server.threads` > 1: the buffered worker with a thread pool, group commit, every decision logged exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from support.live import LiveServer
from support.logdb import logged_counts
from support.service import facts


def test_threaded_workers_log_every_decision_exactly_once(tmp_path: Path) -> None:
    # No keys: loopback callers are anonymous.
    server = LiveServer.create(tmp_path, tokens={}, database="d.sqlite3", server={"threads": 4}).start()
    try:
        def post(i: int) -> str:
            status, body = server.call("POST", "/v1/decisions", {"facts": facts(f"sess-thr-{i}")})
            assert status == 200, body
            return str(body["decision_id"])

        with ThreadPoolExecutor(12) as pool:
            ids = list(pool.map(post, range(150)))
    finally:
        status = server.stop()
    assert status == 0
    assert "Using worker: BufferedWorker" in server.log_text()
    assert len(set(ids)) == 150 and set(logged_counts(server.database, ids).values()) == {1}
