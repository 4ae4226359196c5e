"""GET /v1/decisions/{decision_id} and GET /v1/decisions: the decision log, for the audit role."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from api.http.auth import requires
from api.http.problems import InvalidQuery, LogUnavailable, NotFound
from api.log.store import HookLog, Page, Query, to_micros
from api.state import state
from engine.core.errors import Problem, StoreError
from engine.core.schemas import FORMAT_CHECKER
from engine.core.suggest import did_you_mean

bp = Blueprint("audit", __name__)

MAX_LIMIT = 500
_PARAMS = ("session_id", "since", "until", "limit", "cursor")


class DecisionNotFound(NotFound):
    code, title = "decision_not_found", "Decision not found"


def encode_cursor(seq: int) -> str:
    """The cursor of the page after `seq`: every string of `CURSOR` is one the server could issue."""
    return f"s{seq}"


_CURSOR = "cursor is not one this server issued; pass back `next_cursor` unchanged"
_TIME = "{} must be an RFC 3339 date-time with a time zone, e.g. 2026-01-31T00:00:00Z"
CURSOR = re.compile("s[0-9]{1,18}", re.ASCII)  # the document's `pattern`; 18 digits fit SQLite's integer
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _cursor(cursor: str) -> int:
    """The sequence number a cursor stands for (ValueError: why it is refused)."""
    if CURSOR.fullmatch(cursor) is None:
        raise ValueError(_CURSOR)
    return int(cursor[1:])


def _time(value: str) -> int:
    if not FORMAT_CHECKER.conforms(value, "date-time"):  # fromisoformat alone takes non-RFC 3339 forms
        raise ValueError(_TIME)
    try:
        return to_micros(value)
    except ValueError:
        raise ValueError(_TIME) from None


def _limit(raw: str) -> int:
    # isdigit() alone also accepts digits int() refuses, such as '²'
    if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_LIMIT:
        return int(raw)
    raise ValueError(f"{{}} must be an integer from 1 to {MAX_LIMIT}")


def _session(raw: str) -> str:
    if _CONTROL.search(raw):
        raise ValueError("{} must not hold a control character (U+0000-U+001F or U+007F)")
    return raw


_PARSERS: dict[str, Callable[[str], Any]] = {"session_id": _session, "since": _time, "until": _time,
                                             "limit": _limit, "cursor": _cursor}


def _parsed(args: MultiDict[str, str]) -> tuple[dict[str, Any], list[Problem]]:
    """Each known parameter parsed, and every problem with the query string (all of them at once)."""
    values: dict[str, Any] = {}
    problems = [Problem("invalid_query", f"unknown query parameter {name!r}{did_you_mean(name, _PARAMS)}; known: "
                        f"{', '.join(_PARAMS)}", name, pointer="") for name in sorted(set(args) - set(_PARAMS))]
    for name, parse in _PARSERS.items():
        raw = args.get(name)
        if raw is None or (raw == "" and name in ("session_id", "cursor")):
            continue
        try:
            values[name] = parse(raw)
        except ValueError as e:
            problems.append(Problem("invalid_query", str(e).format(name), name, pointer=""))
    return values, sorted(problems, key=lambda p: p.path)


def parse_query() -> Query:
    """The audit query; 400 `invalid_query` listing every bad or unknown parameter."""
    values, problems = _parsed(request.args)
    if problems:
        raise InvalidQuery("; ".join(p.message for p in problems), problems=problems)
    return Query(session_id=values.get("session_id"), since_us=values.get("since"), until_us=values.get("until"),
                 after_seq=values.get("cursor", 0), limit=values.get("limit", 100))


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
