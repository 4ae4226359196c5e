"""The JSON Schemas in `schemas/`, as one registry: the request checks and /openapi.json share it."""

from __future__ import annotations

from functools import cache
from typing import Any

from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from engine.schemas import SCHEMA_DIR, load_schema

__all__ = ["API_SCHEMAS", "load", "registry"]

# Every schema the API reads or returns, by file stem; the OpenAPI document embeds them all.
API_SCHEMAS: tuple[str, ...] = (
    "session-facts", "policy", "decision-request", "decision-batch-request", "decision", "decision-batch-response",
    "decision-record", "decision-record-page", "policy-list", "policy-info", "policy-version", "health", "problem",
)


def load(name: str) -> dict[str, Any]:
    """`schemas/<name>.schema.json`, checked against the 2020-12 meta-schema (once per process)."""
    return load_schema(name)


@cache
def registry() -> Registry[Any]:
    """All our schemas under their `$id`, so relative `$ref`s between files resolve offline."""
    resources = [(load(n)["$id"], Resource.from_contents(load(n), default_specification=DRAFT202012))
                 for n in API_SCHEMAS]
    return Registry().with_resources(resources)


def schema_dir() -> str:
    return str(SCHEMA_DIR)
