"""GET /cds-services, POST /cds-services/{id} and /cds-services/{id}/feedback: thin views over hooks and cards."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, g, request
from flask.typing import ResponseReturnValue

from api.cdshooks.cards import cards_for
from api.cdshooks.client_auth import ClientAuth
from api.cdshooks.errors import CdsHooksUnavailable, InvalidHookRequest, schema_problems
from api.cdshooks.hooks import Session, parse_call, services
from api.http.bodies import DecisionRequest, read_json
from api.http.problems import LogUnavailable
from api.log.store import Feedback, HookCall, HookLog
from api.state import state
from api.views.record import Decided, commit, evaluate
from engine.core.errors import FactsError, Problem, StoreError

__all__ = ["AUTH", "bp", "hook_log"]

AUTH = "attendance_policy.cds_auth"  # app.extensions key of the ClientAuth
bp = Blueprint("cdshooks", __name__)


def hook_log() -> HookLog:
    """The decision log, as the store of CDS Hooks' cards, feedback and JWT ids (503 when its backend has none)."""
    store = state().store
    if not isinstance(store, HookLog):
        raise CdsHooksUnavailable(f"this server's decision log ({type(store).__name__}) does not keep CDS Hooks "
                                  "cards, feedback and JWT ids yet; CDS Hooks needs the SQLite log for now")
    return store


def _authenticate() -> None:
    hook_log()
    auth: ClientAuth = current_app.extensions[AUTH]
    try:
        g.caller = auth.authenticate(request.headers.get("Authorization"), request.remote_addr, request.path)
    except StoreError as e:  # the jti could not be claimed: no call without replay protection
        raise LogUnavailable(f"the token's jti could not be recorded: {e}") from e


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), mimetype="application/json")


def _studio(policy_id: str, version: str) -> str | None:
    """The studio page of a policy version, when this server serves the studio."""
    if not any(r.rule.startswith("/studio/") for r in current_app.url_map.iter_rules()):
        return None
    base = state().settings.base_url or request.url_root
    return f"{base.rstrip('/')}/studio/policies/{policy_id}/{version}"


@bp.get("/cds-services")
def discovery() -> ResponseReturnValue:
    _authenticate()
    return _json({"services": services(state().engine)})


def _decide(service_id: str, session: Session) -> Decided:
    try:
        return evaluate(DecisionRequest(session.facts, policy=service_id))
    except FactsError as e:  # the engine names fact paths; say where they came from in the request
        problems = [Problem("invalid_facts", p.message, f"{session.where}.{p.path}") for p in e.problems]
        first = problems[0] if problems else Problem("invalid_facts", e.message, session.where)
        raise InvalidHookRequest(f"{first.path}: {first.message}", problems=problems) from e


@bp.post("/cds-services/<service_id>")
def call(service_id: str) -> ResponseReturnValue:
    _authenticate()
    state().engine.policies.known(service_id)  # 404 with a did-you-mean
    hook_call = parse_call(read_json(state().settings.max_request_bytes))
    decided: list[Decided] = []
    shown: list[dict[str, Any]] = []
    for session in hook_call.sessions:
        d = _decide(service_id, session)
        studio = _studio(d.decision.policy.id, d.decision.policy.version)
        cards = cards_for(d.decision, dataclasses.replace(session.ctx, studio=studio))
        hook = HookCall(service_id, hook_call.hook, hook_call.hook_instance,
                        tuple((c["uuid"], rec) for rec, c in cards))
        decided.append(dataclasses.replace(d, entry=dataclasses.replace(d.entry, hook=hook)))
        shown += [c for _, c in cards]
    commit(decided)  # logged before anything is shown (503 and no cards when the log cannot be written)
    return _json({"cards": shown})


def _feedback(item: dict[str, Any]) -> Feedback:
    reason = item.get("overrideReason", {}).get("reason")  # userComment is free text: never stored
    return Feedback(item["card"], item["outcome"], item["outcomeTimestamp"],
                    tuple(s["id"] for s in item.get("acceptedSuggestions", ())), reason,
                    key_id=g.caller.key_id, request_id=g.get("request_id", ""))


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str) -> ResponseReturnValue:
    _authenticate()
    state().engine.policies.known(service_id)
    body = read_json(state().settings.max_request_bytes)
    problems = schema_problems("cds-hooks/feedback", body)
    if problems:
        raise InvalidHookRequest(f"{problems[0].path}: {problems[0].message}", problems=problems)
    items = [_feedback(i) for i in body["feedback"]]
    try:
        unknown = hook_log().record_feedback(items)
    except StoreError as e:
        raise LogUnavailable(f"the feedback could not be stored: {e}") from e
    if unknown:
        cards = [i for i, item in enumerate(items) if item.card in unknown]
        raise InvalidHookRequest(f"feedback[{cards[0]}].card: no card {unknown[0]!r} was shown by this service; "
                                 "nothing was stored", problems=[
                                     Problem("unknown_card", "no such card was shown", f"feedback[{i}].card")
                                     for i in cards])
    return _json({"stored": len(items)})
