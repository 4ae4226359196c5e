"""The try-a-session form, generated from the facts schema, and the query string it shares (facts only)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.core.schemas import load_schema
from engine.policy.fact_reference import FactDoc, fact_docs

__all__ = ["Field", "Section", "flatten", "form_sections", "fresh_values", "has_empty", "parse_facts", "query_values"]

FRESH_SESSION_ID = "studio-1"  # an opaque id, so a first try needs nothing typed but the session type


@dataclass(frozen=True)
class Field:
    """One form field: the fact, how it is entered, what it means, its default, what was entered."""

    doc: FactDoc
    value: str
    error: str | None = None

    @property
    def name(self) -> str:
        return self.doc.path

    @property
    def dom_id(self) -> str:
        return "f-" + self.doc.path.replace(".", "-").replace("_", "-")

    @property
    def widget(self) -> str:
        """`select` for choices and yes/no, `number` for measures, `text` otherwise."""
        if self.doc.values:
            return "select"
        return "number" if self.doc.spec.numeric else "text"

    @property
    def options(self) -> list[tuple[str, str]]:
        """(value, label) of a select; the empty first one means "not given" (the default applies)."""
        return [(_text(v), "yes" if v is True else "no" if v is False else str(v)) for v in self.doc.values]

    @property
    def step(self) -> str:
        return "1" if self.doc.spec.kind == "integer" else "any"


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    fields: tuple[Field, ...]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def form_sections(values: Mapping[str, str], errors: Mapping[str, str] | None = None) -> list[Section]:
    """Every fact of the schema as a field, grouped by the schema's sections, in schema order."""
    schema = load_schema("session-facts")["properties"]
    by_section: dict[str, list[Field]] = {}
    for doc in fact_docs():
        section = doc.path.split(".", 1)[0]
        by_section.setdefault(section, []).append(Field(doc, values.get(doc.path, ""), (errors or {}).get(doc.path)))
    return [Section(key, schema[key].get("title", key), tuple(fields)) for key, fields in by_section.items()]


def query_values(args: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The facts entered, by fact path: empty fields left out (an empty field means unknown or default)."""
    known = {doc.path for doc in fact_docs()}
    return {k: v.strip() for k, v in args if k in known and v.strip()}


def has_empty(args: Iterable[tuple[str, str]]) -> bool:
    """Whether a fact field was sent empty (a form submits every field)."""
    known = {doc.path for doc in fact_docs()}
    return any(k in known and not v.strip() for k, v in args)


def _value(doc: FactDoc, raw: str) -> Any:
    """The typed value of what was entered; text that is not a number is kept so the schema names the field."""
    kind = doc.spec.kind
    if kind == "boolean" and raw in ("true", "false"):
        return raw == "true"
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        return raw
    return raw


def parse_facts(values: Mapping[str, str]) -> dict[str, Any]:
    """Session facts from the entered values (the schema checks them when the engine decides)."""
    facts: dict[str, Any] = {}
    for doc in fact_docs():
        if doc.path in values:
            section, name = doc.path.split(".", 1)
            facts.setdefault(section, {})[name] = _value(doc, values[doc.path])
    return facts


def flatten(facts: Any) -> dict[str, str]:
    """A scenario's facts as form values (fact path -> text); unknown shapes are left out."""
    out: dict[str, str] = {}
    if isinstance(facts, dict):
        for section, sub in facts.items():
            if isinstance(sub, dict):
                out.update({f"{section}.{k}": _text(v) for k, v in sub.items() if v is not None})
    return out


def fresh_values() -> dict[str, str]:
    return {"session.id": FRESH_SESSION_ID}
