"""Request bodies: media type, size (before reading), strict JSON, then the envelope schema."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from flask import request
from jsonschema import Draft202012Validator
from werkzeug.exceptions import RequestEntityTooLarge

from api.http.problems import BadRequest, PayloadTooLarge, TooManyItems, UnsupportedMediaType
from engine.core.errors import Problem
from engine.core.schemas import FORMAT_CHECKER, load_schema
from engine.facts.fast_validator import Check, checker_for
from engine.facts.prepare import describe_error, facts_problems, json_pointer
from engine.facts.strict_json import loads_strict

__all__ = ["DecisionRequest", "check_batch", "check_envelope", "check_schema", "read_json"]


@dataclass(frozen=True)
class DecisionRequest:
    facts: Any
    policy: str | None = None
    version: str | None = None
    explain: bool = False


def read_json(limit: int) -> Any:
    """The parsed body, refusing a wrong media type (415) and a large body (413) before parsing."""
    req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy look-up, not one per attribute
    mimetype = req.mimetype
    if mimetype != "application/json":
        raise UnsupportedMediaType(f"send the body as application/json, not {mimetype or 'no content type'}")
    charset = req.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"the body must be UTF-8, not {charset}")
    too_large = f"the body is larger than this endpoint's limit of {limit} bytes"
    length = req.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(too_large)
    try:
        data = req.stream.read(limit + 1)
    except RequestEntityTooLarge:
        raise PayloadTooLarge(too_large) from None
    except Exception as e:  # the transport failed: broken chunked encoding, a client gone or too slow
        raise BadRequest(f"the request body could not be read ({type(e).__name__}): send the whole body, "
                         "with a correct Content-Length or chunked encoding") from e
    if len(data) > limit:
        raise PayloadTooLarge(too_large)
    return loads_strict(data)


@cache
def _envelope(name: str) -> tuple[Check | None, Draft202012Validator]:
    # The request schema without its facts: the engine checks facts itself, with better messages.
    # As for facts, a fast yes/no check (engine/facts/fast_validator.py) first, jsonschema to list the problems.
    schema = dict(load_schema(name))
    schema["properties"] = {**schema["properties"], "facts": {}} if "facts" in schema["properties"] else {
        **schema["properties"], "items": {"type": "array", "minItems": 1}}
    return checker_for(schema), Draft202012Validator(schema, format_checker=FORMAT_CHECKER)


def _problems(name: str, body: Any) -> list[Problem]:
    fast, validator = _envelope(name)
    if fast is not None and fast(body):
        return []
    return sorted((describe_error(e) for e in validator.iter_errors(body)), key=lambda p: (p.path, p.message))


def _with_facts(problems: list[Problem], body: Any) -> list[Problem]:
    """An invalid envelope's problems and its facts' too, so that one answer lists them all (the rare path)."""
    if not isinstance(body, dict) or "facts" not in body:
        return problems
    at = [replace(p, path=f"facts.{p.path}" if p.path else "facts",
                  pointer="/facts" + (p.pointer if p.pointer is not None else json_pointer(p.path.split(".")))
                  if p.path else "/facts") for p in facts_problems(body["facts"])]
    return sorted(problems + at, key=lambda p: (p.path, p.message))


def check_envelope(body: Any) -> DecisionRequest:
    """A decision request (or one batch item) whose envelope is valid; facts unchecked yet."""
    problems = _problems("decision-request", body)
    if problems:
        raise BadRequest("the request does not match the decision request schema",
                         problems=_with_facts(problems, body))
    return DecisionRequest(body["facts"], body.get("policy"), body.get("version"), body.get("explain", False))


@cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(name), format_checker=FORMAT_CHECKER)


def check_schema(name: str, body: Any) -> Any:
    """A body that matches `schemas/<name>.schema.json` (400 listing every problem otherwise)."""
    errors = _validator(name).iter_errors(body)
    problems = sorted((describe_error(e) for e in errors), key=lambda p: (p.path, p.message))
    if problems:
        raise BadRequest(f"the request does not match the {name.replace('-', ' ')} schema", problems=problems)
    return body


def check_batch(body: Any, max_items: int) -> list[Any]:
    """The items of a batch request (each still to be checked on its own)."""
    problems = _problems("decision-batch-request", body)
    if problems:
        raise BadRequest("the request does not match the batch request schema", problems=problems)
    items: list[Any] = body["items"]
    if len(items) > max_items:
        raise TooManyItems(f"the batch has {len(items)} items; the limit is {max_items}")
    return items
