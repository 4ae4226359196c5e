"""Plain requests (api/gunicorn/plain.py) side by side with gunicorn itself: the same environ for the app, the same
response bytes for the client; anything not plain is left to gunicorn, and the serving loop does leave it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from gunicorn import util
from gunicorn.config import Config
from gunicorn.http import wsgi
from gunicorn.http.parser import RequestParser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.gunicorn.buffered import BufferedWorker, _Inbox
from api.gunicorn.plain import Plain, PlainResponse
from api.gunicorn.worker import problem_page

CLIENT, SERVER = ("127.0.0.1", 50123), ("127.0.0.1", 8080)
BODY = b'{"facts": {"session": {"id": "s-0001"}}}'


def _post(target: bytes = b"/v1/decisions", headers: bytes = b"", body: bytes = BODY) -> bytes:
    return (b"POST " + target + b" HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n"
            + headers + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def _config(**settings: Any) -> Config:
    cfg = Config()
    for name, value in {"accesslog": None, "workers": 2, **settings}.items():
        cfg.set(name, value)
    return cfg


class _Socket:
    """What gunicorn's parser reads from and its response writes to."""

    def __init__(self, data: bytes = b"") -> None:
        self.data, self.sent = data, bytearray()

    def recv(self, size: int) -> bytes:
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk

    def sendall(self, data: bytes) -> None:
        self.sent += data

    send = sendall

    def gettimeout(self) -> float:
        return 0.0  # non-blocking, as the loop's sockets are


def _gunicorns(cfg: Config, raw: bytes) -> tuple[Any, dict[str, Any], _Socket]:
    sock = _Socket(raw)
    req = next(RequestParser(cfg, sock, CLIENT))
    resp, environ = wsgi.create(req, sock, CLIENT, SERVER, cfg)
    environ["wsgi.multithread"] = True  # as gunicorn's threaded worker sets it
    return resp, environ, sock


def _comparable(environ: dict[str, Any]) -> dict[str, Any]:
    """The environ with its objects replaced by what the app can tell of them."""
    out = dict(environ)
    out["wsgi.input"] = environ["wsgi.input"].read()
    for key in ("wsgi.errors", "wsgi.early_hints", "gunicorn.socket"):
        out[key] = type(environ.get(key)).__name__ if key != "wsgi.early_hints" else callable(environ.get(key))
    return out


PLAIN = [
    _post(),
    _post(b"/v1/decisions?explain=1&x=%20y"),
    _post(b"/cds-services/couples-attendance"),
    _post(b"/v1/d%C3%A9cisions"),  # percent-encoded: PATH_INFO unquoted, latin-1, as gunicorn gives it
    _post(headers=b"Authorization: Bearer abc.def\r\nX-Request-Id: r-1\r\nAccept: */*\r\nUser-Agent: t/1\r\n"),
    _post(headers=b"Connection: keep-alive\r\n"),
    _post(headers=b"Connection: close\r\n"),
    _post(headers=b"X-Padded:   spaced value \t\r\n"),  # optional whitespace around a value is not part of it
    _post(headers=b"x-lower-case: v\r\n"),
    _post(headers=b"X-Tab: a\tb\r\nX-Empty:\r\n"),
    b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Length: 02\r\n\r\n{}",  # a length with a leading zero
    _post(body=b""),
    _post(body=b'{"facts": "' + b"a" * 70_000 + b'"}'),
]


@pytest.mark.parametrize("raw", PLAIN, ids=range(len(PLAIN)))
def test_a_plain_request_gets_the_environ_gunicorn_builds(raw: bytes) -> None:
    cfg = _config()
    request = Plain(cfg).parse(bytearray(raw), CLIENT, SERVER)
    assert request is not None
    ours = dict(request.environ, **{"gunicorn.socket": _Socket(), "wsgi.early_hints": lambda headers: None})
    _, theirs, _ = _gunicorns(cfg, raw)
    assert _comparable(ours) == _comparable(theirs)
    assert request.keep_alive == (b"Connection: close" not in raw)


NOT_PLAIN = {
    "http/1.0": _post().replace(b"HTTP/1.1", b"HTTP/1.0", 1),
    "chunked": b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "expect": _post(headers=b"Expect: 100-continue\r\n"),
    "upgrade": _post(headers=b"Connection: Upgrade\r\nUpgrade: h2c\r\n"),
    "connection, other": _post(headers=b"Connection: TE\r\n"),
    "forwarded for": _post(headers=b"X-Forwarded-For: 10.0.0.1\r\n"),
    "forwarded proto": _post(headers=b"X-Forwarded-Proto: https\r\n"),
    "forwarded": _post(headers=b"Forwarded: for=10.0.0.1\r\n"),
    "script name": _post(headers=b"SCRIPT-NAME: /app\r\n"),
    "underscore": _post(headers=b"X_Thing: 1\r\n"),
    "twice": _post(headers=b"X-A: 1\r\nX-A: 2\r\n"),
    "host twice": _post(headers=b"Host: other\r\n"),
    "not ascii": _post(headers="X-Name: caf\u00e9\r\n".encode("latin-1")),
    "pipelined": _post() + _post(),
    "incomplete": _post()[:-3],
    "absolute target": _post(b"http://127.0.0.1:8080/v1/decisions"),
    "fragment": _post(b"/v1/decisions#x"),
    "bad length": b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Length: x1\r\n\r\n{}",
    "length twice": b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
    "long target": _post(b"/v1/decisions?" + b"q" * 5000),
    "many headers": _post(headers=b"".join(b"X-%d: v\r\n" % i for i in range(120))),
    "long header": _post(headers=b"X-Long: " + b"v" * 9000 + b"\r\n"),
    "not http": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    # What gunicorn refuses (400) stays gunicorn's to refuse.
    "obsolete folding": _post(headers=b"X-A: 1\r\n  continued\r\n"),
    "bare LF": _post().replace(b"\r\n", b"\n"),
    "space before colon": _post(headers=b"X-A : 1\r\n"),
    "NUL in a value": _post(headers=b"X-A: a\x00b\r\n"),
    "DEL in a value": _post(headers=b"X-A: a\x7fb\r\n"),
    "lower-case method": _post().replace(b"POST", b"post", 1),
    "two spaces in the request line": _post().replace(b"POST /", b"POST  /", 1),
    "signed length": b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\n{}",
}


@pytest.mark.parametrize("raw", NOT_PLAIN.values(), ids=NOT_PLAIN.keys())
def test_anything_else_is_left_to_gunicorn(raw: bytes) -> None:
    assert Plain(_config()).parse(bytearray(raw), CLIENT, SERVER) is None


@pytest.mark.parametrize("settings", [{"accesslog": "-"}, {"proxy_protocol": "v1"},
                                      {"pre_request": lambda worker, req: None},
                                      {"post_request": lambda worker, req, environ, resp: None}],
                         ids=["gunicorn access log", "proxy protocol", "pre_request", "post_request"])
def test_a_worker_whose_settings_act_on_each_request_has_no_plain_requests(settings: dict[str, Any]) -> None:
    assert Plain(_config(**settings)).parse(bytearray(_post()), CLIENT, SERVER) is None
    assert Plain(_config()).parse(bytearray(_post()), "unix-socket-peer", SERVER) is None


def test_a_configured_secure_scheme_or_forwarder_header_is_not_plain() -> None:
    cfg = _config(secure_scheme_headers={"X-Edge-Scheme": "https"}, forwarder_headers="X_EDGE_FOR")
    for header in (b"X-Edge-Scheme: https\r\n", b"X-Edge-For: 10.0.0.1\r\n"):
        assert Plain(cfg).parse(bytearray(_post(headers=header)), CLIENT, SERVER) is None
    assert Plain(cfg).parse(bytearray(_post(headers=b"X-Other: 1\r\n")), CLIENT, SERVER) is not None


def _app(status: str, headers: list[tuple[str, str]], chunks: list[bytes]) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response(status, headers)
        return chunks
    return app


JSON = ("Content-Type", "application/json")
RESPONSES = {
    "with its length": ("200 OK", [JSON, ("Content-Length", "4"), ("X-Request-Id", "r-1")], [b"{}", b"{}"]),
    "chunked": ("200 OK", [JSON], [b"{", b"", b"}"]),
    "longer than its length": ("200 OK", [("Content-Length", "3")], [b"abcdef"]),
    "an error": ("503 Service Unavailable", [("Content-Type", "application/problem+json"),
                                             ("Content-Length", "2"), ("Retry-After", "1")], [b"{}"]),
    "hop-by-hop dropped": ("200 OK", [("Content-Length", "2"), ("Connection", "close"), ("Keep-Alive", "x")],
                           [b"{}"]),
    "no content": ("204 No Content", [("Content-Length", "2"), ("X-A", "1")], [b"{}"]),
    "not modified": ("304 Not Modified", [("Content-Length", "2")], [b"{}"]),
    "padded value": ("200 OK", [("Content-Length", "2"), ("X-A", "  v \t")], [b"{}"]),
}


@pytest.mark.parametrize("keep", [True, False], ids=["kept alive", "closed"])
@pytest.mark.parametrize("case", RESPONSES.values(), ids=RESPONSES.keys())
def test_a_plain_response_is_the_bytes_gunicorn_writes(case: tuple[str, list[tuple[str, str]], list[bytes]],
                                                       keep: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(util, "http_date", lambda *a: "Wed, 02 Dec 2026 07:00:00 GMT")
    cfg = _config()
    raw = _post()
    request = Plain(cfg).parse(bytearray(raw), CLIENT, SERVER)
    assert request is not None
    ours, kept = Plain(cfg).respond(request.environ, _app(*case), keep, _Socket())
    resp, environ, sock = _gunicorns(cfg, raw)
    if not keep:
        resp.force_close()
    for chunk in _app(*case)(environ, resp.start_response):
        resp.write(chunk)
    resp.close()
    assert ours == bytes(sock.sent)
    assert kept == (not resp.should_close())


@pytest.mark.parametrize("headers", [[("Bad Name", "v")], [("X-A", "line\r\nbreak")], [("X-A", 1)]],
                         ids=["name", "value", "not a string"])
def test_a_response_header_gunicorn_refuses_is_refused(headers: list[tuple[str, Any]]) -> None:
    with pytest.raises((ValueError, TypeError)):
        PlainResponse(True).start_response("200 OK", headers)
    gunicorns, _, _ = _gunicorns(_config(), _post())
    with pytest.raises(Exception):  # noqa: B017 - gunicorn's own exception types
        gunicorns.start_response("200 OK", headers)


class _Connection:
    """gunicorn's connection as the serving loop holds it: the request in its buffer."""

    def __init__(self, raw: bytes) -> None:
        self.sock = _Inbox(_Socket(), 5.0)  # type: ignore[arg-type]
        self.sock.buf += raw
        self.client, self.server, self.inited = CLIENT, SERVER, 0

    def init(self) -> None:
        self.inited += 1


def _loop_worker(app: Callable[..., Iterable[bytes]], max_requests: int = 1000) -> tuple[BufferedWorker, list[Any],
                                                                                         list[tuple[bytes, bool]]]:
    """The serving worker's loop around `app`, without gunicorn's process: the connections gunicorn's own `handle`
    got, and what the loop sent on each (response bytes, kept alive)."""
    worker = BufferedWorker.__new__(BufferedWorker)
    worker.cfg = _config()
    worker.init_reading()
    worker.log = type("Log", (), {"debug": lambda *a: None, "info": lambda *a: None,
                                  "exception": lambda *a: None})()
    worker.nr, worker.max_requests, worker.alive = 0, max_requests, True
    worker.keepalived_conns, worker.max_keepalived = [], 100
    worker._plain = Plain(worker.cfg)
    worker.wsgi = app
    handled: list[Any] = []
    sent: list[tuple[bytes, bool]] = []
    worker.handle = lambda conn: handled.append(conn) or True  # type: ignore[method-assign]
    worker._send = lambda conn, keep: sent.append((bytes(conn.sock.outbox), keep))  # type: ignore[method-assign]
    return worker, handled, sent


def test_the_serving_loop_answers_a_plain_request_itself_and_leaves_the_rest_to_gunicorn() -> None:
    worker, handled, sent = _loop_worker(_app("200 OK", [JSON, ("Content-Length", "2")], [b"{}"]), max_requests=2)
    plain, forwarded = _Connection(_post()), _Connection(_post(headers=b"X-Forwarded-For: 10.0.0.1\r\n"))
    worker._serve(plain)
    worker._serve(forwarded)
    assert handled == [forwarded]  # gunicorn parsed the forwarded one
    assert sent[0][0].startswith(b"HTTP/1.1 200 OK\r\n") and sent[0][0].endswith(b"\r\n\r\n{}") and sent[0][1]
    assert plain.inited == 1 and not plain.sock.buf and worker.nr == 1
    # The second plain request reaches max_requests: the worker will recycle, so this answer closes the connection.
    worker._serve(_Connection(_post()))
    assert worker.nr == 2 and not worker.alive
    assert b"\r\nConnection: close\r\n" in sent[2][0] and sent[2][1] is False


def test_an_app_that_raises_on_a_plain_request_gets_gunicorns_500_and_the_connection_closes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raise RuntimeError("boom")

    worker, handled, sent = _loop_worker(app)
    monkeypatch.setattr(util, "write_error", problem_page)  # as the serving worker's init_process sets it
    worker._serve(_Connection(_post()))
    assert not handled and len(sent) == 1
    data, keep = sent[0]
    assert data.startswith(b"HTTP/1.1 500 Internal Server Error\r\n") and b"application/problem+json" in data
    assert keep is False


# Requests made of the bytes that trip parsers up: whatever the plain reader takes, gunicorn takes too, and gives the
# app the same environ. (The converse does not hold: what is not plain is left to gunicorn, even when it is valid.)
# Mostly well-formed, so that a good share is plain; each part sometimes odd.
_ODD = st.sampled_from([b" ", b"\t", b":", b"_", b"/", b"?", b"#", b"%", b"%2F", b"%zz", b"\r\n", b"\n", b"\x00",
                        b"\x7f", b"\xe9", b",", b";", b"=", b'"', b"  "])
_SAFE = st.text("abcXYZ019-.~", min_size=1, max_size=8).map(str.encode)
_PIECE = st.lists(st.integers(0, 9).flatmap(lambda i: _ODD if i == 0 else _SAFE), max_size=4).map(b"".join)
_NAMES = st.one_of(_SAFE, st.sampled_from([b"Host", b"Content-Type", b"Connection", b"Authorization", b"X-Request-Id",
                                           b"Transfer-Encoding", b"X-Forwarded-For", b"Expect", b"SCRIPT_NAME"]), _PIECE)


def _mostly(usual: bytes, *odd: bytes) -> st.SearchStrategy[bytes]:
    return st.sampled_from([usual] * 4 * len(odd) + list(odd))  # uniform over the list: odd one time in five


@st.composite
def _requests(draw: st.DrawFn) -> bytes:
    method = draw(_mostly(b"POST", b"GET", b"post", b"PO ST", b"POST "))
    target = draw(_mostly(b"/v1/decisions", b"/", b"*", b"http://x/v1")) + draw(_PIECE)
    version = draw(_mostly(b"HTTP/1.1", b"HTTP/1.0", b"HTTP/1.1 ", b"HTTP/2", b"http/1.1"))
    body = draw(st.binary(max_size=20))
    headers = draw(st.lists(st.tuples(_NAMES, _PIECE), max_size=5))
    if draw(st.integers(0, 4)):  # mostly the body's length, sometimes one off
        headers.append((b"Content-Length", str(len(body) + int(draw(_mostly(b"0", b"1", b"-1")))).encode()))
    lines = b"".join(name + draw(_mostly(b": ", b":", b" : ", b":  ")) + value + b"\r\n" for name, value in headers)
    return method + b" " + target + b" " + version + b"\r\n" + lines + b"\r\n" + body


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_requests())
def test_whatever_is_plain_gunicorn_parses_to_the_same_environ(raw: bytes) -> None:
    cfg = _config()
    request = Plain(cfg).parse(bytearray(raw), CLIENT, SERVER)
    if request is None:
        return
    _, theirs, _ = _gunicorns(cfg, raw)  # raises if gunicorn refuses what the plain reader took
    ours = dict(request.environ, **{"gunicorn.socket": _Socket(), "wsgi.early_hints": lambda headers: None})
    assert _comparable(ours) == _comparable(theirs)
