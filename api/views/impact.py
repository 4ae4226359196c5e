"""GET /v1/audit/impact: the impact report of one loaded version against another, on this service's log.

Without `old`, the version in effect now; without `new`, the newest loaded version of the same policy.
"""

from __future__ import annotations

import re

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from api.http.auth import requires
from api.http.problems import InvalidQuery, LogUnavailable
from api.log.traffic import logged_cases, parse_when, window
from api.state import state
from engine.compile.ruleset import CompiledPolicy
from engine.core.errors import PolicyError, StoreError
from engine.decide.decider import Decider
from engine.impact.report import impact_report

bp = Blueprint("impact", __name__)

_PARAMS = ("old", "new", "since", "until", "limit", "generated")
DEFAULT_LIMIT, MAX_LIMIT = 10_000, 100_000
_REF = re.compile(r"[^@]+@[0-9]+[.][0-9]+[.][0-9]+")  # as the OpenAPI document's pattern


def _policy_id() -> str:
    refs = [request.args[n] for n in ("old", "new") if n in request.args]
    for ref in refs:
        if not _REF.fullmatch(ref):
            raise InvalidQuery(f"{ref!r} is not <policy>@<version>, e.g. couples-attendance@1.0.0")
    if refs:
        return refs[0].split("@", 1)[0]
    ids = state().engine.policies.policy_ids()
    if len(ids) != 1:
        raise InvalidQuery(f"name the versions to compare with old and new (loaded policies: {', '.join(ids)})")
    return ids[0]


def _versions() -> tuple[CompiledPolicy, CompiledPolicy]:
    """`old` (default: the version in effect) and `new` (default: the newest loaded) of one policy."""
    engine = state().engine
    policy_id = _policy_id()
    picked = []
    for name in ("old", "new"):
        ref = request.args.get(name)
        if ref is not None:
            pid, version = ref.split("@", 1)
            picked.append(engine.resolve(pid, version))  # unknown: 404 with a suggestion
        elif name == "old":
            picked.append(engine.resolve(policy_id))
        else:
            picked.append(engine.resolve(policy_id, engine.policies.versions(engine.policies.known(policy_id))[-1]
                                         .version))
    return picked[0], picked[1]


def _limit() -> int:
    raw = request.args.get("limit", str(DEFAULT_LIMIT))
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def _flag(name: str) -> bool:
    raw = request.args.get(name, "true")
    if raw not in ("true", "false"):
        raise InvalidQuery(f"{name} must be true or false")
    return raw == "true"


@bp.get("/v1/audit/impact")
@requires("audit")
def impact() -> ResponseReturnValue:
    unknown = sorted(set(request.args) - set(_PARAMS))
    if unknown:
        raise InvalidQuery(f"unknown query parameter {unknown[0]!r}; known: {', '.join(_PARAMS)}")
    old, new = _versions()
    since, until = request.args.get("since"), request.args.get("until")
    try:
        window_us = parse_when("since", since), parse_when("until", until)
    except PolicyError as e:
        raise InvalidQuery(e.message) from None
    limit, generated = _limit(), _flag("generated")
    # Fresh deciders over the compiled versions: nothing is compiled here, and the live memos stay as they are.
    deciders = (Decider(old), Decider(new))
    try:
        report = impact_report(old.policy, new.policy, deciders=deciders, generated=generated,
                               traffic=logged_cases(state().store, *window_us), traffic_limit=limit,
                               traffic_source=f"this service's decision log ({window(since, until)})")
    except StoreError as e:
        raise LogUnavailable(f"the decision log cannot be read: {e}") from e
    except PolicyError as e:  # the generated cases of these versions would be too many
        raise InvalidQuery(f"{e.message}; ask with generated=false for the logged traffic alone") from e
    return jsonify(report.to_dict())
