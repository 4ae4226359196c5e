"""Hostile requests against the real server: each is refused with a 4xx before the engine, and no worker dies.

"Before the engine" is shown by the decision log: a request that reached durable_rules
would have been logged (or failed with a 5xx); here the log does not grow and every answer
is a 4xx problem. "No worker dies" is shown by the workers' pids, unchanged by every test.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from typing import Any

import pytest

from support.live import LiveServer
from support.logdb import decision_count
from support.rawhttp import body_of, header_of, http_request, raw_exchange, read_all, status_of
from support.service import TOKENS, facts

pytestmark = pytest.mark.skipif(not __import__("pathlib").Path("/proc/net/tcp").exists(),
                                reason="reads worker pids in /proc")

EVALUATE = {"Authorization": f"Bearer {TOKENS['evaluate']}"}
JSON = {**EVALUATE, "Content-Type": "application/json"}
MB = 1024 * 1024


def _facts_doc(**sections: Any) -> dict[str, Any]:
    return {"facts": {"session": {"id": "hostile-1", "type": "couples"}, **sections}}


def _deep(n: int, open_: str = "[", close: str = "]") -> str:
    return open_ * n + close * n


# (id, path, body bytes, content type, status, code)
CASES: list[tuple[str, str, bytes, str, int, str]] = [
    ("nan", "/v1/decisions", b'{"facts": {"session": {"id": "s", "type": "couples"}, '
                             b'"history": {"program_hours_this_week": NaN}}}', "application/json", 400, "malformed_json"),
    ("infinity", "/v1/decisions", b'{"facts": {"session": {"id": "s", "type": "couples"}, '
                                  b'"history": {"program_hours_this_week": Infinity}}}', "application/json", 400,
     "malformed_json"),
    ("-infinity", "/v1/decisions", b'{"facts": {"session": {"id": "s", "type": "couples"}, '
                                   b'"plan": {"discharge_in_days": -Infinity}}}', "application/json", 400,
     "malformed_json"),
    ("1e400 overflows to inf", "/v1/decisions", b'{"facts": {"session": {"id": "s", "type": "couples"}, '
                                                b'"history": {"program_hours_this_week": 1e400}}}',
     "application/json", 400, "invalid_facts"),
    ("int beyond 64 bits", "/v1/decisions", b'{"facts": {"session": {"id": "s", "type": "couples"}, '
                                            b'"history": {"consecutive_joint_sessions_missed": '
                                            b'340282366920938463463374607431768211457}}}', "application/json", 400,
     "invalid_facts"),
    ("negative int beyond 64 bits", "/v1/decisions", b'{"facts": {"session": {"id": "s", "type": "couples"}, '
                                                     b'"attendance": {"partners_present": -18446744073709551617}}}',
     "application/json", 400, "invalid_facts"),
    ("5000-digit int", "/v1/decisions", b'{"facts": {"session": {"id": "s", "type": "couples"}, "plan": '
                                        b'{"discharge_in_days": ' + b"9" * 5000 + b"}}}", "application/json", 400,
     "malformed_json"),
    ("invalid utf-8", "/v1/decisions", b'{"facts": {"session": {"id": "\xff\xfe", "type": "couples"}}}',
     "application/json", 400, "malformed_json"),
    ("overlong utf-8", "/v1/decisions", b'{"facts": {"session": {"id": "\xc0\xaf", "type": "couples"}}}',
     "application/json", 400, "malformed_json"),
    ("utf-8 encoded surrogate", "/v1/decisions", b'{"facts": {"session": {"id": "\xed\xa0\x80", "type": "couples"}}}',
     "application/json", 400, "malformed_json"),
    ("lone surrogate escape in a value", "/v1/decisions",
     b'{"facts": {"session": {"id": "s\\ud800", "type": "couples"}}}', "application/json", 400, "malformed_json"),
    ("lone surrogate escape in a key", "/v1/decisions",
     b'{"facts": {"session": {"id": "s", "type": "couples"}, "\\udc00": 1}}', "application/json", 400,
     "malformed_json"),
    ("raw NUL byte", "/v1/decisions", b'{"facts": {"session": {"id": "s\x00", "type": "couples"}}}',
     "application/json", 400, "malformed_json"),
    ("NUL escape in an id", "/v1/decisions", b'{"facts": {"session": {"id": "s\\u0000t", "type": "couples"}}}',
     "application/json", 400, "malformed_json"),
    ("NUL escape in an enum", "/v1/decisions", b'{"facts": {"session": {"id": "s", "type": "couples\\u0000"}}}',
     "application/json", 400, "malformed_json"),
    ("newline escape in an id", "/v1/decisions", b'{"facts": {"session": {"id": "a\\nb", "type": "couples"}}}',
     "application/json", 400, "malformed_json"),
    ("UTF-8 BOM", "/v1/decisions", b'\xef\xbb\xbf{"facts": {"session": {"id": "s", "type": "couples"}}}',
     "application/json", 400, "malformed_json"),
    ("key $s (the engine's state marker)", "/v1/decisions",
     b'{"facts": {"session": {"id": "s", "type": "couples"}, "$s": 1}}', "application/json", 400, "invalid_facts"),
    ("key sid inside a section", "/v1/decisions",
     b'{"facts": {"session": {"id": "s", "type": "couples", "sid": "1"}}}', "application/json", 400,
     "invalid_facts"),
    ("dotted key", "/v1/decisions",
     b'{"facts": {"session": {"id": "s", "type": "couples"}, "clinical.safety_concern": true}}',
     "application/json", 400, "invalid_facts"),
    ("$-operator key", "/v1/decisions",
     b'{"facts": {"session": {"id": "s", "type": "couples"}, "clinical": {"$or": [{"safety_concern": true}]}}}',
     "application/json", 400, "invalid_facts"),
    ("$ key in the envelope", "/v1/decisions", b'{"facts": {}, "$where": "1"}', "application/json", 400,
     "invalid_request"),
    ("duplicate keys", "/v1/decisions", b'{"facts": {"session": {"id": "s", "type": "couples", "type": "group"}}}',
     "application/json", 400, "malformed_json"),
    ("60 KB id", "/v1/decisions", json.dumps(_facts_doc() | {"facts": {"session": {
        "id": "x" * 60_000, "type": "couples"}}}).encode(), "application/json", 400, "invalid_facts"),
    ("60 KB key", "/v1/decisions", json.dumps({"facts": {"session": {"id": "s", "type": "couples"},
                                                         "k" * 60_000: 1}}).encode(), "application/json", 400,
     "invalid_facts"),
    ("3 MB string in a batch item", "/v1/decisions:batch",
     json.dumps({"items": [{"facts": {"session": {"id": "x" * 3 * MB, "type": "couples"}}}]}).encode(),
     "application/json", 200, ""),
    ("100,000-deep arrays", "/v1/decisions:batch", ('{"items": ' + _deep(100_000) + "}").encode(),
     "application/json", 400, "malformed_json"),
    ("100,000-deep objects", "/v1/decisions:batch",
     ('{"items": [{"facts": ' + '{"a": ' * 100_000 + "1" + "}" * 100_000 + "}]}").encode(), "application/json", 400,
     "malformed_json"),
    ("30,000-deep arrays in one decision", "/v1/decisions", _deep(30_000).encode(), "application/json", 400,
     "malformed_json"),
    ("text/plain", "/v1/decisions", json.dumps(_facts_doc()).encode(), "text/plain", 415, "unsupported_media_type"),
    ("form", "/v1/decisions", b"facts=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ("multipart", "/v1/decisions", b"--b\r\n\r\n--b--", "multipart/form-data; boundary=b", 415,
     "unsupported_media_type"),
    ("latin-1 JSON", "/v1/decisions", json.dumps(_facts_doc()).encode(), "application/json; charset=latin-1", 415,
     "unsupported_media_type"),
    ("utf-16 JSON", "/v1/decisions", json.dumps(_facts_doc()).encode("utf-16"), "application/json; charset=utf-16",
     415, "unsupported_media_type"),
    ("no content type", "/v1/decisions", json.dumps(_facts_doc()).encode(), "", 415, "unsupported_media_type"),
    ("xml", "/v1/decisions", b"<facts/>", "application/xml", 415, "unsupported_media_type"),
]


@pytest.mark.parametrize(("path", "body", "ctype", "status", "code"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_hostile_bodies_are_refused_before_the_engine(live: LiveServer, same_workers: list[int], path: str, body: bytes,
                                                      ctype: str, status: int, code: str) -> None:
    logged = decision_count(live.database)
    headers = {**EVALUATE, **({"Content-Type": ctype} if ctype else {})}
    response = raw_exchange(live.port, http_request("POST", path, body=body, headers=headers))
    assert status_of(response) == status, response[:600]
    document = json.loads(body_of(response))
    if status == 200:  # a batch answers per item: the item is refused
        assert [r["status"] for r in document["results"]] == [400]
        assert document["results"][0]["problem"]["code"] == "invalid_facts"
    else:
        assert header_of(response, "Content-Type") == "application/problem+json"
        assert document["code"] == code, document
    assert decision_count(live.database) == logged


@pytest.mark.parametrize("path", ["/v1/decisions", "/v1/decisions:batch"])
def test_a_10_mb_body_is_refused_before_it_is_read(live: LiveServer, same_workers: list[int], path: str) -> None:
    head = http_request("POST", path, headers=JSON).replace(b"Content-Length: 0", f"Content-Length: {10 * MB}".encode())
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        sock.sendall(head)  # headers only: the answer comes before any of the 10 MB is sent
        response = read_all(sock)
    assert status_of(response) == 413
    assert json.loads(body_of(response))["code"] == "payload_too_large"


@pytest.mark.parametrize("path", ["/v1/decisions", "/v1/decisions:batch"])
def test_a_10_mb_chunked_body_is_cut_off_at_the_limit(live: LiveServer, same_workers: list[int], path: str) -> None:
    chunk = b"[" * MB
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(10)) + b"0\r\n\r\n"
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n" \
           f"Authorization: {EVALUATE['Authorization']}\r\nConnection: close\r\n\r\n"
    response = raw_exchange(live.port, head.encode() + body)
    assert status_of(response) == 413
    assert json.loads(body_of(response))["code"] == "payload_too_large"


@pytest.mark.parametrize("chunked", [
    b"ZZ\r\nabc\r\n0\r\n\r\n",  # not a hex size
    b"5\r\n{\"factsXX\r\n0\r\n\r\n",  # a chunk longer than its size: no terminator where it must be
    b"3;" + b"x" * 70_000 + b"\r\nabc\r\n0\r\n\r\n",  # an enormous chunk extension
])
def test_a_broken_chunked_body_is_a_400_not_a_500(live: LiveServer, same_workers: list[int], chunked: bytes) -> None:
    """Regression: gunicorn's chunk errors surfaced inside the app and became 500 internal_error."""
    head = f"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" \
           f"Transfer-Encoding: chunked\r\nAuthorization: {EVALUATE['Authorization']}\r\nConnection: close\r\n\r\n"
    response = raw_exchange(live.port, head.encode() + chunked)
    assert 400 <= status_of(response) < 500, response[:400]


MALFORMED_IDS = ["request line 9000 bytes", "header 9000 bytes", "200 headers", "NUL in a header", "TLS hello",
                 "HTTP/9.9"]


@pytest.mark.parametrize(("request_bytes", "statuses"), ids=MALFORMED_IDS, argvalues=[
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", {414}),  # request line over gunicorn's limit
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", {400, 431}),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n",
     {400, 431}),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\x00b\r\n\r\n", {400}),
    # a TLS hello on the plain port: refused, or (no line end ever comes) closed at the request deadline
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64, {0, 400}),
    (b"GET /healthz HTTP/9.9\r\n\r\n", {400, 505}),
])
def test_malformed_http_is_answered_by_gunicorn(live: LiveServer, same_workers: list[int], request_bytes: bytes,
                                                statuses: set[int]) -> None:
    """Regression D13: gunicorn answered these with an HTML page; now a problem document with the security headers."""
    response = raw_exchange(live.port, request_bytes)
    assert status_of(response) in statuses
    if status_of(response):
        assert header_of(response, "Content-Type") == "application/problem+json"
        assert header_of(response, "X-Content-Type-Options") == "nosniff"
        problem = json.loads(body_of(response))
        assert (problem["code"], problem["status"]) == ("malformed_http", status_of(response))


def _slowloris(port: int, result: dict[str, Any], lines: int = 60) -> None:
    """Send a request's headers one line every half second until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\n")
            for i in range(lines):
                time.sleep(0.5)
                sock.sendall(b"X-Slow-%d: 1\r\n" % i)
            result["closed_by_server"] = False
        except OSError:
            result["closed_by_server"] = True


def test_slow_clients_do_not_hold_or_kill_workers(live: LiveServer, same_workers: list[int]) -> None:
    """Regression: the sync worker waited on a slow client until the master killed it (timeout, new pid)."""
    results: list[dict[str, Any]] = [{} for _ in range(2)]  # one per worker: nothing left to serve others
    threads = [threading.Thread(target=_slowloris, args=(live.port, r)) for r in results]
    for t in threads:
        t.start()
    time.sleep(0.5)
    status, decision = live.call("POST", "/v1/decisions", {"facts": facts("after-slowloris")}, role="evaluate")
    for t in threads:
        t.join(timeout=60)
    assert status == 200 and decision["session_id"] == "after-slowloris"
    assert [r.get("closed_by_server") for r in results] == [True, True]
    deadline = live.config()["server"]["timeout"] / 2  # the sync worker's read deadline: half gunicorn's timeout
    assert f"the request did not arrive within {deadline:g}s" in live.log_text()


def test_a_slow_body_is_cut_off_with_a_400(live: LiveServer, same_workers: list[int]) -> None:
    body = json.dumps({"facts": facts("slow-body")}).encode()
    head = http_request("POST", "/v1/decisions", body=body, headers=JSON)[: -len(body)]
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        sock.sendall(head)
        try:
            for byte in body:
                if select.select([sock], [], [], 0.5)[0]:
                    break  # the server answered: stop sending
                sock.sendall(bytes([byte]))
        except OSError:
            pass
        response = read_all(sock)
    assert status_of(response) == 400
    problem = json.loads(body_of(response))
    assert problem["code"] == "invalid_request" and "the request body could not be read" in problem["detail"]


def test_an_idle_connection_is_closed(live: LiveServer, same_workers: list[int]) -> None:
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        assert sock.recv(1) == b""  # the server closes it: no request arrived in time
