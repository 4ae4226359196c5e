"""A client's read deadline, and gunicorn's own answers as problem documents: for the serving worker.

A request must arrive within one deadline (at most CLIENT_DEADLINE_S, and under half
the worker `timeout`, so the master never has to step in); a read past it raises
ClientTooSlow (gunicorn closes such a connection quietly) and the worker logs one line.
Each response write gets the same time, so a client that stops reading cannot hold a
thread for longer either. The serving worker (api/gunicorn/buffered.py) reads requests in
its event loop; this deadline bounds what a thread still has to read itself.

A request gunicorn cannot parse (a broken request line, a header over its limits: 400, 414,
431) is answered by gunicorn before the app sees it; `problem_page` sends that answer as an
RFC 9457 problem (`malformed_http`) with the security headers, like every other error.
"""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from typing import Any

from gunicorn import util
from gunicorn.http.errors import NoMoreData

from api.http.headers import SECURITY_HEADERS
from api.http.problems import TYPE_BASE

__all__ = ["CLIENT_DEADLINE_S", "ClientTooSlow", "DeadlineSocket", "deadline_for", "problem_page"]

CLIENT_DEADLINE_S = 10.0
log = logging.getLogger("attendance_policy.server")


class ClientTooSlow(NoMoreData):
    """The request did not arrive before its deadline (gunicorn closes such a connection quietly)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(b"")
        self.seconds = seconds

    def __str__(self) -> str:
        return f"the request did not arrive within {self.seconds:g}s"


class DeadlineSocket:
    """A client socket whose reads share one deadline; each write gets `seconds` on its own."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self._sock = sock
        self._seconds = seconds
        self._deadline = time.monotonic() + seconds
        self._closing = False
        self._expired = False

    def recv(self, size: int, *flags: int) -> bytes:
        if self._closing:  # gunicorn drains the socket after answering; not for a client already too slow
            return b"" if self._expired else self._sock.recv(size, *flags)
        remaining = self._deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining)
            return self._sock.recv(size, *flags)
        except TimeoutError:
            self._expired = True
            log.warning("closed a connection: %s", ClientTooSlow(self._seconds))
            raise ClientTooSlow(self._seconds) from None

    def sendall(self, data: bytes, *flags: int) -> None:
        self._sock.settimeout(self._seconds)
        self._sock.sendall(data, *flags)

    @property
    def socket(self) -> socket.socket:
        """The client socket itself."""
        return self._sock

    def shutdown(self, how: int) -> None:
        self._closing = True
        self._sock.shutdown(how)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def deadline_for(timeout: float) -> float:
    """Seconds a client has to send one request, given gunicorn's silent-worker timeout."""
    return max(0.5, min(CLIENT_DEADLINE_S, timeout / 2))


def problem_page(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's answer to a request it cannot parse (400, 414, 431...), as a problem document, not HTML."""
    body = json.dumps({"type": TYPE_BASE + "malformed_http", "title": reason, "status": status_int, "detail": mesg,
                       "code": "malformed_http", "instance": f"urn:attendance-policy:request:{uuid.uuid4().hex}"},
                      separators=(",", ":")).encode()
    head = [f"HTTP/1.1 {status_int} {reason}", "Connection: close", "Content-Type: application/problem+json",
            f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in SECURITY_HEADERS.items())]
    util.write_nonblock(sock, ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
