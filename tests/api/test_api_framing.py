"""Where a request ends (api/gunicorn/framing.py): the buffered worker hands a request to a thread only then."""

from __future__ import annotations

import pytest

from api.gunicorn.framing import MAX_HEAD, complete, parse_head

HEAD = b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\n"
LIMIT = 1000


@pytest.mark.parametrize(("data", "whole"), ids=lambda v: v if isinstance(v, bool) else None, argvalues=[
    (b"", False),
    (HEAD, False),  # the head has not ended
    (HEAD + b"\r\n", True),  # no body
    (b"GET /healthz HTTP/1.1\r\n\r\n", True),
    (HEAD + b"Content-Length: 5\r\n\r\nabc", False),
    (HEAD + b"Content-Length: 5\r\n\r\nabcde", True),
    (HEAD + b"content-length:5\r\n\r\nabcde", True),  # names are case-insensitive, the space optional
    (HEAD + b"Content-Length: 5\r\n\r\nabcdeGET / HTTP/1.1\r\n", True),  # a pipelined request behind it
    (HEAD + b"Content-Length: 2000\r\n\r\nabc", True),  # over the limit: refused (413) without reading it
    (HEAD + b"Content-Length: x1\r\n\r\n", True),  # unreadable: gunicorn answers 400
    (HEAD + b"Content-Length: -1\r\n\r\n", True),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", False),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n", False),  # the trailer has not ended
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", True),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", True),  # an extension, a trailer
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\nZZ\r\nabc", True),  # not a hex size: 400
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", True),  # longer than its size: 400
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3;" + b"x" * 5000, True),  # an enormous extension: 400
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n7d0\r\n" + b"a" * 2000 + b"\r\n", True),  # over the limit: 413
    (HEAD + b"X: " + b"a" * MAX_HEAD, True),  # a head without an end past MAX_HEAD: gunicorn refuses it
])
def test_whole_or_enough_to_answer(data: bytes, whole: bool) -> None:
    assert complete(data, LIMIT) is whole


@pytest.mark.parametrize(("line", "expects"), [(b"Expect: 100-continue", True), (b"expect:100-Continue", True),
                                               (b"Expect: something", False), (b"X-Expect: 100-continue", False)])
def test_expect_100_continue(line: bytes, expects: bool) -> None:
    head = parse_head(HEAD + line + b"\r\nContent-Length: 3\r\n\r\n")
    assert head is not None and head.expects_continue is expects and head.length == 3
