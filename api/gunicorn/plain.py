"""Plain requests: what the serving loop answers without gunicorn's per-request machinery.

gunicorn parses a request, applies its header policy, builds the WSGI environ and writes the
response in Python: 58 µs a decision here (its parser 40 of them), more than Flask's own
dispatch. The requests the serving loop runs itself (api/gunicorn/buffered.py) are whole in
its buffer already, so for the plain ones the loop does that work with httptools (llhttp, the
parser of Node.js and uvicorn, in C): 4 µs. Plain means:

- HTTP/1.1, a request line of single spaces and a path starting with `/`, ASCII throughout,
  one message that fills the buffer
  exactly (nothing pipelined behind it), within gunicorn's request-line and header limits;
- header names that are tokens without `_`, each sent once, none that gunicorn acts on
  rather than passes to the app: framing (`Transfer-Encoding`), `Expect`, `Upgrade`, a
  `Connection` other than keep-alive or close, the proxy headers (`Forwarded`,
  `X-Forwarded-*`, the configured secure-scheme and forwarder headers) and `SCRIPT_NAME`;
- a worker with gunicorn's default `pre_request` / `post_request` hooks, no gunicorn access
  log, no TLS and no PROXY protocol (otherwise nothing is plain).

Anything else goes through gunicorn as before, which answers what it refuses. For a plain
request the app gets the environ gunicorn would build and the client gets the bytes gunicorn
would write (status line, `Server`, `Date`, `Connection`, the app's headers checked as gunicorn
checks them, the body framed by its length or chunked): tests/api/test_api_plain.py holds the
two side by side on a table of requests.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import httptools
from gunicorn import SERVER, SERVER_SOFTWARE, util
from gunicorn.http.message import TOKEN_RE
from gunicorn.http.wsgi import HEADER_VALUE_RE, STATUS_RE, FileWrapper, WSGIErrorsWrapper, _make_early_hints_callback

__all__ = ["Plain", "PlainRequest", "PlainResponse"]

_NAME = re.compile(rb"[!#$%&'*+\-.^`|~0-9A-Za-z]+")  # a token without `_` (gunicorn drops those by default)
_ACTED_ON = frozenset({"transfer-encoding", "te", "trailer", "expect", "upgrade", "http2-settings", "forwarded",
                       "x-forwarded-for", "x-forwarded-proto", "x-forwarded-protocol", "x-forwarded-ssl",
                       "x-forwarded-host", "x-forwarded-port", "x-forwarded-prefix", "script-name", "proxy"})
_CONNECTION = frozenset({"keep-alive", "close"})
_HTTP_1_1 = SimpleNamespace(version=(1, 1))  # what gunicorn's early-hints callback asks of a request


@dataclass
class PlainRequest:
    """One plain request: its WSGI environ (without the per-connection keys) and whether the client keeps the
    connection open after it."""

    environ: dict[str, Any]
    keep_alive: bool


class _Reading:
    """httptools' callbacks: the request's target, headers and body, and how many messages began."""

    __slots__ = ("url", "headers", "body", "messages", "complete")

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.messages = 0
        self.complete = False

    def on_message_begin(self) -> None:
        self.messages += 1

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class Plain:
    """A worker's plain-request reader (None from `parse` for anything not plain) and response writer."""

    def __init__(self, cfg: Any) -> None:
        settings = cfg.settings
        self.usable = (settings["pre_request"].value is settings["pre_request"].default
                       and settings["post_request"].value is settings["post_request"].default
                       and cfg.accesslog is None and not cfg.is_ssl and cfg.proxy_protocol == "off")
        self._acted_on = _ACTED_ON | {h.lower() for h in cfg.secure_scheme_headers} | {
            h.lower().replace("_", "-") for h in cfg.forwarder_headers}
        self._line = cfg.limit_request_line or 1 << 30  # 0: unlimited, as in gunicorn
        self._fields = cfg.limit_request_fields
        self._field_size = cfg.limit_request_field_size or 1 << 30
        self._script_name = os.environ.get("SCRIPT_NAME", "")  # read per request by gunicorn; a worker's is fixed
        self._base = {"wsgi.errors": WSGIErrorsWrapper(cfg), "wsgi.version": (1, 0), "wsgi.multithread": True,
                      "wsgi.multiprocess": cfg.workers > 1, "wsgi.run_once": False, "wsgi.file_wrapper": FileWrapper,
                      "wsgi.input_terminated": True, "SERVER_SOFTWARE": SERVER_SOFTWARE,
                      "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http"}

    def parse(self, data: bytes | bytearray, client: Any, server: Any) -> PlainRequest | None:
        """The request in `data`, from `client` to `server` (the sockets' addresses), if it is plain (see the
        module), else None."""
        if not self.usable or not isinstance(client, tuple) or not isinstance(server, tuple):
            return None  # a UNIX socket: gunicorn takes SERVER_NAME from the Host header
        reading = _Reading()
        parser = httptools.HttpRequestParser(reading)
        try:
            parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):  # malformed, or an upgrade: gunicorn's
            return None
        if not reading.complete or reading.messages != 1 or parser.get_http_version() != "1.1":
            return None
        request = self._environ(data, parser, reading)
        if request is not None:
            request.environ.update({"REMOTE_ADDR": client[0], "REMOTE_PORT": str(client[1]),
                                    "SERVER_NAME": server[0], "SERVER_PORT": str(server[1])})
        return request

    def _environ(self, data: bytes | bytearray, parser: Any, reading: _Reading) -> PlainRequest | None:
        url, method = reading.url, parser.get_method()
        if (not data.startswith(b"%s %s HTTP/1.1\r\n" % (method, url))  # llhttp lets extra spaces through
                or not url.startswith(b"/") or b"#" in url or not url.isascii()
                or len(method) + len(url) + 10 > self._line or len(reading.headers) > self._fields):
            return None
        environ = dict(self._base)
        seen: set[str] = set()
        for raw_name, raw_value in reading.headers:
            if (not _NAME.fullmatch(raw_name) or not raw_value.isascii()
                    or len(raw_name) + len(raw_value) + 2 > self._field_size):
                return None
            name = raw_name.decode("ascii").lower()
            if name in seen or name in self._acted_on:
                return None
            seen.add(name)
            value = raw_value.decode("ascii").strip(" \t")
            if name == "content-type":
                environ["CONTENT_TYPE"] = value
            elif name == "content-length":
                environ["CONTENT_LENGTH"] = value
            else:
                if name == "connection" and value.lower() not in _CONNECTION:
                    return None
                environ["HTTP_" + name.upper().replace("-", "_")] = value
        target = url.decode("ascii")
        path, _, query = target.partition("?")
        if self._script_name:
            if not path.startswith(self._script_name):
                return None  # gunicorn refuses it (ConfigurationProblem)
            path = path[len(self._script_name):]
        environ.update({"wsgi.input": io.BytesIO(b"".join(reading.body)), "REQUEST_METHOD": method.decode("ascii"),
                        "QUERY_STRING": query, "RAW_URI": target, "PATH_INFO": util.unquote_to_wsgi_str(path),
                        "SCRIPT_NAME": self._script_name})
        return PlainRequest(environ, environ.get("HTTP_CONNECTION", "").lower() != "close")  # HTTP/1.1's default

    def respond(self, environ: dict[str, Any], app: Callable[..., Iterable[bytes]], keep_alive: bool,
                sock: Any) -> tuple[bytes, bool]:
        """Run `app` on `environ`: the response's bytes as gunicorn writes them, and whether the connection stays
        open (`keep_alive`: the client and the worker allow it). Raises what the app or its headers raise.
        `sock` gets only what the app sends ahead of its response (103 Early Hints, as gunicorn sends them)."""
        response = PlainResponse(keep_alive)
        environ["gunicorn.socket"] = sock
        environ["wsgi.early_hints"] = _make_early_hints_callback(_HTTP_1_1, sock, response)
        chunks = app(environ, response.start_response)
        try:
            for chunk in chunks:
                response.write(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return response.finish(), response.keep_alive


class PlainResponse:
    """gunicorn's HTTP/1.1 response (`gunicorn.http.wsgi.Response`), collected as bytes instead of written."""

    def __init__(self, keep_alive: bool) -> None:
        self.keep_alive = keep_alive
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.length: int | None = None
        self.chunked = False
        self.omits_body = False
        self.sent = 0
        self.headers_sent = False
        self._out: list[bytes] = []

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if exc_info:
            try:
                if self.status and self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("Response headers already set!")
        if not isinstance(status, str) or not STATUS_RE.fullmatch(status):
            raise ValueError(f"Invalid status {status!r}")
        code = int(status.split()[0])
        # RFC 9110: no body on 1xx, 204 and 304; no Content-Length on 1xx and 204.
        self.omits_body = code in (204, 304) or 100 <= code < 200
        self.status, self.headers, self.length = status, [], None
        for name, value in headers:
            if not isinstance(name, str) or not TOKEN_RE.fullmatch(name):
                raise ValueError(f"invalid response header name {name!r}")
            if not isinstance(value, str) or not HEADER_VALUE_RE.fullmatch(value):
                raise ValueError(f"invalid value for the response header {name!r}")
            value = value.strip(" \t")
            if name.lower() == "content-length":
                if code == 204 or 100 <= code < 200:
                    continue
                self.length = int(value)
            elif util.is_hoppish(name):
                continue  # gunicorn drops hop-by-hop headers an app sets
            self.headers.append((name, value))
        self.chunked = self.length is None and not self.omits_body
        return self.write

    def write(self, data: bytes) -> None:
        if not isinstance(data, bytes):
            raise TypeError(f"{data!r} is not a byte")
        self._head()
        if self.omits_body:
            return
        if self.chunked:
            if data:
                self._out.append(b"%X\r\n%s\r\n" % (len(data), data))
            return
        assert self.length is not None
        part = data[: max(self.length - self.sent, 0)]
        self.sent += len(part)
        self._out.append(part)

    def finish(self) -> bytes:
        self._head()
        if self.chunked:
            self._out.append(b"0\r\n\r\n")
        return b"".join(self._out)

    def _head(self) -> None:
        if self.headers_sent:
            return
        if self.status is None:
            raise AssertionError("the app wrote a body before calling start_response")
        lines = [f"HTTP/1.1 {self.status}\r\nServer: {SERVER}\r\nDate: {util.http_date()}\r\n"
                 f"Connection: {'keep-alive' if self.keep_alive else 'close'}\r\n"]
        if self.chunked:
            lines.append("Transfer-Encoding: chunked\r\n")
        lines.extend(f"{k}: {v}\r\n" for k, v in self.headers)
        lines.append("\r\n")
        self._out.append("".join(lines).encode("latin-1"))
        self.headers_sent = True
