"""CORS for browser-based CDS clients on /cds-services only (CDS Hooks 2.0.1, 'Cross-Origin Resource Sharing').

Following the OWASP HTML5 cheat sheet the specification points to: origins come from an allowlist
(`cds_hooks.cors_origins`, `*` only when configured), the allowed origin is echoed with `Vary: Origin`,
credentials are never allowed (CDS clients authenticate with a bearer JWT, not cookies), and a preflight
allows only the methods and headers the endpoints use.
"""

from __future__ import annotations

from flask import Flask, Response, request

__all__ = ["PREFIX", "install"]

PREFIX = "/cds-services"
_PREFLIGHT = {"Access-Control-Allow-Methods": "GET, POST, OPTIONS",
              "Access-Control-Allow-Headers": "Authorization, Content-Type",
              "Access-Control-Max-Age": "600"}


def install(app: Flask, origins: tuple[str, ...]) -> None:
    allowed = frozenset(origins)

    def add(resp: Response) -> Response:
        req = request._get_current_object()  # type: ignore[attr-defined]  # every response passes here: one look-up
        path = req.path
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return resp
        resp.vary.add("Origin")
        origin = req.headers.get("Origin")
        if origin is None or not ("*" in allowed or origin in allowed):
            return resp
        resp.headers["Access-Control-Allow-Origin"] = "*" if "*" in allowed else origin
        resp.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        if req.method == "OPTIONS" and "Access-Control-Request-Method" in req.headers:
            resp.headers.update(_PREFLIGHT)
        return resp

    app.after_request(add)
