"""The errors of the CDS Hooks endpoints: typed, with the element they name (rendered by api/http/problems.py)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from api.http.problems import ApiError, BadRequest, LogUnavailable
from engine.core.errors import Problem
from engine.core.schemas import FORMAT_CHECKER, load_schema
from engine.facts.prepare import describe_error

__all__ = ["CdsHooksUnavailable", "InvalidFhir", "InvalidHookRequest", "element", "schema_problems"]


class InvalidHookRequest(BadRequest):
    code, title = "invalid_hook_request", "Invalid CDS Hooks request"


class InvalidFhir(BadRequest):
    code, title = "invalid_fhir", "Invalid FHIR resource"


class CdsHooksUnavailable(LogUnavailable):
    """The decision log's backend does not keep CDS Hooks cards, feedback and JWT ids (api.log.store.HookLog)."""

    code, title = "cds_hooks_unavailable", "CDS Hooks unavailable"

    def __init__(self, detail: str) -> None:
        ApiError.__init__(self, detail)  # no Retry-After: waiting does not help


def element(prefix: str, parts: Iterable[Any]) -> str:
    """`context.appointment` + (participant, 1, status) -> `context.appointment.participant[1].status`."""
    out = prefix
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problem(error: ValidationError, prefix: str) -> Problem:
    parts = list(error.absolute_path)
    if error.validator in ("required", "dependentRequired"):  # name the missing field itself
        parts.append(error.message.split("'")[1])
    if error.validator == "dependentRequired":
        message = f"is required with {error.message.split(chr(39))[3]}"
    elif error.validator in ("oneOf", "anyOf"):
        message = "is not one of the allowed shapes"
    else:
        message = describe_error(error).message
    return Problem("invalid_hook_request", message, element(prefix, parts))


@cache
def _validator(name: str, ref: str) -> Draft202012Validator:
    schema = load_schema(name)
    if ref:  # validate against one of the file's $defs
        schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{ref}"}
    return Draft202012Validator(schema, format_checker=FORMAT_CHECKER)


def schema_problems(name: str, body: Any, prefix: str = "", *, ref: str = "") -> list[Problem]:
    """Every way `body` breaks `schemas/<name>.schema.json` (its `$defs/<ref>` when given), each at its element."""
    errors = sorted(_validator(name, ref).iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    return [_problem(e, prefix) for e in errors]
