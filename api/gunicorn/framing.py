"""Where an HTTP/1.1 request ends: enough framing to buffer a whole request before a thread parses it.

This is not a parser (gunicorn's parses, and answers what it refuses). It only says
whether the bytes received so far hold one whole request, or enough that gunicorn can
answer it without reading more from a slow client: a head without its end past
`MAX_HEAD`, a body announced larger than the limit, framing gunicorn will refuse (a bad
`Content-Length`, a broken chunk). Either way the request goes to a thread; what it
still has to read, it reads against the connection's deadline.
"""

from __future__ import annotations

import re

__all__ = ["MAX_HEAD", "Head", "complete", "parse_head", "whole"]

MAX_HEAD = 64 * 1024  # well over gunicorn's own limits (8 KB lines, 100 fields): it answers 414/431/400
_MAX_SIZE_LINE = 4096  # a chunk-size line (with extensions) over this: gunicorn refuses it
_TE = re.compile(rb"\r\ntransfer-encoding:[ \t]*([^\r\n]*)")
_CL = re.compile(rb"\r\ncontent-length:[ \t]*([^\r\n]*)")
_EXPECT = re.compile(rb"\r\nexpect:[ \t]*100-continue[ \t]*\r")


class Head:
    """What the framing of one request's head says: where its body starts and how it is delimited."""

    __slots__ = ("body_at", "chunked", "length", "expects_continue")

    def __init__(self, body_at: int, chunked: bool, length: int | None, expects_continue: bool) -> None:
        self.body_at = body_at
        self.chunked = chunked
        self.length = length  # None: no Content-Length (and not chunked): no body; -1: unreadable
        self.expects_continue = expects_continue


def parse_head(buf: bytes | bytearray) -> Head | None:
    """The head's framing once its end (CRLF CRLF) has arrived, else None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end + 2]).lower()
    te = _TE.search(head)
    cl = _CL.search(head)
    length: int | None = None
    if cl is not None:
        text = cl.group(1).strip()
        length = int(text) if text.isdigit() and len(text) < 19 else -1
    return Head(end + 4, te is not None and b"chunked" in te.group(1), length, _EXPECT.search(head) is not None)


_PARTIAL, _ANSWERABLE, _WHOLE = 0, 1, 2


def complete(buf: bytes | bytearray, limit: int) -> bool:
    """True once `buf` holds a whole request, or enough for gunicorn or the app to answer it (see the module)."""
    return _state(buf, limit) != _PARTIAL


def whole(buf: bytes | bytearray, limit: int) -> bool:
    """True once `buf` holds the entire request, body included and within `limit`: answering it reads nothing
    more (the serving loop runs only such requests itself; one that is only answerable goes to a thread)."""
    return _state(buf, limit) == _WHOLE


def _state(buf: bytes | bytearray, limit: int) -> int:
    head = parse_head(buf)
    if head is None:
        return _ANSWERABLE if len(buf) > MAX_HEAD else _PARTIAL
    if head.chunked:
        return _chunked_state(buf, head.body_at, limit)
    if head.length is None:
        return _WHOLE  # no body
    if head.length < 0 or head.length > limit:
        return _ANSWERABLE  # unreadable framing (gunicorn: 400); too large (the app: 413 before reading it)
    return _WHOLE if len(buf) - head.body_at >= head.length else _PARTIAL


def _chunked_state(buf: bytes | bytearray, pos: int, limit: int) -> int:
    """Whole: every chunk, the last (size 0) and the trailer's end have arrived. Answerable: the framing is broken
    or too long, so gunicorn or the app refuses it, reading more if it must."""
    total = 0
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return _ANSWERABLE if len(buf) - pos > _MAX_SIZE_LINE else _PARTIAL
        if eol - pos > _MAX_SIZE_LINE:
            return _ANSWERABLE
        size_text = bytes(buf[pos:eol]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return _ANSWERABLE  # not a hex size: gunicorn answers 400
        if size == 0:
            return _WHOLE if buf.find(b"\r\n\r\n", eol) >= 0 else _PARTIAL  # the trailer section has ended
        total += size
        if total > limit:
            return _ANSWERABLE  # the app reads `limit + 1` bytes and answers 413
        pos = eol + 2 + size + 2
        if pos > len(buf):
            return _PARTIAL
        if buf[pos - 2:pos] != b"\r\n":
            return _ANSWERABLE  # a chunk longer than its size: gunicorn answers 400
