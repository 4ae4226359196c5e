"""The OpenAPI 3.1 document: the paths are written here, every schema is embedded from `schemas/`.

Each schema keeps its `$id`, so the relative `$ref`s between schema files resolve
inside the document exactly as they do on disk: one source of truth.
"""

from __future__ import annotations

import copy
import importlib.metadata
from functools import cache
from typing import Any

from api.config.settings import Settings
from engine.core.schemas import load_schema

__all__ = ["API_SCHEMAS", "component_name", "document"]

# Every schema the API reads or returns, by file stem: the document embeds them all.
API_SCHEMAS: tuple[str, ...] = (
    "session-facts", "policy", "decision-request", "decision-batch-request", "decision", "decision-batch-response",
    "decision-record", "decision-record-page", "policy-list", "policy-info", "policy-version", "health", "problem",
    "status", "reload-result", "reload-pending", "activate-request", "activation", "impact-report",
)

_STATUS = {
    400: "Malformed JSON, invalid request or facts, or invalid query (`errors` lists every problem)",
    401: "No valid API key (`unauthenticated`)",
    403: "The key lacks the role this endpoint needs (`forbidden`)",
    404: "Unknown policy, version or decision (with `suggestion` when a close name exists)",
    409: "No version of the policy is in effect yet (`no_active_version`)",
    413: "Body over the limit, or too many batch items",
    415: "The body is not application/json (UTF-8)",
    422: "The rules files cannot be served (`reload_failed`, with every problem in `problems`); nothing changed",
    500: "The engine could not decide (`engine_error`) or an unexpected error (`internal_error`)",
    503: "The decision log cannot be written or read: no decision was made (`decision_log_unavailable`); or the "
         "pinned version of the policy is not loaded in this worker (`pinned_version_unavailable`)",
}


def component_name(stem: str) -> str:
    """`decision-record` -> `DecisionRecord`."""
    return "".join(part.capitalize() for part in stem.split("-"))


def _ref(stem: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{component_name(stem)}"}


def _json(stem: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(stem)}}}


def _problems(*statuses: int) -> dict[str, Any]:
    return {str(s): {"description": _STATUS[s], "content": {"application/problem+json": {"schema": _ref("problem")}}}
            for s in statuses}


def _op(op_id: str, summary: str, role: str | None, ok: dict[str, Any], errors: tuple[int, ...],
        more: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": op_id, "summary": summary,
                          "responses": {"200": ok, **(more or {}), **_problems(*errors)}}
    if role is None:
        op["security"] = []
    else:
        op["x-required-role"] = role
        op["description"] = f"Needs an API key with the `{role}` role." if role != "any" else "Needs any API key."
    op.update(extra)
    return op


def _param(name: str, where: str, description: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path", "description": description,
            "schema": schema}


def _body(stem: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(stem)}}}


def _decision_paths() -> dict[str, Any]:
    ref = {"type": "string", "pattern": "^[^@]+@[0-9]+[.][0-9]+[.][0-9]+$"}
    audit_params = [
        _param("session_id", "query", "Only this session's decisions.", {"type": "string"}),
        _param("since", "query", "Evaluated at or after (RFC 3339).", {"type": "string", "format": "date-time"}),
        _param("until", "query", "Evaluated before (RFC 3339).", {"type": "string", "format": "date-time"}),
        _param("limit", "query", "Page size.", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}),
        _param("cursor", "query", "`next_cursor` of the previous page.", {"type": "string"}),
    ]
    return {
        "/v1/decisions": {
            "post": _op("createDecision", "Decide one set of session facts; logged before it is returned",
                        "evaluate", _json("decision", "The decision, committed to the decision log"),
                        (400, 401, 403, 404, 409, 413, 415, 500, 503), requestBody=_body("decision-request")),
            "get": _op("listDecisions", "Logged decisions, in log order, paginated", "audit",
                       _json("decision-record-page", "A page of logged decisions"), (400, 401, 403, 503),
                       parameters=audit_params),
        },
        "/v1/decisions:batch": {
            "post": _op("createDecisionBatch", "Decide many sets of facts; per-item results in order", "evaluate",
                        _json("decision-batch-response", "One result per item; all decisions logged together"),
                        (400, 401, 403, 413, 415, 503), requestBody=_body("decision-batch-request")),
        },
        "/v1/audit/impact": {"get": _op(
            "getImpact", "Impact of one loaded version against another, on generated cases and this log", "audit",
            _json("impact-report", "The impact report (as `attendance-policy diff --format json`)"),
            (400, 401, 403, 404, 503), parameters=[
                _param("old", "query", "`<policy>@<version>` (default: the version in effect)", ref),
                _param("new", "query", "`<policy>@<version>` (default: the newest loaded)", ref),
                *audit_params[1:3],
                _param("limit", "query", "At most this many logged decisions.",
                       {"type": "integer", "minimum": 1, "maximum": 100000, "default": 10000}),
                _param("generated", "query", "Also the generated cases.", {"type": "boolean", "default": True})])},
        "/v1/decisions/{decision_id}": {
            "get": _op("getDecision", "One logged decision", "audit", _json("decision-record", "The logged decision"),
                       (401, 403, 404, 503),
                       parameters=[_param("decision_id", "path", "The decision's id.", {"type": "string"})]),
        },
    }


def _policy_paths() -> dict[str, Any]:
    pid = _param("policy_id", "path", "Policy id, e.g. `couples-attendance`.", {"type": "string"})
    version = _param("version", "path", "Policy version, e.g. `1.0.0`.", {"type": "string"})
    return {
        "/v1/policies": {"get": _op("listPolicies", "Loaded policies and versions", "any",
                                    _json("policy-list", "Every loaded policy"), (401, 403))},
        "/v1/policies/{policy_id}": {"get": _op("getPolicy", "One policy's versions, which is active", "any",
                                                _json("policy-info", "The policy"), (401, 403, 404),
                                                parameters=[pid])},
        "/v1/policies/{policy_id}/versions/{version}": {
            "get": _op("getPolicyVersion", "One version: metadata, rules summary and YAML source", "any",
                       _json("policy-version", "The version"), (401, 403, 404), parameters=[pid, version])},
    }


def _lifecycle_paths() -> dict[str, Any]:
    pid = _param("policy_id", "path", "Policy id, e.g. `couples-attendance`.", {"type": "string"})
    return {
        "/v1/status": {"get": _op("getStatus", "Per worker: loaded versions, active versions, last reload error",
                                  "any", _json("status", "Every worker's policy state"), (401, 403, 503))},
        "/v1/admin/reload": {"post": _op(
            "reloadPolicies", "Reload the rules files now (checked and compiled before anything changes)", "admin",
            _json("reload-result", "Reloaded (or unchanged); the other workers follow"), (401, 403, 422),
            more={"202": {**_json("reload-pending", "Still reloading after `policies.reload_wait_ms`: the outcome "
                                                    "appears in /v1/status"),
                          "headers": {"Location": {"schema": {"type": "string"}, "description": "/v1/status"}}}})},
        "/v1/admin/policies/{policy_id}/activate": {"post": _op(
            "activatePolicyVersion", "Pin a version (rollback or roll forward), or unpin with null", "admin",
            _json("activation", "The pin is recorded and in force on every worker's next request"),
            (400, 401, 403, 404, 413, 415, 503), parameters=[pid], requestBody=_body("activate-request"))},
    }


def _ops_paths() -> dict[str, Any]:
    text = {"description": "Prometheus text format 0.0.4, summed over all workers",
            "content": {"text/plain": {"schema": {"type": "string"}}}}
    doc = {"description": "This document", "content": {"application/json": {"schema": {"type": "object"}}}}
    return {
        "/healthz": {"get": _op("healthz", "The process answers", None, _json("health", "Alive"), ())},
        "/readyz": {"get": _op("readyz", "Policies loaded and the decision log writable", None,
                               _json("health", "Ready"), (503,))},
        "/metrics": {"get": _op("metrics", "Prometheus metrics", "admin", text, (401, 403))},
        "/openapi.json": {"get": _op("openapi", "This OpenAPI document", None, doc, ())},
    }


@cache
def _document(auth_enabled: bool, max_batch_items: int, max_body_bytes: int) -> dict[str, Any]:
    schemas = {component_name(stem): copy.deepcopy(load_schema(stem)) for stem in API_SCHEMAS}
    schemas["DecisionBatchRequest"]["properties"]["items"]["maxItems"] = max_batch_items
    auth = "API keys are required." if auth_enabled else "Authentication is off on this (loopback) server."
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "attendance-policy decision service",
            "version": importlib.metadata.version("attendance-policy"),
            "description": (f"Session facts in, explained decisions out; every decision is logged before it is "
                            f"returned. {auth} Errors are RFC 9457 problem documents with a stable `code`; "
                            f"unknown paths answer 404 and wrong methods 405 the same way. Request bodies are "
                            f"limited to {max_body_bytes} bytes (one decision)."),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {**_decision_paths(), **_policy_paths(), **_lifecycle_paths(), **_ops_paths()},
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "An API key from `attendance-policy keys new`."}},
        },
    }


def document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document for this server's settings (built once per setting combination)."""
    return _document(settings.auth_enabled, settings.max_batch_items, settings.max_body_bytes)
