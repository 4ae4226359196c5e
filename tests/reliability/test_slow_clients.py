"""Slow clients cannot stop the default `serve` (issue 15; the measurement is scripts/slow_clients.py).

Eight connections sending a byte a second took the service off the air: each held a sync
worker until its read deadline. The buffered worker (api/gunicorn/buffered.py) reads every
request in its event loop, so 64 such connections hold no thread. Bounded by counts and socket
timeouts, not by measured times: while 64 connections sit on half-sent requests, normal
decisions are answered, each within half the read deadline (the sync worker could answer
none before a slow connection reached its deadline), and the slow connections stay open.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.config.settings import Settings
from api.gunicorn.worker import deadline_for
from support.live import HOST, LiveServer
from support.rawhttp import http_request
from support.service import facts

SLOW = 64


@pytest.fixture
def default_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer.create(tmp_path, server={"max_requests": None}).start()  # the default settings
    try:
        yield server
    finally:
        server.stop()


def _half_sent(port: int, part: bytes) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=10)
    sock.sendall(part)
    return sock


def _still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        sock.recv(1)
    except BlockingIOError:
        return True  # nothing to read and no end of stream: the server holds it open, as it should
    except OSError:
        return False
    return False  # closed, or answered before its request was whole


def test_64_slow_connections_do_not_stop_normal_requests(default_server: LiveServer) -> None:
    server = default_server
    body = json.dumps({"facts": facts("slow")}).encode()
    request = http_request("POST", "/v1/decisions", body=body, headers={"Content-Type": "application/json"})
    # Half of them stop inside the head, half inside the body: neither may hold a thread.
    cuts = [len(request) - len(body) - 10, len(request) - 10]
    slow = [_half_sent(server.port, request[:cuts[i % 2]]) for i in range(SLOW)]
    try:
        bound = deadline_for(Settings().timeout) / 2
        for i in range(20):
            reply = server.request("POST", "/v1/decisions", {"facts": facts(f"beside-slow-{i}")}, role="evaluate",
                                   timeout=bound)
            assert reply.status == 200 and reply.json()["session_id"] == f"beside-slow-{i}"
        assert [_still_open(s) for s in slow] == [True] * SLOW
    finally:
        for s in slow:
            s.close()


def test_clients_that_never_close_do_not_stall_the_worker(default_server: LiveServer) -> None:
    """A `Connection: close` answer is followed by a lingering close (read until the client closes, at most 2 s);
    gunicorn's blocked the worker's event loop meanwhile, so 32 clients that never close stalled it for 32 s."""
    server = default_server
    request = http_request("GET", "/healthz")
    idle = [_half_sent(server.port, request) for _ in range(32)]  # whole requests; never read, never closed
    try:
        for i in range(20):
            reply = server.request("POST", "/v1/decisions", {"facts": facts(f"beside-idle-{i}")}, role="evaluate",
                                   timeout=1.0)  # half the linger of one connection
            assert reply.status == 200
    finally:
        for s in idle:
            s.close()


def _read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length, read off a kept-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_expect_100_continue_and_keep_alive(default_server: LiveServer) -> None:
    """A client waiting for 100 Continue gets it from the event loop; a kept-alive connection's next request,
    trickled, is read whole again."""
    server = default_server
    auth = f"Bearer {server.tokens['evaluate']}"
    def request(session: str, expect: str = "") -> tuple[bytes, bytes]:
        body = json.dumps({"facts": facts(session)}).encode()
        return (f"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{expect}\r\n").encode(), body

    head, body = request("continued", "Expect: 100-continue\r\n")
    with socket.create_connection((HOST, server.port), timeout=10) as sock:
        sock.sendall(head)
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        first = _read_response(sock)
        assert first.startswith(b"HTTP/1.1 200") and b'"session_id":"continued"' in first
        assert b"100 Continue" not in first  # gunicorn's own was not sent a second time
        again = b"".join(request("trickled"))
        for i in range(0, len(again), 50):
            sock.sendall(again[i:i + 50])
        second = _read_response(sock)
        assert second.startswith(b"HTTP/1.1 200") and b'"session_id":"trickled"' in second
