"""Who may open the studio, and the headers its pages carry.

The same keys as the API: open on loopback when no keys are configured; otherwise a key with the
`studio` or `audit` role. A browser cannot send a bearer token by itself, so the studio also takes
the key as the password of HTTP Basic authentication (any user name), and asks for it that way.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, current_app, g, request

from api.http.auth import KEYS, KeyRing
from api.http.problems import Forbidden, Unauthenticated

__all__ = ["BASIC_CHALLENGE", "CSP", "STUDIO_ROLES", "guarded", "page_headers"]

STUDIO_ROLES = ("studio", "audit")
# Only the service's own styles and script; forms post back to the service only.
CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")
BASIC_CHALLENGE = 'Basic realm="attendance-policy studio", charset="UTF-8"'  # so the browser asks for the key
F = TypeVar("F", bound=Callable[..., Any])


def _bearer(header: str | None) -> str | None:
    """The Authorization header as the key ring reads it: a Basic password becomes the bearer token."""
    scheme, _, rest = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return header
    try:
        _, _, password = base64.b64decode(rest.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "Basic"  # malformed: the key ring refuses it with its own message
    return f"Bearer {password}"


def _refuse_cross_site() -> None:
    """Trying reads only, but a page on another site must not make a studio user's browser post drafts."""
    if request.method == "POST" and request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        raise Forbidden("the studio accepts form posts from its own pages only")


def guarded(view: F) -> F:
    """Decorate a studio page: 401 (Basic challenge) without a valid key, 403 without the studio or audit role."""

    @functools.wraps(view)
    def inner(*args: Any, **kwargs: Any) -> Any:
        ring: KeyRing = current_app.extensions[KEYS]
        try:
            caller = ring.authenticate(_bearer(request.headers.get("Authorization")), request.remote_addr)
        except Unauthenticated as e:
            e.headers["WWW-Authenticate"] = BASIC_CHALLENGE  # the API's 401, with a challenge a browser answers
            raise
        g.caller = caller
        if not caller.roles & set(STUDIO_ROLES):
            raise Forbidden(f"the key {caller.key_id!r} has neither the 'studio' nor the 'audit' role")
        _refuse_cross_site()
        return view(*args, **kwargs)

    return inner  # type: ignore[return-value]


def page_headers(resp: Response) -> Response:
    """The studio's own CSP (the API's `default-src 'none'` would block its stylesheet and script)."""
    if resp.mimetype == "text/html" or request.path.startswith("/studio/static/"):
        resp.headers["Content-Security-Policy"] = CSP
    return resp
