"""Request ids, structured JSON access log lines and request metrics.

A line carries who (key id), what (method, route, status, error code) and how long;
never a body, a query string, facts or a key, so the log holds no PHI and no secret.
"""

from __future__ import annotations

import logging
import re
import time

import orjson
from flask import Flask, Response, current_app, g, request

from api.http.metrics import Metrics
from api.pid import pid
from engine.core.randomness import random_hex
from engine.core.timefmt import from_epoch

__all__ = ["ACCESS_LOGGER", "install"]

ACCESS_LOGGER = "attendance_policy.access"
METRICS = "attendance_policy.metrics"  # app.extensions key of the Metrics this app counts into
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
log = logging.getLogger(ACCESS_LOGGER)
_errors = logging.getLogger("attendance_policy.errors")


def _start() -> None:
    incoming = request.environ.get("HTTP_X_REQUEST_ID", "")
    # Honour the caller's id when it is harmless (at most 64 of these characters, nothing else: fullmatch, since
    # `$` would let a trailing newline through), so one id follows a request across services; otherwise ours,
    # 128 random bits as uuid4's hex (engine.core.randomness: no system call, not uuid4's objects).
    ctx = g._get_current_object()  # werkzeug's proxies cost a look-up per attribute: one each per hook
    ctx.request_id = incoming if _SAFE_ID.fullmatch(incoming) else random_hex(16)
    ctx.started = time.perf_counter()


def _finish(response: Response) -> Response:
    ctx, req = g._get_current_object(), request._get_current_object()  # type: ignore[attr-defined]
    latency = time.perf_counter() - ctx.get("started", time.perf_counter())
    request_id = ctx.get("request_id", "")
    response.headers["X-Request-Id"] = request_id
    caller = ctx.get("caller")
    code = ctx.get("error_code")
    route = req.url_rule.rule if req.url_rule is not None else "(unmatched)"
    if log.isEnabledFor(logging.INFO):
        line = {
            "time": from_epoch(time.time()),
            "event": "http_request", "request_id": request_id, "method": req.method,
            "route": route, "status": response.status_code, "latency_ms": round(latency * 1000, 3),
            "key_id": caller.key_id if caller else None, "error": code, "pid": pid(),
        }
        if ctx.get("decision_count"):
            line["decisions"] = ctx.decision_count
        # makeRecord + handle: what log.info does, without looking up the caller's frame (it is always here).
        log.handle(log.makeRecord(ACCESS_LOGGER, logging.INFO, __file__, 0, orjson.dumps(line).decode(), (), None))
    _count(req.method, route, latency, response.status_code, code)
    return response


def _count(method: str, route: str, latency: float, status: int, code: str | None) -> None:
    metrics: Metrics = current_app.extensions[METRICS]
    metrics.inc("attendance_http_requests_total", {"method": method, "route": route, "status": str(status)})
    metrics.observe("attendance_http_request_duration_seconds", {"route": route}, latency)
    if code:
        metrics.inc("attendance_errors_total", {"code": code})
    try:
        metrics.flush(force=False)
    except OSError as e:  # metrics are best effort; the request has been answered already
        _errors.warning("cannot publish metrics: %s", e)


def install(app: Flask, metrics: Metrics) -> None:
    """Log and count every request of `app` into `metrics`."""
    app.extensions[METRICS] = metrics
    app.before_request(_start)
    app.after_request(_finish)
