"""GET /v1/status, POST /v1/admin/reload, POST /v1/admin/policies/{id}/activate: the policy lifecycle."""

from __future__ import annotations

import os
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue

from api.http.auth import ANY_ROLE, requires
from api.http.bodies import check_schema, read_json
from api.http.problems import LogUnavailable
from api.lifecycle.board import assess
from api.lifecycle.manager import Lifecycle
from api.lifecycle.states import WorkerState
from api.state import state
from engine.core.errors import NoActiveVersionError, StoreError
from engine.runtime.pins import held_back
from engine.runtime.reload import ReloadError

bp = Blueprint("lifecycle", __name__)


def convergence(lifecycle: Lifecycle) -> tuple[dict[int, bool], list[str], list[WorkerState]]:
    """Every worker's published state, which ones serve the newest good set, and what is stale."""
    lifecycle.publish()  # this worker's freshest state
    settings = lifecycle.settings
    workers = lifecycle.board.workers()
    poll = settings.poll_interval_ms / 1000
    heartbeat_after = max(settings.stale_after_ms / 1000, 3 * poll) if poll else None
    converged, stale = assess(workers, lifecycle.board.target(), lifecycle.wall(),
                              stale_after=settings.stale_after_ms / 1000, heartbeat_after=heartbeat_after)
    return converged, stale, workers



def policy_lifecycle(lifecycle: Lifecycle, policy_id: str) -> dict[str, Any]:
    """Which version serves a policy, what the dates alone would choose, the admin pin, and what it holds back."""
    current = lifecycle.live.current
    active = lifecycle.active_versions(current).get(policy_id)
    try:
        scheduled = current.scheduled(policy_id, lifecycle.today())
    except NoActiveVersionError:
        scheduled = None
    pin = lifecycle.pins.get(policy_id)
    found = held_back(current.versions(policy_id), pin.version if pin else None, lifecycle.today())
    held = found.message() if found else None
    return {"id": policy_id, "active_version": active, "scheduled_version": scheduled.version if scheduled else None,
            "pin": pin.to_dict() if pin else None, "held_back": held}


@bp.get("/v1/status")
@requires(ANY_ROLE)
def status() -> ResponseReturnValue:
    lifecycle = state().lifecycle
    converged, stale, workers = convergence(lifecycle)
    target = lifecycle.board.target()
    policies = []
    for pid in lifecycle.live.current.policy_ids():
        body = policy_lifecycle(lifecycle, pid)
        try:
            body["activations"] = [a.to_dict() for a in state().store.activations(pid)]
        except StoreError as e:
            raise LogUnavailable(f"the activation history cannot be read: {e}") from e
        policies.append(body)
    newest = None if target is None else target.summary()
    return jsonify({
        "pid": os.getpid(), "converged": all(converged.values()) and not stale, "problems": stale,
        "refused": _refused(workers),
        "newest_good_set": newest, "policies": policies,
        "workers": [{**w.to_dict(), "converged": converged.get(w.pid, False)} for w in workers],
        "replicas": _replicas(lifecycle),
        "poll_interval_ms": lifecycle.settings.poll_interval_ms,
        "stale_after_ms": lifecycle.settings.stale_after_ms,
    })


def _replicas(lifecycle: Lifecycle) -> dict[str, Any] | None:
    """Every live replica on a shared (PostgreSQL) log with the versions it serves; None on SQLite."""
    poll = lifecycle.settings.poll_interval_ms / 1000
    live_s = max(3 * poll, 5.0) if poll else lifecycle.settings.stale_after_ms / 1000
    try:
        return lifecycle.replicas.listing(live_s)
    except StoreError as e:
        raise LogUnavailable(f"the replicas' heartbeats cannot be read: {e}") from e


def _refused(workers: list[WorkerState]) -> list[dict[str, Any]]:
    """Every file some worker refuses to serve (at start-up or in its last reload), once, by file:line."""
    found = {p.format(): p for w in workers if w.last_error for p in w.last_error.problems}
    return [found[k].to_dict() for k in sorted(found)]


@bp.post("/v1/admin/reload")
@requires("admin")
def reload() -> ResponseReturnValue:
    lifecycle = state().lifecycle
    pending = lifecycle.reload_soon("api")  # compiled off the request path, within a bound
    lifecycle.poller.fan_out()  # the other workers reload now too, not at their next poll
    try:
        outcome = pending.result(timeout=lifecycle.settings.reload_wait_ms / 1000)
    except FutureTimeout:
        wait = lifecycle.settings.reload_wait_ms
        return jsonify({"status": "pending", "pid": os.getpid(), "watch": "/v1/status",
                        "detail": f"the reload goes on after {wait} ms; its outcome appears as this worker's "
                                  "last_reload (and last_error if refused) in /v1/status"}), 202, \
            {"Location": "/v1/status"}
    assert outcome is not None  # forced reloads always report
    if outcome.outcome == "failed":
        raise ReloadError(outcome.problems)
    versions = [v.to_dict() for v in lifecycle.state().versions]
    return jsonify({**outcome.to_dict(), "pid": os.getpid(), "generation": lifecycle.live.generation,
                    "versions": versions, "active": lifecycle.active_versions()})


@bp.post("/v1/admin/policies/<policy_id>/activate")
@requires("admin")
def activate(policy_id: str) -> ResponseReturnValue:
    lifecycle = state().lifecycle
    body = check_schema("activate-request", read_json(state().settings.max_body_bytes))
    policy_id = lifecycle.live.current.known(policy_id)
    version = body["version"]
    if version is not None:
        lifecycle.live.current.resolve(policy_id, version, lifecycle.today())  # 404 with "did you mean"
    caller = g.get("caller")
    try:
        state().store.set_pin(policy_id, version, caller.key_id if caller else "anonymous", g.get("request_id", ""))
    except StoreError as e:
        raise LogUnavailable(f"the pin could not be recorded, so nothing changed: {e}") from e
    lifecycle.sync_pins()
    lifecycle.publish()
    return jsonify({**policy_lifecycle(lifecycle, policy_id), "pins_version": lifecycle.pins_version})
