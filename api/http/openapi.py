"""The OpenAPI 3.1 document: the paths are written here, every schema is derived from `schemas/`.

The document is self-contained (api/http/components.py): every schema and each of its `$defs` is a
component, and every `$ref` points inside the document, so any OpenAPI tool reads it from its URL.
Security is declared as configured: with keys, bearer on each protected operation and the role it
needs in its description; without keys, no security requirement at all.
"""

from __future__ import annotations

import copy
import importlib.metadata
import json
from functools import cache
from pathlib import Path
from typing import Any

from api.config.settings import Settings
from api.http.components import component_name, components, ref
from api.http.problems import PROBLEM_JSON, TYPE_BASE, ProblemType, problem_types

__all__ = ["API_SCHEMAS", "component_name", "document"]

# Every schema the API reads or returns, by file stem: the document has them all (and what they refer to). The
# policy format is not one: policies are files, and `getPolicyVersion` returns a version's source as text.
API_SCHEMAS: tuple[str, ...] = (
    "session-facts", "decision-request", "decision-batch-request", "decision", "decision-batch-response",
    "decision-record", "decision-record-page", "policy-list", "policy-info", "policy-version", "health", "problem",
    "status", "reload-result", "reload-pending", "activate-request", "activation", "impact-report",
)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "facts"

_STATUS = {
    400: "Malformed JSON, invalid request or facts, or invalid query (`errors` lists every problem)",
    401: "No valid API key (`unauthenticated`)",
    403: "The key lacks the role this endpoint needs (`forbidden`)",
    404: "Unknown policy, version, decision or problem type (with `suggestion` when a close name exists)",
    409: "No version of the policy is in effect yet (`no_active_version`)",
    413: "Body over the limit, or too many batch items",
    415: "The body is not application/json (UTF-8)",
    422: "The rules files cannot be served (`reload_failed`, with every problem in `problems`); nothing changed",
    500: "The engine could not decide (`engine_error`) or an unexpected error (`internal_error`)",
    503: "The decision log cannot be written or read: no decision was made (`decision_log_unavailable`); or the "
         "pinned version of the policy is not loaded in this worker (`pinned_version_unavailable`)",
}
_AUTH = (401, 403)
TAGS = {
    "decisions": "Decide session facts; every decision is logged before it is returned.",
    "audit": "Read the decision log (`audit` role).",
    "policies": "The loaded policies and their versions.",
    "lifecycle": "Reload the rules files, pin a version, see every worker's state.",
    "operations": "Health, readiness, metrics and this document.",
    "problems": "One short page per problem type, at the URL in each problem's `type`.",
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problems(*statuses: int) -> dict[str, Any]:
    return {str(s): {"description": _STATUS[s], "content": {PROBLEM_JSON: {"schema": ref("problem")}}}
            for s in statuses}


def _op(op_id: str, tag: str, summary: str, role: str | None, ok: dict[str, Any], errors: tuple[int, ...],
        more: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """One operation; `role` None is public, `any` any key; 401/403 are added when a key is needed."""
    statuses = tuple(sorted({*errors, *(_AUTH if role else ())}))
    op: dict[str, Any] = {"operationId": op_id, "tags": [tag], "summary": summary, "description": summary + ".",
                          "responses": {"200": ok, **(more or {}), **_problems(*statuses)}}
    if role is not None:
        op["x-required-role"] = role
    op.update(extra)
    return op


def _param(name: str, where: str, description: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path", "description": description,
            "schema": schema}


def _body(stem: str, examples: dict[str, Any] | None = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": ref(stem)}
    if examples:
        media["examples"] = examples
    return {"required": True, "content": {"application/json": media}}


@cache
def _fact_examples() -> dict[str, Any]:
    """The decision request examples: `examples/facts/*.json`, each as the facts of one request."""
    return {p.stem: {"summary": p.stem.replace("-", " "), "value": {"facts": json.loads(p.read_text("utf-8"))}}
            for p in sorted(EXAMPLES.glob("*.json"))}


_ID = {"type": "string", "minLength": 1, "maxLength": 128}


def _decision_paths() -> dict[str, Any]:
    text = {"type": "string", "pattern": "^[^\\x00-\\x1f\\x7f]*$"}
    version_ref = {"type": "string", "pattern": "^[^@]+@[0-9]+[.][0-9]+[.][0-9]+$"}
    audit_params = [
        _param("session_id", "query", "Only this session's decisions (empty: every session's).", text),
        _param("since", "query", "Evaluated at or after (RFC 3339).", {"type": "string", "format": "date-time"}),
        _param("until", "query", "Evaluated before (RFC 3339).", {"type": "string", "format": "date-time"}),
        _param("limit", "query", "Page size.", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}),
        _param("cursor", "query", "`next_cursor` of the previous page, unchanged (empty: the first page).",
               {"type": "string", "pattern": "^(s[0-9]{1,18})?$"}),
    ]
    batch = {k: {**v, "value": {"items": [v["value"]]}} for k, v in _fact_examples().items()}
    return {
        "/v1/decisions": {
            "post": _op("createDecision", "decisions", "Decide one set of session facts; logged before it is returned",
                        "evaluate", _json(ref("decision"), "The decision, committed to the decision log"),
                        (400, 404, 409, 413, 415, 500, 503), requestBody=_body("decision-request", _fact_examples())),
            "get": _op("listDecisions", "audit", "Logged decisions, in log order, paginated", "audit",
                       _json(ref("decision-record-page"), "A page of logged decisions"), (400, 503),
                       parameters=audit_params),
        },
        "/v1/decisions:batch": {
            "post": _op("createDecisionBatch", "decisions", "Decide many sets of facts; per-item results in order",
                        "evaluate", _json(ref("decision-batch-response"), "One result per item; all logged together"),
                        (400, 413, 415, 503), requestBody=_body("decision-batch-request", batch)),
        },
        "/v1/audit/impact": {"get": _op(
            "getImpact", "audit", "Impact of one loaded version against another, on generated cases and this log",
            "audit", _json(ref("impact-report"), "The impact report (as `attendance-policy diff --format json`)"),
            (400, 404, 503), parameters=[
                _param("old", "query", "`<policy>@<version>` (default: the version in effect)", version_ref),
                _param("new", "query", "`<policy>@<version>` (default: the newest loaded)", version_ref),
                *audit_params[1:3],
                _param("limit", "query", "At most this many logged decisions.",
                       {"type": "integer", "minimum": 1, "maximum": 100000, "default": 10000}),
                _param("generated", "query", "Also the generated cases.", {"type": "boolean", "default": True})])},
        "/v1/decisions/{decision_id}": {
            "get": _op("getDecision", "audit", "One logged decision", "audit",
                       _json(ref("decision-record"), "The logged decision"), (404, 503),
                       parameters=[_param("decision_id", "path", "The decision's id.", _ID)]),
        },
    }


def _policy_paths() -> dict[str, Any]:
    pid = _param("policy_id", "path", "Policy id, e.g. `couples-attendance`.", _ID)
    version = _param("version", "path", "Policy version, e.g. `1.0.0`.", {**_ID, "maxLength": 32})
    return {
        "/v1/policies": {"get": _op("listPolicies", "policies", "Loaded policies and versions", "any",
                                    _json(ref("policy-list"), "Every loaded policy"), ())},
        "/v1/policies/{policy_id}": {"get": _op("getPolicy", "policies", "One policy's versions, which is active",
                                                "any", _json(ref("policy-info"), "The policy"), (404,),
                                                parameters=[pid])},
        "/v1/policies/{policy_id}/versions/{version}": {
            "get": _op("getPolicyVersion", "policies", "One version: metadata, rules summary and YAML source", "any",
                       _json(ref("policy-version"), "The version"), (404,), parameters=[pid, version])},
    }


def _lifecycle_paths() -> dict[str, Any]:
    pid = _param("policy_id", "path", "Policy id, e.g. `couples-attendance`.", _ID)
    pending = _json(ref("reload-pending"), "Still reloading after `policies.reload_wait_ms`: the outcome appears in "
                                           "/v1/status")
    pending["headers"] = {"Location": {"schema": {"type": "string"}, "description": "/v1/status"}}
    return {
        "/v1/status": {"get": _op("getStatus", "lifecycle", "Per worker: loaded versions, active versions, last "
                                  "reload error", "any", _json(ref("status"), "Every worker's policy state"), (503,))},
        "/v1/admin/reload": {"post": _op(
            "reloadPolicies", "lifecycle", "Reload the rules files now (checked and compiled before anything "
            "changes)", "admin", _json(ref("reload-result"), "Reloaded (or unchanged); the other workers follow"),
            (422,), more={"202": pending})},
        "/v1/admin/policies/{policy_id}/activate": {"post": _op(
            "activatePolicyVersion", "lifecycle", "Pin a version (rollback or roll forward), or unpin with null",
            "admin", _json(ref("activation"), "The pin is recorded and in force on every worker's next request"),
            (400, 404, 413, 415, 503), parameters=[pid], requestBody=_body("activate-request"))},
    }


def _ops_paths(types: tuple[ProblemType, ...]) -> dict[str, Any]:
    text = {"description": "Prometheus text format 0.0.4, summed over all workers",
            "content": {"text/plain": {"schema": {"type": "string"}}}}
    doc = _json({"type": "object", "description": "An OpenAPI 3.1 document"}, "This document")
    page = {"description": "A short HTML page: the code, its HTTP status, its title and when it happens",
            "content": {"text/html": {"schema": {"type": "string"}}}}
    listed = ", ".join(f"`{t.code}` ({t.status})" for t in types)
    code = _param("code", "path", f"The problem's `code`. Every problem type: {listed}.",
                  {"type": "string", "enum": [t.code for t in types]})
    return {
        "/healthz": {"get": _op("healthz", "operations", "The process answers", None,
                                _json(ref("health"), "Alive"), ())},
        "/readyz": {"get": _op("readyz", "operations", "Policies loaded and the decision log writable", None,
                               _json(ref("health"), "Ready"), (503,))},
        "/metrics": {"get": _op("metrics", "operations", "Prometheus metrics", "admin", text, ())},
        "/openapi.json": {"get": _op("openapi", "operations", "This OpenAPI document", None, doc, ())},
        TYPE_BASE + "{code}": {"get": _op("getProblemType", "problems", "What one problem type means: the page "
                                          "its `type` URL names", None, page, (404,), parameters=[code])},
    }


def _auth_note(settings: Settings) -> str:
    if settings.auth_enabled:
        return "API keys are required: send one as `Authorization: Bearer <key>`; each operation names its role."
    if settings.allow_unauthenticated:
        return ("Authentication is off (no API keys, `allow_unauthenticated`): this server trusts whatever "
                "stands in front of it.")
    return "Authentication is off on this server (no API keys): only loopback clients are served."


def _secure(paths: dict[str, Any], settings: Settings) -> None:
    """Security as configured: bearer with the role on each protected operation, or none anywhere."""
    note = _auth_note(settings)
    for item in paths.values():
        for op in item.values():
            role = op.get("x-required-role")
            if not settings.auth_enabled or role is None:
                op["security"] = []
                op["description"] += " No key needed." if settings.auth_enabled else " " + note
                continue
            op["security"] = [{"bearer": []}]
            needs = "any API key" if role == "any" else f"an API key with the `{role}` role"
            op["description"] += f" Needs {needs} (`Authorization: Bearer <key>`)."


@cache
def _document(settings: Settings, types: tuple[ProblemType, ...]) -> dict[str, Any]:
    schemas = copy.deepcopy(components(API_SCHEMAS))
    schemas["DecisionBatchRequest"]["properties"]["items"]["maxItems"] = settings.max_batch_items
    paths = {**_decision_paths(), **_policy_paths(), **_lifecycle_paths(), **_ops_paths(types)}
    _secure(paths, settings)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "attendance-policy decision service",
            "version": importlib.metadata.version("attendance-policy"),
            "description": (f"Session facts in, explained decisions out; every decision is logged before it is "
                            f"returned. {_auth_note(settings)} Errors are RFC 9457 problem documents with a stable "
                            f"`code` and a `type` URL that this server answers with a page saying what it means; "
                            f"unknown paths answer 404 and wrong methods 405 the same way. Request bodies are "
                            f"limited to {settings.max_body_bytes} bytes (one decision)."),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
            "contact": {"name": "attendance-policy maintainers"},
        },
        "servers": [{"url": "/", "description": "This server"}],
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "paths": paths,
        "components": {"schemas": schemas},
    }
    if settings.auth_enabled:
        doc["components"]["securitySchemes"] = {"bearer": {
            "type": "http", "scheme": "bearer", "description": "An API key from `attendance-policy keys new`."}}
    return doc


def document(settings: Settings, types: tuple[ProblemType, ...] | None = None) -> dict[str, Any]:
    """The OpenAPI document for this server's settings and problem types (built once per combination)."""
    return _document(settings, types if types is not None else problem_types())
