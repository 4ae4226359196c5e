"""Every error becomes one RFC 9457 problem document, in one registered handler."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from engine.core.errors import PolicyError, Problem, UnknownPolicyError

__all__ = [
    "ApiError", "BadRequest", "Forbidden", "InvalidQuery", "LogUnavailable", "NotFound", "PayloadTooLarge",
    "TooManyItems", "Unauthenticated", "UnsupportedMediaType", "TYPE_BASE", "describe", "problem_body",
    "problem_response", "register",
]

TYPE_BASE = "https://attendance-policy.example/problems/"
PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("attendance_policy.errors")


class ApiError(PolicyError):
    """An HTTP-level error of ours: a status, a stable code, a title, and headers to send."""

    status = 500
    code = "internal_error"
    title = "Internal error"

    def __init__(self, detail: str, *, problems: list[Problem] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, problems=problems)
        self.headers = dict(headers or {})


class BadRequest(ApiError):
    status, code, title = 400, "invalid_request", "Invalid request"


class InvalidQuery(ApiError):
    status, code, title = 400, "invalid_query", "Invalid query parameter"


class Unauthenticated(ApiError):
    status, code, title = 401, "unauthenticated", "Authentication required"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="attendance-policy"'})


class Forbidden(ApiError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(ApiError):
    status, code, title = 404, "not_found", "Not found"


class PayloadTooLarge(ApiError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class TooManyItems(ApiError):
    status, code, title = 413, "too_many_items", "Too many batch items"


class UnsupportedMediaType(ApiError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class LogUnavailable(ApiError):
    """The decision log cannot be written: no decision is returned (undocumented = did not happen)."""

    status, code, title = 503, "decision_log_unavailable", "Decision log unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": "5"})


# Engine errors keep their own codes; only the HTTP status is decided here.
_ENGINE: dict[str, tuple[int, str]] = {
    "malformed_json": (400, "Malformed JSON"),
    "invalid_facts": (400, "Invalid session facts"),
    "unknown_policy": (404, "Unknown policy"),
    "unknown_policy_version": (404, "Unknown policy version"),
    "no_active_version": (409, "No policy version in effect"),
    "pinned_version_unavailable": (503, "Pinned policy version not loaded"),
    "engine_error": (500, "The engine could not decide"),
}

_HTTP: dict[int, tuple[str, str]] = {
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("payload_too_large", "Request body too large"),
}


def problem_body(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The problem document; `request_id` ties it to the access log line."""
    body: dict[str, Any] = {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail,
                            "code": code}
    rid = g.get("request_id")
    if rid:
        body["request_id"] = rid
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def _errors(problems: list[Problem], prefix: str) -> list[dict[str, str]] | None:
    if not problems or all(p.code == "malformed_json" for p in problems):
        return None
    return [{"path": f"{prefix}{p.path}" if p.path else prefix.rstrip("."), "message": p.message} for p in problems]


def describe(exc: BaseException, *, facts_prefix: str = "facts.") -> tuple[dict[str, Any], dict[str, str]]:
    """(problem body, headers) for any exception; nothing internal leaks into it."""
    if isinstance(exc, ApiError):
        errors = _errors(exc.problems, "")
        return problem_body(exc.status, exc.code, exc.title, exc.message, errors=errors), exc.headers
    if isinstance(exc, PolicyError) and exc.code in _ENGINE:
        status, title = _ENGINE[exc.code]
        suggestion = exc.suggestion if isinstance(exc, UnknownPolicyError) else None
        detail = exc.problems[0].message if exc.code == "malformed_json" and exc.problems else exc.message
        return problem_body(status, exc.code, title, detail, suggestion=suggestion,
                            errors=_errors(exc.problems, facts_prefix)), {}
    if isinstance(exc, HTTPException) and exc.code in _HTTP:
        code, title = _HTTP[exc.code]
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        detail = _http_detail(exc.code, headers)
        return problem_body(exc.code, code, title, detail), headers
    if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        return problem_body(exc.code, "http_error", exc.name, exc.description or exc.name), {}
    log.error("unhandled %s on %s %s (request %s)", type(exc).__name__, request.method, request.path,
              g.get("request_id"), exc_info=exc)
    return problem_body(500, "internal_error", "Internal error",
                        "an unexpected error occurred; the request id identifies it in the server log"), {}


def _http_detail(status: int, headers: dict[str, str]) -> str:
    if status == 405:
        return f"{request.method} is not allowed on {request.path}; allowed: {headers.get('Allow', '')}"
    if status == 404:
        return f"no such endpoint: {request.path} (see /openapi.json)"
    return "the request body is larger than this endpoint accepts"


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    resp = Response(text, status=body["status"], mimetype=PROBLEM_JSON)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    g.error_code = body["code"]
    return resp


def _handle(exc: Exception) -> Response:
    body, headers = describe(exc)
    return problem_response(body, headers)


def register(app: Flask) -> None:
    """One handler for every exception, ours, the engine's, werkzeug's and the unexpected."""
    app.register_error_handler(Exception, _handle)
