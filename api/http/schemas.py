"""The JSON Schemas in `schemas/` that the API reads or returns; /openapi.json embeds them all."""

from __future__ import annotations

from typing import Any

from engine.core.schemas import load_schema

__all__ = ["API_SCHEMAS", "load"]

# Every schema the API reads or returns, by file stem.
API_SCHEMAS: tuple[str, ...] = (
    "session-facts", "policy", "decision-request", "decision-batch-request", "decision", "decision-batch-response",
    "decision-record", "decision-record-page", "policy-list", "policy-info", "policy-version", "health", "problem",
    "status", "reload-result", "activate-request", "activation",
)


def load(name: str) -> dict[str, Any]:
    """`schemas/<name>.schema.json`, checked against the 2020-12 meta-schema (once per process)."""
    return load_schema(name)
