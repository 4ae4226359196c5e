"""GET /problems/<code>: one short page per problem type, at the URL each problem's `type` names."""

from __future__ import annotations

from html import escape

from flask import Blueprint, Response
from flask.typing import ResponseReturnValue

from api.http.problems import TYPE_BASE, NotFound, ProblemType, problem_types
from engine.core.suggest import did_you_mean

bp = Blueprint("problem_types", __name__)


class UnknownProblemType(NotFound):
    """No problem type has this code; /openapi.json lists every one (`GET /problems/{code}`)."""

    code, title = "unknown_problem_type", "Unknown problem type"


def page(t: ProblemType) -> str:
    """The page of one problem type: code, status, title, when it happens (plain HTML, no script or style)."""
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(t.title)}</title></head>'
            f"<body><h1>{escape(t.title)}</h1><p>Code <code>{escape(t.code)}</code>, HTTP status {t.status}.</p>"
            f"<p>{escape(t.description)}</p><p>The problem document (RFC 9457) carries this code in <code>code</code> "
            f"and this page's path in <code>type</code>; <code>instance</code> and <code>request_id</code> name the "
            f"request in the server log. Every endpoint and problem type: <a href=\"/openapi.json\">/openapi.json"
            f"</a>.</p></body></html>\n")


@bp.get(TYPE_BASE + "<code>")
def problem_type(code: str) -> ResponseReturnValue:
    types = {t.code: t for t in problem_types()}
    if code not in types:
        raise UnknownProblemType(f"no problem type {code!r}{did_you_mean(code, list(types))}")
    return Response(page(types[code]), mimetype="text/html")
