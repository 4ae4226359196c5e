"""Every error becomes one RFC 9457 problem document, in one registered handler."""

from __future__ import annotations

import inspect
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from engine.core.errors import (
    EngineError,
    FactsError,
    MalformedJSONError,
    NoActiveVersionError,
    PinnedVersionUnavailableError,
    PolicyError,
    Problem,
    StoreError,
    UnknownPolicyError,
)
from engine.runtime.reload import ReloadError

__all__ = [
    "ApiError", "BadRequest", "Forbidden", "InvalidQuery", "LogUnavailable", "NotFound", "PROBLEM_JSON",
    "PayloadTooLarge", "ProblemType", "STATUS", "TooManyItems", "Unauthenticated", "UnsupportedMediaType",
    "TYPE_BASE", "describe", "errors_of", "problem_body", "problem_response", "problem_types", "register", "status_of",
]

# A problem's `type`: this path plus its code, relative to the server, which serves a page there
# (api/views/problem_types.py).
TYPE_BASE = "/problems/"
PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("attendance_policy.errors")


class ApiError(PolicyError):
    """An HTTP-level error of ours: a stable code, a title, and headers to send (its status: `STATUS`)."""

    code, title = "internal_error", "Internal error"

    def __init__(self, detail: str, *, problems: list[Problem] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, problems=problems)
        self.headers = dict(headers or {})


class BadRequest(ApiError):
    code, title = "invalid_request", "Invalid request"


class InvalidQuery(ApiError):
    code, title = "invalid_query", "Invalid query parameter"


class Unauthenticated(ApiError):
    code, title = "unauthenticated", "Authentication required"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="attendance-policy"'})


class Forbidden(ApiError):
    code, title = "forbidden", "Forbidden"


class NotFound(ApiError):
    code, title = "not_found", "Not found"


class PayloadTooLarge(ApiError):
    code, title = "payload_too_large", "Request body too large"


class TooManyItems(ApiError):
    code, title = "too_many_items", "Too many batch items"


class UnsupportedMediaType(ApiError):
    code, title = "unsupported_media_type", "Unsupported media type"


class LogUnavailable(ApiError):
    """The decision log cannot be written: no decision is returned (undocumented = did not happen)."""

    code, title = StoreError.code, StoreError.title

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": "5"})


# The HTTP status of each error type (the most specific listed class wins, along the MRO).
# A PolicyError of a type not listed here is a bug: it is logged and answered 500.
STATUS: dict[type[PolicyError], int] = {
    BadRequest: 400, InvalidQuery: 400, FactsError: 400,
    Unauthenticated: 401, Forbidden: 403,
    NotFound: 404, UnknownPolicyError: 404,
    NoActiveVersionError: 409,
    PayloadTooLarge: 413, TooManyItems: 413, UnsupportedMediaType: 415,
    ReloadError: 422,
    EngineError: 500,
    LogUnavailable: 503, StoreError: 503, PinnedVersionUnavailableError: 503,
}

_HTTP: dict[int, tuple[str, str]] = {
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("payload_too_large", "Request body too large"),
}


@dataclass(frozen=True, order=True)
class ProblemType:
    """One kind of problem a client can get: what its `type` URL's page says."""

    code: str
    status: int
    title: str
    description: str


# Problems that no PolicyError class stands for: werkzeug's, readiness, gunicorn's refusals, the unexpected.
_OTHER_TYPES = (
    ProblemType("not_found", 404, "Not found", "No such endpoint; /openapi.json lists every one."),
    ProblemType("method_not_allowed", 405, "Method not allowed", "The path exists, the method does not; the "
                "`Allow` header lists the methods it takes."),
    ProblemType("http_error", 400, "HTTP error", "Another HTTP-level refusal of the request (its status says "
                "which)."),
    ProblemType("malformed_http", 400, "Malformed HTTP", "The request is not valid HTTP (a broken request line or "
                "header, or one over the server's limits: then 414 or 431); answered before any endpoint sees it."),
    ProblemType("not_ready", 503, "Not ready", "`/readyz` only: policies are not loaded, a worker serves a stale "
                "set, or the decision log cannot be written; `checks` names which."),
    ProblemType("internal_error", 500, "Internal error", "A bug: the traceback is in the server log under the "
                "request id, never in the response."),
)


def _subclasses(cls: type[PolicyError]) -> list[type[PolicyError]]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_subclasses(sub))]


def problem_types() -> tuple[ProblemType, ...]:
    """Every problem type a client can get, by code: each error class with an HTTP status, and the others."""
    found = {t.code: t for t in _OTHER_TYPES}
    for cls in _subclasses(PolicyError):
        status = next((STATUS[c] for c in cls.__mro__ if c in STATUS), None)
        if status is not None and cls.code not in found:
            doc = inspect.getdoc(cls) or cls.title
            found[cls.code] = ProblemType(cls.code, status, cls.title, " ".join(doc.split()))
    return tuple(sorted(found.values()))


def status_of(exc: PolicyError) -> int | None:
    """The HTTP status of an error, by its type; None for a type that should never reach a client."""
    return next((STATUS[c] for c in type(exc).__mro__ if c in STATUS), None)


def problem_body(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The problem document; `request_id` (and `instance`, its URN) ties it to the access log line."""
    rid = g.get("request_id") or uuid.uuid4().hex
    body: dict[str, Any] = {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail,
                            "code": code, "instance": f"urn:attendance-policy:request:{rid}", "request_id": rid}
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def _pointer(p: Problem) -> str:
    if p.pointer is not None:
        return p.pointer
    return "".join("/" + s.replace("~", "~0").replace("/", "~1") for s in p.path.split(".")) if p.path else ""


def errors_of(problems: list[Problem], prefix: str = "") -> list[dict[str, str]] | None:
    """`errors` entries: the dotted path, its JSON Pointer, the message; `prefix` is where the checked part sits."""
    if not problems:
        return None
    at = "".join("/" + s for s in prefix.split(".") if s)
    return [{"path": f"{prefix}{p.path}" if p.path else prefix.rstrip("."), "pointer": at + _pointer(p),
             "message": p.message} for p in problems]


def describe(exc: BaseException, *, facts_prefix: str = "facts.") -> tuple[dict[str, Any], dict[str, str]]:
    """(problem body, headers) for any exception; nothing internal leaks into it."""
    status = status_of(exc) if isinstance(exc, PolicyError) else None
    if isinstance(exc, ApiError) and status is not None:
        return problem_body(status, exc.code, exc.title, exc.message, errors=errors_of(exc.problems)), exc.headers
    if isinstance(exc, PolicyError) and status is not None:
        suggestion = exc.suggestion if isinstance(exc, UnknownPolicyError) else None
        detail = exc.reason if isinstance(exc, MalformedJSONError) else exc.message
        if isinstance(exc, ReloadError):  # problems in files, each with its file:line:column
            return problem_body(status, exc.code, exc.title, detail, problems=[p.to_dict() for p in exc.problems]), {}
        errors = None if isinstance(exc, MalformedJSONError) else errors_of(exc.problems, facts_prefix)
        return problem_body(status, exc.code, exc.title, detail, suggestion=suggestion, errors=errors), {}
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
