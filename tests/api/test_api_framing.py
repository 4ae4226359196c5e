"""Where a request ends (api/gunicorn/framing.py): the buffered worker hands a request to a thread only then."""

from __future__ import annotations

import pytest

from api.gunicorn.framing import MAX_HEAD, complete, parse_head, whole

HEAD = b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\n"
LIMIT = 1000


# partial: keep reading; answerable: gunicorn or the app can refuse it now (a thread does, reading more if it must);
# whole: the entire request is there, body included (the serving loop may run it itself).
@pytest.mark.parametrize(("data", "state"), ids=lambda v: v if isinstance(v, str) else None, argvalues=[
    (b"", "partial"),
    (HEAD, "partial"),  # the head has not ended
    (HEAD + b"\r\n", "whole"),  # no body
    (b"GET /healthz HTTP/1.1\r\n\r\n", "whole"),
    (HEAD + b"Content-Length: 5\r\n\r\nabc", "partial"),
    (HEAD + b"Content-Length: 5\r\n\r\nabcde", "whole"),
    (HEAD + b"content-length:5\r\n\r\nabcde", "whole"),  # names are case-insensitive, the space optional
    (HEAD + b"Content-Length: 5\r\n\r\nabcdeGET / HTTP/1.1\r\n", "whole"),  # a pipelined request behind it
    (HEAD + b"Content-Length: 2000\r\n\r\nabc", "answerable"),  # over the limit: refused (413) without reading it
    (HEAD + b"Content-Length: x1\r\n\r\n", "answerable"),  # unreadable: gunicorn answers 400
    (HEAD + b"Content-Length: -1\r\n\r\n", "answerable"),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", "partial"),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n", "partial"),  # the trailer has not ended
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "whole"),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", "whole"),  # extension, trailer
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\nZZ\r\nabc", "answerable"),  # not a hex size: 400
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", "answerable"),  # longer than its size: 400
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3;" + b"x" * 5000, "answerable"),  # an enormous extension: 400
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n7d0\r\n" + b"a" * 2000 + b"\r\n", "answerable"),  # over the limit
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n7d0\r\n" + b"a" * 100, "answerable"),  # over it, mostly unsent: 413
    (HEAD + b"X: " + b"a" * MAX_HEAD, "answerable"),  # a head without an end past MAX_HEAD: gunicorn refuses it
])
def test_partial_answerable_or_whole(data: bytes, state: str) -> None:
    assert (complete(data, LIMIT), whole(data, LIMIT)) == {"partial": (False, False), "answerable": (True, False),
                                                           "whole": (True, True)}[state]


@pytest.mark.parametrize(("line", "expects"), [(b"Expect: 100-continue", True), (b"expect:100-Continue", True),
                                               (b"Expect: something", False), (b"X-Expect: 100-continue", False)])
def test_expect_100_continue(line: bytes, expects: bool) -> None:
    head = parse_head(HEAD + line + b"\r\nContent-Length: 3\r\n\r\n")
    assert head is not None and head.expects_continue is expects and head.length == 3
