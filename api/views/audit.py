"""GET /v1/decisions/{decision_id} and GET /v1/decisions: the decision log, for the audit role."""

from __future__ import annotations

import base64
import binascii

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from api.http.auth import requires
from api.http.problems import InvalidQuery, LogUnavailable, NotFound
from api.log.store import HookLog, Page, Query, to_micros
from api.state import state
from engine.core.errors import StoreError
from engine.core.schemas import FORMAT_CHECKER

bp = Blueprint("audit", __name__)

MAX_LIMIT = 500
_PARAMS = ("session_id", "since", "until", "limit", "cursor")


class DecisionNotFound(NotFound):
    code, title = "decision_not_found", "Decision not found"


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, seq = text.partition(":")
        if kind == "seq" and seq.isascii() and seq.isdigit():
            return int(seq)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidQuery("cursor is not one this server issued; pass back `next_cursor` unchanged")


def _time(name: str) -> int | None:
    value = request.args.get(name)
    if value is None:
        return None
    try:
        if not FORMAT_CHECKER.conforms(value, "date-time"):  # fromisoformat alone takes non-RFC 3339 forms
            raise ValueError(value)
        return to_micros(value)
    except ValueError:
        raise InvalidQuery(f"{name} must be an RFC 3339 date-time with a time zone, "
                           f"e.g. 2026-01-31T00:00:00Z") from None


def _limit() -> int:
    raw = request.args.get("limit", "100")
    # isdigit() alone also accepts digits int() refuses, such as '²'
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def parse_query() -> Query:
    unknown = sorted(set(request.args) - set(_PARAMS))
    if unknown:
        raise InvalidQuery(f"unknown query parameter {unknown[0]!r}; known: {', '.join(_PARAMS)}")
    session_id = request.args.get("session_id")
    cursor = request.args.get("cursor")
    return Query(session_id=session_id or None, since_us=_time("since"), until_us=_time("until"),
                 after_seq=_decode_cursor(cursor) if cursor else 0, limit=_limit())


@bp.get("/v1/decisions/<decision_id>")
@requires("audit")
def get_decision(decision_id: str) -> ResponseReturnValue:
    try:
        record = state().store.get(decision_id)
    except StoreError as e:
        raise LogUnavailable(f"the decision log cannot be read: {e}") from e
    if record is None:
        raise DecisionNotFound(f"no decision {decision_id!r} in the decision log")
    body = record.to_dict()
    store = state().store
    if record.entry.hook is not None and isinstance(store, HookLog):  # a CDS Hooks decision: what was done with it
        try:
            body["feedback"] = [f.to_dict() for f in store.feedback_for(decision_id)]
        except StoreError as e:
            raise LogUnavailable(f"the decision log cannot be read: {e}") from e
    return jsonify(body)


@bp.get("/v1/decisions")
@requires("audit")
def list_decisions() -> ResponseReturnValue:
    query = parse_query()
    try:
        page: Page = state().store.query(query)
    except StoreError as e:
        raise LogUnavailable(f"the decision log cannot be read: {e}") from e
    return jsonify({"items": [r.to_dict() for r in page.records],
                    "next_cursor": encode_cursor(page.last_seq) if page.last_seq is not None else None})
