"""The studio's pages: thin views that parse the query or form, call the engine, render a template."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import escape

from api.http.problems import BadRequest
from api.state import state
from api.studio import pages
from api.studio.access import guarded, page_headers
from api.studio.compare import KIND_TITLES, impact, scenarios_of, short_paths
from api.studio.drafts import check_draft, draft_text
from api.studio.forms import flatten, form_sections, fresh_values, has_empty, parse_facts, query_values
from engine.policy.model import Policy

__all__ = ["bp"]

bp = Blueprint("studio", __name__, template_folder="templates", static_folder="static",
               static_url_path="/studio/static")
bp.after_request(page_headers)


@bp.get("/")
def root() -> ResponseReturnValue:
    """The service's front door: the studio for people, /openapi.json for programs."""
    target = url_for(".index")
    body = (f'<!doctype html><html lang="en"><title>attendance-policy</title><p>The policy studio is at '
            f'<a href="{escape(target)}">{escape(target)}</a>; the API is described at '
            '<a href="/openapi.json">/openapi.json</a>.</p></html>')
    return Response(body, status=302, headers={"Location": target}, mimetype="text/html")


@bp.get("/studio/")
@guarded
def index() -> ResponseReturnValue:
    return render_template("studio/index.html", catalogue=pages.catalogue())


@bp.get("/studio/policies/<policy_id>/<version>")
@guarded
def version(policy_id: str, version: str) -> ResponseReturnValue:
    policy = state().engine.resolve(state().engine.policies.known(policy_id), version).policy
    status = next(s for s in pages.version_status(policy.id) if s.policy.version == policy.version)
    return render_template("studio/version.html", policy=policy, status=status, rules=pages.rules_view(policy),
                           must_decide=pages.must_decide_view(policy))


@bp.get("/studio/try")
@guarded
def try_session() -> ResponseReturnValue:
    policy = pages.chosen(request.args.get("policy"), request.args.get("version"))
    scenarios = scenarios_of(policy)
    if "scenario" in request.args:
        picked = pages.pick(scenarios, request.args["scenario"])
        return redirect(_try_link(policy, flatten(picked.facts)))
    entered = query_values(request.args.items(multi=True))
    if has_empty(request.args.items(multi=True)):  # the shared link carries only what was entered
        return redirect(_try_link(policy, entered))
    view, errors = pages.try_version(policy, entered)
    return render_template("studio/try.html", policy=policy, versions=pages.version_status(policy.id),
                           sections=form_sections(entered or fresh_values(), errors), errors=errors, result=view,
                           scenarios=scenarios, link=request.url if entered else None)


def _try_link(policy: Policy, values: dict[str, str]) -> str:
    """The try page of a version with these facts: the link a director shares."""
    return url_for(".try_session", policy=policy.id, version=policy.version, **values)  # type: ignore[arg-type]


@bp.get("/studio/compare")
@guarded
def compare() -> ResponseReturnValue:
    old, new, versions = pages.pair(request.args.get("policy"), request.args.get("old"), request.args.get("new"))
    report = impact(old, new) if old is not None and new is not None and old is not new else None
    return render_template("studio/compare.html", old=old, new=new, versions=versions, report=report,
                           kinds=KIND_TITLES, flatten=flatten, short_paths=short_paths)


@bp.route("/studio/draft", methods=["GET", "POST"])
@guarded
def draft() -> ResponseReturnValue:
    if request.method == "GET":
        start = pages.from_ref(request.args["from"]).source_text if "from" in request.args else ""
        return render_template("studio/draft.html", text=start, outcome=None, sections=form_sections(fresh_values()),
                               versions=pages.catalogue())
    text = draft_text(request.form.get("draft", ""), request.files.get("file"))
    if not text.strip():
        raise BadRequest("paste a draft version's YAML, or choose a file")
    entered = query_values(request.form.items(multi=True))
    action = request.form.get("action")
    outcome = check_draft(text, parse_facts(entered) if action == "try" else None)
    errors = {p.path: p.message for p in outcome.fact_problems}
    against = pages.loaded_versions(outcome.policy.id) if outcome.admitted and outcome.policy else []
    old, report = None, None
    if action == "compare" and against and outcome.policy is not None:
        old = pages.chosen(outcome.policy.id, request.form.get("against"))
        report = impact(old, outcome.policy, beside=old)
    return render_template("studio/draft.html", text=text, outcome=outcome, versions=pages.catalogue(),
                           sections=form_sections(entered or fresh_values(), errors), errors=errors,
                           result=pages.decision_view(outcome.decision) if outcome.decision else None,
                           against=against, report=report, old=old, new=outcome.policy, draft=True,
                           kinds=KIND_TITLES, flatten=flatten, short_paths=short_paths)
