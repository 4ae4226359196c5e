"""Validators for responses against the served OpenAPI document (its embedded schemas resolved by `$id`)."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012

DOC_URI = "urn:attendance-policy:openapi"


def registry_of(doc: dict[str, Any]) -> Registry[Any]:
    """The document itself, plus every embedded schema under its own `$id`."""
    resources = [(DOC_URI, DRAFT202012.create_resource(doc))]
    resources += [(s["$id"], DRAFT202012.create_resource(s)) for s in doc["components"]["schemas"].values()]
    return Registry().with_resources(resources)


def response_validator(doc: dict[str, Any], template: str, method: str, status: int,
                       media: str) -> Draft202012Validator:
    """The validator of the documented response of `method template` with this status and media type."""
    responses = doc["paths"][template][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {template} does not document {status}"
    schema = responses[str(status)]["content"][media]["schema"]
    if "$ref" in schema:
        # A component is a Schema Object: an OpenAPI 3.1 tool enters it as the resource its `$id` names,
        # so the relative `$ref`s inside it resolve against that `$id` (as they do in schemas/).
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = {"$ref": doc["components"]["schemas"][name]["$id"]}
    return Draft202012Validator(schema, registry=registry_of(doc), format_checker=FormatChecker())


def response_errors(doc: dict[str, Any], template: str, method: str, status: int, media: str,
                    body: Any) -> list[str]:
    """Where and how `body` breaks the documented response (empty when it matches)."""
    validator = response_validator(doc, template, method, status, media)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]
