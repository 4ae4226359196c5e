"""Security headers on every response: a JSON API that no browser should sniff, frame, cache or refer from.

Added where the response leaves the app (WSGI `start_response`), so every response gets them, whatever
produced it (a view, an error handler, werkzeug's routing), for a few list operations instead of six
werkzeug header lookups per request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask

__all__ = ["SECURITY_HEADERS", "install"]

SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    # Decisions, the log and policies are clinical records: no shared or browser cache keeps them.
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_PAIRS = tuple((name.lower(), (name, value)) for name, value in SECURITY_HEADERS.items())


def _secure(headers: list[tuple[str, str]]) -> None:
    """Add each security header the response does not set itself."""
    present = {name.lower() for name, _ in headers}
    headers.extend(pair for lower, pair in _PAIRS if lower not in present)


def install(app: Flask) -> None:
    inner = app.wsgi_app

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            _secure(headers)
            return start_response(status, headers, exc_info)

        return inner(environ, start)

    app.wsgi_app = wsgi_app  # type: ignore[method-assign]
