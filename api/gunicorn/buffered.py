"""The serving worker: requests are read whole by the worker's event loop, only then handed to a thread.

gunicorn's sync worker gives a whole process to each connection while it reads the
request; its gthread worker gives a thread. Either way a client sending a byte a second
holds what serves everyone else (with the sync worker's read deadline, for 10 s each
time). Here the worker's main loop (gunicorn's gthread loop: accept, keep-alive, the
thread pool) also reads every request: each connection's bytes are buffered without
blocking until the request is whole (`api.gunicorn.framing`), and only then does a
request thread parse it, run the app and answer. A slow client costs a buffer and a
file descriptor, not a thread: 64 clients trickling bytes do not delay anyone else.

Bounds: a request must arrive within its deadline (`deadline_for(timeout)`, from the
first byte's wait on; an idle kept-alive connection is closed after gunicorn's
`keepalive`); then the thread gets what arrived and the request fails as it did with the
sync worker (a body cut short: 400; a head: the connection is closed and one line is
logged). A body is buffered up to the app's body limit (more is refused without being
read), and all buffers of a worker together up to BUFFER_BUDGET: past it, a request goes
to a thread as it is and that thread reads the rest against the same deadline.
Responses are written by the thread, each write with the deadline's length.
Keep-alive is on (gunicorn's `keepalive`), so a client need not pay a new connection and
a lingering close for every request; and a lingering close (half-close, read until the
client closes, at most LINGER_S) happens in the loop, where gunicorn's blocks its main
thread for up to 2 s per connection that a client leaves open.

The routes the app names in its `LOOP_ROUTES` config (a decision: short, bounded work
ending in one commit) are run by the loop itself once their request is whole, each as a
greenlet of the loop's thread (`api.log.groupcommit.Cooperation`): each runs up to its
commit, the loop commits what they all queued in one transaction with one fsync, and
each goes on from there with its outcome. No thread hand-off, and one wait for the disk
per turn of the loop instead of one per request (issue 15). Their responses go to a
buffer the loop sends without blocking (what the socket does not take, it sends when the
client reads, within the same deadline), and they read only what the loop buffered. A plain
one (`api.gunicorn.plain`: HTTP/1.1, nothing gunicorn acts on) is parsed by httptools and
written as gunicorn writes it, without gunicorn's per-request objects; the others of these
routes go through gunicorn's parser in the loop. Every
other request, and any request not whole when dispatched (its deadline expired, the
buffers' budget exceeded, a pipelined request read ahead), goes to a thread as before.
"""

from __future__ import annotations

import errno
import logging
import selectors
import socket
import time
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import TConn, ThreadWorker

from api.gunicorn.framing import complete, parse_head, whole
from api.gunicorn.plain import Plain, PlainRequest
from api.gunicorn.worker import DeadlineSocket, deadline_for, problem_page
from api.log.groupcommit import Cooperation

__all__ = ["BUFFER_BUDGET", "BufferedWorker", "loop_routes"]

BUFFER_BUDGET = 64 * 1024 * 1024  # bytes buffered per worker across all connections still being read
LINGER_S = 2.0  # gunicorn's own close_graceful timeout
_READ = 256 * 1024
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_DEFAULT_LIMIT = 16 * 1024 * 1024
log = logging.getLogger("attendance_policy.server")


Route = tuple[bytes, tuple[bytes, ...]]  # method, path segments ("*": any one segment)


def loop_routes(config: Any) -> tuple[Route, ...]:
    """The app's `LOOP_ROUTES` ("POST /v1/decisions", "POST /cds-services/*", ...) as matchable routes."""
    routes = []
    for route in config.get("LOOP_ROUTES") or ():
        method, path = route.split(" ", 1)
        routes.append((method.encode("ascii"), tuple(path.encode("ascii").split(b"/"))))
    return tuple(routes)


def _routed(buf: bytearray, routes: tuple[Route, ...]) -> bool:
    """Whether the request line in `buf` is one of `routes` (the path as sent, without its query)."""
    line = bytes(buf[:buf.find(b"\r\n")]).split(b" ")
    if len(line) != 3:
        return False
    segments = line[1].split(b"?", 1)[0].split(b"/")
    return any(method == line[0] and len(path) == len(segments)
               and all(p == s or (p == b"*" and s) for p, s in zip(path, segments, strict=True))
               for method, path in routes)


_formatted: tuple[int, str] = (-1, "")  # (second, its date): -1 is no second, so the epoch second is formatted too
_http_date_of = util.http_date


def _http_date(timestamp: float | None = None) -> str:
    """gunicorn's Date header, formatted once a second instead of once a response (email.utils: ~5 µs)."""
    global _formatted
    if timestamp is not None:
        return str(_http_date_of(timestamp))
    now = int(time.time())
    if _formatted[0] != now:
        _formatted = (now, str(_http_date_of(now)))
    return _formatted[1]


class _Inbox(DeadlineSocket):
    """A client socket that first returns what the event loop buffered, then reads against the deadline."""

    def __init__(self, sock: Any, seconds: float) -> None:
        super().__init__(sock, seconds)
        self.buf = bytearray()
        self.continued = False  # the loop already sent 100 Continue for the request being read
        self.outbox: bytearray | None = None  # a request the loop runs: its response, sent by the loop

    def arm(self) -> None:
        """A new request starts: a fresh deadline, nothing buffered."""
        self._deadline = time.monotonic() + self._seconds
        self._expired = False
        self.continued = False

    def expire(self) -> None:
        self._deadline = 0.0

    def recv(self, size: int, *flags: int) -> bytes:
        if self.buf:
            data = bytes(self.buf[:size])
            del self.buf[:size]
            return data
        if self.outbox is not None:  # run by the loop, which must not wait: only what it buffered
            return b""
        return super().recv(size, *flags)

    def sendall(self, data: bytes, *flags: int) -> None:
        if self.outbox is not None:
            self.outbox += data
            return
        super().sendall(data, *flags)

    def send(self, data: bytes, *flags: int) -> int:
        if self.continued and data == _CONTINUE:  # gunicorn's own 100 Continue: the loop sent it already
            return len(data)
        if self.outbox is not None:
            self.outbox += data
            return len(data)
        self.settimeout(self._seconds)
        return int(self.socket.send(data, *flags))


class _Conn(TConn):  # type: ignore[misc]
    """gunicorn's connection, whose graceful close lingers in the worker's loop instead of blocking it."""

    def __init__(self, cfg: Any, sock: _Inbox, client: Any, server: Any, linger: Callable[[_Conn], None]) -> None:
        super().__init__(cfg, sock, client, server)
        self._linger = linger

    def close(self, graceful: bool = False) -> None:
        if graceful:
            self._linger(self)  # gunicorn's close_graceful waits up to 2 s for the client: here, in the loop
        else:
            util.close(self.sock)


class BufferedWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's gthread worker whose main loop reads each request whole before a thread handles it."""

    def init_process(self) -> None:
        self.init_reading()
        util.write_error = problem_page  # gunicorn's answers to unparsable requests, as problem documents
        util.http_date = _http_date  # every response's Date header
        super().init_process()  # loads the app, then runs the loop

    def init_reading(self) -> None:
        """The loop's state for reading requests (before the app is loaded and the loop runs)."""
        self._reading: dict[Any, float] = {}  # connection -> when its request must have arrived
        self._lingering: dict[Any, float] = {}  # closed for writing, read until the client closes, or until then
        self._writing: dict[Any, tuple[float, bool]] = {}  # a loop-run response not sent yet: deadline, keep-alive
        self._ready: list[Any] = []  # whole requests of loop routes, run at the end of this turn of the loop
        self._together = Cooperation()
        self._routes: tuple[Route, ...] = ()
        self._plain: Plain | None = None  # how the loop answers its plain requests (with the app: load_wsgi)
        self._buffered = 0
        # Every read lands in this one buffer. `recv(_READ)` allocated _READ bytes per read, then shrank them to what
        # came: glibc's main heap fragmented around those holes, and workers kept growing (docs/reliability.md 6).
        self._scratch = bytearray(_READ)
        self._scratch_view = memoryview(self._scratch)
        self._limit = _DEFAULT_LIMIT
        self._seconds = deadline_for(self.cfg.timeout)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        config = getattr(self.wsgi, "config", None) or {}
        self._limit = int(config.get("MAX_CONTENT_LENGTH") or _DEFAULT_LIMIT)  # a larger body is not buffered
        self._routes = loop_routes(config)
        self._plain = Plain(self.cfg)

    def accept(self, listener: Any) -> None:
        try:
            client, addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = _Conn(self.cfg, _Inbox(client, self._seconds), addr, listener.getsockname(), self._linger)
        self._start_reading(conn)

    def on_client_socket_readable(self, conn: Any, client: Any) -> None:
        """A kept-alive connection's next request begins: read it in the loop too."""
        self.keepalived_conns.remove(conn)
        self._start_reading(conn, registered=True)
        self._on_readable(conn, client)

    def _start_reading(self, conn: Any, registered: bool = False) -> None:
        conn.sock.arm()
        self._reading[conn] = time.monotonic() + self._seconds
        if registered:  # kept alive: already non-blocking and watched for reading, only its callback changes
            self.poller.modify(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))
        else:
            conn.sock.setblocking(False)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _on_readable(self, conn: Any, _client: Any) -> None:
        inbox: _Inbox = conn.sock
        try:
            n = inbox.socket.recv_into(self._scratch)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            n = 0
        eof = n == 0
        inbox.buf += self._scratch_view[:n]
        self._buffered += n
        if eof and not inbox.buf:
            self._drop(conn)
        elif eof or self._buffered > BUFFER_BUDGET:
            self._dispatch(conn)
        elif complete(inbox.buf, self._limit):
            self._dispatch(conn, whole=whole(inbox.buf, self._limit))
        else:
            self._continue(inbox)

    def _continue(self, inbox: _Inbox) -> None:
        """A client that sent `Expect: 100-continue` waits for it before its body: send it from the loop."""
        if inbox.continued:
            return
        head = parse_head(inbox.buf)
        if head is not None and head.expects_continue and len(inbox.buf) == head.body_at:
            try:
                inbox.socket.send(_CONTINUE)
                inbox.continued = True
            except OSError:
                pass

    def _stop_reading(self, conn: Any) -> None:
        self._reading.pop(conn, None)
        self._buffered -= len(conn.sock.buf)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass

    def _drop(self, conn: Any) -> None:
        self._stop_reading(conn)
        self.nr_conns -= 1
        conn.close()

    def _dispatch(self, conn: Any, whole: bool = False) -> None:
        self._stop_reading(conn)
        conn.data_ready = True  # the thread must not wait for the socket: the request is in the buffer
        if whole and self._routes and _routed(conn.sock.buf, self._routes):
            self._ready.append(conn)
        else:
            self.enqueue_req(conn)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        """One turn of the loop: what became readable or writable, then the loop routes' requests it completed."""
        super().wait_for_and_dispatch_events(timeout)
        if self._ready:
            ready, self._ready = self._ready, []
            with self._together:
                for conn in ready:
                    self._together.run(self._serve, conn)

    def _serve(self, conn: Any) -> None:
        """Run one request in the loop (a greenlet; it waits for its commit in `Cooperation.settle`), then send."""
        conn.sock.outbox = bytearray()
        plain = self._plain.parse(conn.sock.buf, conn.client, conn.server) if self._plain else None
        self._send(conn, self._answer(conn, plain) if plain is not None else bool(self.handle(conn)))

    def _answer(self, conn: Any, request: PlainRequest) -> bool:
        """A plain request (api.gunicorn.plain) with gunicorn's bookkeeping around it (its default `pre_request`
        line, the request count that recycles the worker, when to keep the connection); whether to keep it."""
        inbox: _Inbox = conn.sock
        inbox.buf.clear()
        conn.init()  # once per connection: gunicorn's parser, for a later request that is not plain
        environ = request.environ
        self.log.debug("%s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
        self.nr += 1
        if self.nr >= self.max_requests and self.alive:  # type: ignore[has-type]
            self.log.info("Autorestarting worker after current request.")
            self.alive = False
        keep = (request.keep_alive and self.alive and bool(self.cfg.keepalive)
                and len(self.keepalived_conns) < self.max_keepalived)
        assert self._plain is not None
        try:
            data, keep = self._plain.respond(environ, self.wsgi, keep, inbox)
        except Exception:  # as gunicorn: logged, a 500, the connection closed
            self.log.exception("Error handling request")
            util.write_error(inbox, 500, "Internal Server Error", "")
            return False
        assert inbox.outbox is not None
        inbox.outbox += data
        return keep

    def _send(self, conn: Any, keep: bool) -> None:
        inbox: _Inbox = conn.sock
        assert inbox.outbox is not None
        try:
            inbox.socket.setblocking(False)
            sent = inbox.socket.send(inbox.outbox) if inbox.outbox else 0
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as e:
            self._sent(conn, e)
            return
        del inbox.outbox[:sent]
        if not inbox.outbox:
            self._sent(conn, keep)
        elif conn not in self._writing:  # the client reads slowly: the rest once it can take it
            self._writing[conn] = (time.monotonic() + self._seconds, keep)
            self.poller.register(inbox, selectors.EVENT_WRITE, partial(self._on_writable, conn))

    def _on_writable(self, conn: Any, _client: Any) -> None:
        self._send(conn, self._writing[conn][1])

    def _sent(self, conn: Any, outcome: bool | OSError) -> None:
        """The response is out (or failed): the connection goes back to gunicorn's keep-alive or close."""
        if self._writing.pop(conn, None) is not None:
            self.poller.unregister(conn.sock)
        conn.sock.outbox = None
        done: Any = Future()
        if isinstance(outcome, OSError):
            done.set_exception(outcome)
        else:
            done.set_result(outcome)
        self.finish_request(conn, done)

    def murder_pending(self) -> None:
        """Each loop turn: a request not arrived by its deadline goes to a thread as it is (it fails there)."""
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c, deadline in self._reading.items() if deadline <= now]:
            conn.sock.expire()  # the thread parses what arrived; its first read past it logs and closes
            self._dispatch(conn)
        for conn in [c for c, deadline in self._lingering.items() if deadline <= now]:
            self._end_linger(conn)
        for conn in [c for c, (deadline, _) in self._writing.items() if deadline <= now]:
            log.warning("closed a connection: the client did not read its response within %gs", self._seconds)
            self._sent(conn, TimeoutError("the client did not read its response"))

    def _linger(self, conn: Any) -> None:
        """RFC 9112 9.6: half-close, then read what the client still sends until it closes (at most LINGER_S), so
        unread bytes cannot turn the close into a reset that cuts the response; without a thread or the loop
        waiting on it."""
        sock = conn.sock.socket
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_lingering, conn))
        except (OSError, ValueError, KeyError):
            util.close(conn.sock)
            return
        self._lingering[conn] = time.monotonic() + LINGER_S

    def _on_lingering(self, conn: Any, _client: Any) -> None:
        try:
            if conn.sock.socket.recv_into(self._scratch):
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        self._end_linger(conn)

    def _end_linger(self, conn: Any) -> None:
        self._lingering.pop(conn, None)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        util.close(conn.sock)

    def finish_request(self, conn: Any, fs: Any) -> None:
        if conn.parser is not None and conn.parser.unreader.buf.getvalue():
            conn.sock.arm()  # a pipelined request: the thread reads it straight on, with its own deadline
        super().finish_request(conn, fs)
