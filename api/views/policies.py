"""GET /v1/policies, /v1/policies/{id}, /v1/policies/{id}/versions/{version}: what is loaded."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from api.http.auth import ANY_ROLE, requires
from api.state import state
from api.views.admin import policy_lifecycle
from engine.core.errors import NoActiveVersionError
from engine.policy.model import Policy

bp = Blueprint("policies", __name__)


def _active(policy_id: str) -> str | None:
    engine = state().engine
    try:
        return engine.policies.active(policy_id, engine.clock().date()).version
    except NoActiveVersionError:
        return None



def _summary(p: Policy, active: str | None) -> dict[str, Any]:
    return {"version": p.version, "title": p.title, "effective_from": p.effective_from.isoformat(),
            "sha256": p.sha256, "active": p.version == active, "rules": len(p.rules),
            "changelog": [dict(c) for c in p.changelog]}


def _info(policy_id: str) -> dict[str, Any]:
    versions = state().engine.policies.versions(policy_id)
    active = _active(policy_id)
    newest = versions[-1]
    lifecycle = policy_lifecycle(state().lifecycle, policy_id)
    return {"id": policy_id, "title": newest.title, "owner": newest.owner, "active_version": active,
            "scheduled_version": lifecycle["scheduled_version"], "pin": lifecycle["pin"],
            "versions": [_summary(p, active) for p in versions]}


@bp.get("/v1/policies")
@requires(ANY_ROLE)
def list_policies() -> ResponseReturnValue:
    return jsonify({"policies": [_info(pid) for pid in state().engine.policies.policy_ids()]})


@bp.get("/v1/policies/<policy_id>")
@requires(ANY_ROLE)
def get_policy(policy_id: str) -> ResponseReturnValue:
    return jsonify(_info(state().engine.policies.known(policy_id)))


@bp.get("/v1/policies/<policy_id>/versions/<version>")
@requires(ANY_ROLE)
def get_version(policy_id: str, version: str) -> ResponseReturnValue:
    p = state().engine.resolve(state().engine.policies.known(policy_id), version).policy
    body = _summary(p, _active(p.id))
    body.pop("rules")
    return jsonify({
        "id": p.id, **body, "owner": p.owner, "parameters": dict(p.parameters),
        "recommendations": [{"id": r.id, "title": r.title, "indicator": r.indicator, "category": r.category}
                            for r in p.recommendations.values()],
        "rules": [{"id": r.id, "title": r.title, "priority": r.priority, "then": list(r.then),
                   "suppresses": list(r.suppresses), "indicator": r.indicator, "source": r.source}
                  for r in sorted(p.rules, key=lambda r: (r.priority, r.id))],
        "source": p.source_text,
    })
