"""Security headers on every response: a JSON API that no browser should sniff, frame, cache or refer from."""

from __future__ import annotations

from flask import Flask, Response

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


def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def install(app: Flask) -> None:
    app.after_request(_secure)
