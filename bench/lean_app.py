"""A measurement, not a product: the work of `POST /v1/decisions` without Flask.

It authenticates, checks pins, parses and checks the body, evaluates, redacts,
commits the decision to the same durable SQLite log (group commit), counts
metrics and writes an access-log line, then answers with the security headers,
all straight on WSGI. Whatever a leaner request path could gain is bounded by
this one, so `http_bench.py` runs it next to the service and the bare endpoint
(on disk, and with the log in RAM) to show where the time goes. Error handling,
leases and the other routes go to the real app. Configured through the
service's environment variables (`ATTENDANCE_POLICY_DATABASE`, ...).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from api.app import create_app
from api.http.bodies import check_envelope
from api.http.headers import SECURITY_HEADERS
from api.log.redaction import redact
from api.log.store import LogEntry
from engine.facts.strict_json import loads_strict

app = create_app()
state = app.extensions["attendance_policy"]
_HEADERS = list(SECURITY_HEADERS.items())
_log = logging.getLogger("attendance_policy.access")


def lean(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") != "/v1/decisions" or environ.get("REQUEST_METHOD") != "POST":
        return app(environ, start_response)  # type: ignore[no-any-return]
    started = time.perf_counter()
    caller = state.keys.authenticate(environ.get("HTTP_AUTHORIZATION"), environ.get("REMOTE_ADDR"))
    state.lifecycle.sync_pins()
    length = int(environ.get("CONTENT_LENGTH") or 0)
    req = check_envelope(loads_strict(environ["wsgi.input"].read(length)))
    decision = state.engine.evaluate(req.facts, policy=req.policy, version=req.version, explain=req.explain)
    body = decision.to_dict()
    facts, logged = redact(req.facts, body, state.settings.redact)
    request_id = uuid.uuid4().hex
    state.committer.submit([LogEntry(decision.decision_id, decision.evaluated_at, decision.policy.id,
                                     decision.policy.version, decision.policy.sha256, decision.session_id,
                                     caller.key_id, request_id, facts, logged)])
    state.metrics.inc("attendance_decisions_total", {"policy": decision.policy.id, "version": decision.policy.version,
                                                     "outcome": "info"})
    state.metrics.inc("attendance_http_requests_total", {"method": "POST", "route": "/v1/decisions", "status": "200"})
    _log.info(orjson.dumps({"event": "http_request", "request_id": request_id, "status": 200,
                            "latency_ms": round((time.perf_counter() - started) * 1000, 3)}).decode())
    data = orjson.dumps(body)
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                              ("X-Request-Id", request_id), *_HEADERS])
    return [data]


# The app's config (its LOOP_ROUTES, its body limit): the serving worker runs these decisions in its loop too.
lean.config = app.config  # type: ignore[attr-defined]

