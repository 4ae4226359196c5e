"""The serving loop runs decisions itself (api/gunicorn/buffered.py, `LOOP_ROUTES`): requests that arrive
together share one transaction and one fsync, a failed shared commit answers each of them 503, and a client
that does not read its responses cannot hold the loop.

"Together" is made certain rather than likely: the only worker is stopped (SIGSTOP) while each kept-alive
connection gets its next request, so the loop finds them all readable in one turn when it resumes.
"""

from __future__ import annotations

import json
import os
import resource
import selectors
import signal
import socket
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from api.gunicorn.buffered import BufferedWorker, _Inbox, _routed, loop_routes
from support.live import HOST, LiveServer, wait_for
from support.service import facts

TOGETHER = 6


@pytest.fixture
def one_worker(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer.create(tmp_path, workers=1, server={"max_requests": None}).start()
    try:
        yield server
    finally:
        server.stop()


def _request(server: LiveServer, session: str) -> bytes:
    body = json.dumps({"facts": facts(session)}).encode()
    return (f"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.tokens['evaluate']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def _response(sock: socket.socket) -> tuple[int, dict[str, str], dict[str, object]]:
    """One response off a kept-alive connection: status, headers (lower-case names), JSON body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers["content-length"]):
        body += sock.recv(65536)
    return int(lines[0].split()[1]), headers, json.loads(body)


def _together(server: LiveServer, prefix: str, meanwhile: Callable[[int], object] = lambda pid: None
              ) -> list[tuple[int, dict[str, str], dict[str, object]]]:
    """One request on each of TOGETHER kept-alive connections (each used once before), sent while the worker is
    stopped (and `meanwhile(its pid)` is done); the responses, in connection order."""
    socks = [socket.create_connection((HOST, server.port), timeout=10) for _ in range(TOGETHER)]
    try:
        for i, sock in enumerate(socks):
            sock.sendall(_request(server, f"{prefix}-first-{i}"))
            assert _response(sock)[0] == 200
        (worker,) = server.worker_pids()
        os.kill(worker, signal.SIGSTOP)
        try:  # stopped once its state says so (the signal is delivered after kill() returns)
            wait_for(lambda: Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T",
                     "the worker to stop", timeout=10, interval=0.005)
            meanwhile(worker)
            for i, sock in enumerate(socks):
                sock.sendall(_request(server, f"{prefix}-{i}"))
            time.sleep(0.2)
        finally:
            os.kill(worker, signal.SIGCONT)
        return [_response(sock) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def test_decisions_that_arrive_together_share_one_transaction(one_worker: LiveServer) -> None:
    replies = _together(one_worker, "together")
    assert [(status, body["session_id"]) for status, _, body in replies] == \
        [(200, f"together-{i}") for i in range(TOGETHER)]
    ids = [str(body["decision_id"]) for _, _, body in replies]
    with sqlite3.connect(f"file:{one_worker.database}?mode=ro", uri=True) as conn:
        marks = conn.execute(f"SELECT count(*), count(DISTINCT logged_at) FROM decisions WHERE decision_id IN "
                             f"({','.join('?' * len(ids))})", ids).fetchone()
    assert marks == (TOGETHER, 1)  # every one logged, all in one transaction (its rows share `logged_at`)
    # Each request went on after the commit as it would alone, in its own request context (one greenlet's Flask
    # context never leaks into another's: distinct request ids), with its own access-log line and status.
    assert len({headers["x-request-id"] for _, headers, _ in replies}) == TOGETHER
    logged = {e["request_id"]: e["status"] for e in one_worker.logged_requests()}
    assert [logged[headers["x-request-id"]] for _, headers, _ in replies] == [200] * TOGETHER


def test_a_failed_shared_commit_answers_each_request_503_and_the_loop_recovers(one_worker: LiveServer) -> None:
    # (Its access-log lines cannot be checked: with no write succeeding, the log file cannot be written either.)
    server = one_worker
    (worker,) = server.worker_pids()
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    try:  # every write past byte 1 fails (EFBIG) once the requests are in
        replies = _together(server, "full", lambda pid: resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, hard)))
    finally:
        resource.prlimit(worker, resource.RLIMIT_FSIZE, (hard, hard))
    assert [(status, body["code"]) for status, _, body in replies] == \
        [(503, "decision_log_unavailable")] * TOGETHER
    with sqlite3.connect(f"file:{server.database}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT count(*) FROM decisions WHERE session_id LIKE 'full-%' AND "
                            "session_id NOT LIKE 'full-first-%'").fetchone() == (0,)
    assert server.decide("after-full") and server.worker_pids() == [worker]


def _worker(seconds: float) -> tuple[BufferedWorker, list[tuple[object, object]]]:
    """The serving worker's loop state, without gunicorn around it: what `finish_request` was handed, in order."""
    worker = BufferedWorker.__new__(BufferedWorker)
    worker.cfg = SimpleNamespace(timeout=seconds * 2)
    worker.init_reading()
    worker.poller = selectors.DefaultSelector()
    worker.pending_conns = deque()
    finished: list[tuple[object, object]] = []
    worker.finish_request = lambda conn, fut: finished.append((conn, fut.exception() or fut.result()))
    return worker, finished


class _Connection:
    def __init__(self, sock: _Inbox) -> None:
        self.sock = sock


def _loop(worker: BufferedWorker, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for key, _ in worker.poller.select(0.001):
            key.data(key.fileobj)
        worker.murder_pending()


@pytest.mark.parametrize("reader", ["reads late", "never reads"])
def test_a_response_the_socket_cannot_take_at_once_is_sent_as_the_client_reads(reader: str) -> None:
    # A response larger than the socket's buffers: the loop sends what fits, keeps the rest and goes on (it never
    # blocks); it sends the rest as the client reads, or closes the connection once the deadline has passed.
    server_end, client_end = socket.socketpair()
    server_end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    client_end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    seconds = 1.0 if reader == "never reads" else 30.0
    worker, finished = _worker(seconds)
    conn = _Connection(_Inbox(server_end, seconds))
    response = os.urandom(1 << 18)
    conn.sock.outbox = bytearray(response)
    started = time.monotonic()
    worker._send(conn, True)
    assert time.monotonic() - started < 0.5 and finished == [] and conn in worker._writing  # kept, not blocked
    try:
        if reader == "never reads":
            _loop(worker, 1.5)
            assert [(c, type(e)) for c, e in finished] == [(conn, TimeoutError)] and not worker._writing
        else:
            received = bytearray()
            client_end.setblocking(False)
            deadline = time.monotonic() + 20
            while len(received) < len(response) and time.monotonic() < deadline:
                _loop(worker, 0.001)
                try:
                    received += client_end.recv(1 << 16)
                except BlockingIOError:
                    pass
            assert bytes(received) == response and finished == [(conn, True)] and conn.sock.outbox is None
    finally:
        server_end.close()
        client_end.close()


@pytest.mark.parametrize(("request_line", "runs_in_loop"), [
    (b"POST /v1/decisions HTTP/1.1", True),
    (b"POST /v1/decisions?explain=true HTTP/1.1", True),
    (b"POST /cds-services/couples-attendance HTTP/1.1", True),
    (b"GET /v1/decisions HTTP/1.1", False),  # a query of the log: a thread
    (b"POST /v1/decisions:batch HTTP/1.1", False),  # up to thousands of decisions: a thread
    (b"POST /cds-services/couples-attendance/feedback HTTP/1.1", False),
    (b"POST /cds-services/ HTTP/1.1", False),  # "*" is one segment, not an empty one
    (b"POST /v1/decisions/ HTTP/1.1", False),
    (b"POST /v1/decisions", False),  # not a request line
    (b"post /v1/decisions HTTP/1.1", False),
])
def test_which_requests_the_loop_runs(request_line: bytes, runs_in_loop: bool) -> None:
    routes = loop_routes({"LOOP_ROUTES": ("POST /v1/decisions", "POST /cds-services/*")})
    assert _routed(bytearray(request_line + b"\r\nHost: x\r\n\r\n"), routes) is runs_in_loop


def test_a_decision_the_loop_could_refuse_early_but_not_whole_still_goes_to_a_thread(one_worker: LiveServer) -> None:
    # A chunk announced larger than every limit, mostly not sent yet: enough to refuse, not the whole request. The
    # loop reads only what it buffered, so it must leave this one to a thread, which reads on and answers 413 (the
    # loop would have found the body cut short: 400).
    head = (f"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {one_worker.tokens['evaluate']}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    with socket.create_connection((HOST, one_worker.port), timeout=10) as sock:
        sock.sendall(head + b"%x\r\n" % (8 << 20) + b"[" * 1000)
        time.sleep(0.3)
        try:
            sock.sendall(b"[" * (1 << 20))
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered already, having read what it needed
        status, _, body = _response(sock)
    assert (status, body["code"]) == (413, "payload_too_large")
