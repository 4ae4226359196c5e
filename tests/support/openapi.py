"""Validators for responses against the served OpenAPI document (self-contained: every `$ref` points inside it)."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012

DOC_URI = "urn:attendance-policy:openapi"


def registry_of(doc: dict[str, Any]) -> Registry[Any]:
    """The document itself, as the one resource every `#/components/...` pointer resolves in."""
    return Registry().with_resource(DOC_URI, DRAFT202012.create_resource(doc))


def response_validator(doc: dict[str, Any], template: str, method: str, status: int,
                       media: str) -> Draft202012Validator:
    """The validator of the documented response of `method template` with this status and media type."""
    responses = doc["paths"][template][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {template} does not document {status}"
    schema = responses[str(status)]["content"][media]["schema"]
    return Draft202012Validator({"$ref": DOC_URI + schema["$ref"]} if "$ref" in schema else schema,
                                registry=registry_of(doc), format_checker=FormatChecker())


def response_errors(doc: dict[str, Any], template: str, method: str, status: int, media: str,
                    body: Any) -> list[str]:
    """Where and how `body` breaks the documented response (empty when it matches)."""
    validator = response_validator(doc, template, method, status, media)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]
