"""GET /healthz, /readyz, /metrics and /openapi.json."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue

from api.http.auth import requires
from api.http.openapi import document
from api.http.problems import problem_body, problem_response
from api.state import state
from api.views.admin import convergence
from engine.core.errors import StoreError

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process answers: nothing else is checked (a restart would not help anything else)."""
    return jsonify({"status": "ok"})


def _policies_check() -> str:
    """Loaded, and every worker serves the newest good set (not stale past `policies.stale_after_ms`)."""
    if not state().engine.policies.policy_ids():
        return "no policy loaded"
    _, stale, _ = convergence(state().lifecycle)
    return "stale: " + "; ".join(stale) if stale else "ok"


def _checks() -> dict[str, str]:
    checks = {"policies": _policies_check()}
    try:
        state().store.probe()
        checks["decision_log"] = "ok"
    except StoreError as e:
        checks["decision_log"] = f"not writable: {e}"
    return checks


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Ready when policies are loaded and a write to the decision log succeeds right now."""
    checks = _checks()
    if all(v == "ok" for v in checks.values()):
        return jsonify({"status": "ready", "checks": checks})
    failing = "; ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok")
    return problem_response(problem_body(503, "not_ready", "Not ready", failing, checks=checks))


@bp.get("/metrics")
@requires("admin")
def metrics() -> ResponseReturnValue:
    return Response(state().metrics.render(), content_type="text/plain; version=0.0.4; charset=utf-8")


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return jsonify(document(state().settings))
