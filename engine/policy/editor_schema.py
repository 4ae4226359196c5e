"""The editor part of the policy schema: every fact, its operators and its values, from the facts schema.

`schemas/policy.schema.json` holds it as `$defs.editor`, which nothing else in the
schema refers to: the engine validates a policy exactly as before (its own semantic
checks name an unknown fact with a "did you mean"), while an editor pointed at
`policy.schema.json#/$defs/editor` (the `# yaml-language-server:` line at the top of
each policy file) checks the same as the engine's semantic checks on fact paths,
operators and values while a clinical director types. `scripts/editor_schema.py`
writes it; a test fails when it is out of date.
"""

from __future__ import annotations

import json
from typing import Any

from engine.facts.prepare import FactSpec, fact_catalogue
from engine.policy.fact_reference import operators_for

__all__ = ["EDITOR_KEY", "EDITOR_POINTER", "editor_defs", "render_editor_defs"]

EDITOR_KEY = "editor"
EDITOR_POINTER = f"#/$defs/{EDITOR_KEY}"
_CONDITION = f"{EDITOR_POINTER}/$defs/condition"
_LIST_OPS = ("in", "not_in")
_COMMENT = ("Generated from session-facts.schema.json by scripts/editor_schema.py --write; do not edit by hand. "
            "For editors only (point them at policy.schema.json#/$defs/editor): the engine never refers to it, "
            "and checks the same things itself, with a did-you-mean.")
# Types the engine's value check accepts for a fact of each kind (engine/policy/semantics.py value_problem).
_TYPES = {"boolean": "boolean", "integer": "integer", "number": "number", "string": "string"}


def _value(spec: FactSpec) -> dict[str, Any]:
    """What `value:` may be for this fact: one allowed value, or a list of them (which one, `op` says)."""
    if spec.kind == "enum":
        one: dict[str, Any] = {"enum": list(spec.enum)}
        return {"if": {"type": "array"}, "then": {"items": one}, "else": one}
    return {"type": [_TYPES[spec.kind], "array"], "items": {"type": _TYPES[spec.kind]}}


def _per_fact(spec: FactSpec) -> dict[str, Any]:
    return {"if": {"required": ["fact"], "properties": {"fact": {"const": spec.path}}},
            "then": {"properties": {"op": {"enum": list(operators_for(spec))}, "value": _value(spec)}}}


def _list_or_single() -> dict[str, Any]:
    """`in` / `not_in` compare with a list, every other operator with one value."""
    return {"if": {"required": ["op"], "properties": {"op": {"enum": list(_LIST_OPS)}}},
            "then": {"properties": {"value": {"type": "array"}}},
            "else": {"properties": {"value": {"not": {"type": "array"}}}}}


def editor_defs() -> dict[str, Any]:
    """The `$defs.editor` schema: the policy schema, plus fact paths, operators and values per fact."""
    facts = fact_catalogue()
    paths = list(facts)
    when = {"items": {"properties": {"when": {"$ref": _CONDITION}}}}
    condition = {
        "description": "A condition whose facts, operators and values are checked against the facts schema.",
        "properties": {
            "all": {"items": {"$ref": _CONDITION}},
            "any": {"items": {"$ref": _CONDITION}},
            "not": {"$ref": _CONDITION},
            "fact": {"enum": paths},
            "other_fact": {"enum": paths},
        },
        "allOf": [_list_or_single()] + [_per_fact(spec) for spec in facts.values()],
    }
    return {
        "$comment": _COMMENT,
        # The additions sit inside `allOf`, not beside the `$ref`: yaml-language-server checks the root's
        # `additionalProperties: false` against the `properties` written next to it, and would refuse every
        # other top-level key.
        "allOf": [{"$ref": "#"}, {"properties": {"rules": when, "must_decide": when}}],
        "$defs": {"condition": condition},
    }


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def render_editor_defs(indent: str = "    ") -> str:
    """`"editor": {...}` as it is written in policy.schema.json: one line per entry, like the rest of the file."""
    defs = editor_defs()
    condition = defs["$defs"]["condition"]
    i1, i2, i3, i4 = (indent + "  " * n for n in range(1, 5))
    checks = f",\n{i4}".join(_compact(c) for c in condition["allOf"])
    body = (
        f'{i1}"$comment": {_compact(defs["$comment"])},\n'
        f'{i1}"allOf": {_compact(defs["allOf"])},\n'
        f'{i1}"$defs": {{\n'
        f'{i2}"condition": {{\n'
        f'{i3}"description": {_compact(condition["description"])},\n'
        f'{i3}"properties": {_compact(condition["properties"])},\n'
        f'{i3}"allOf": [\n{i4}{checks}\n{i3}]\n'
        f'{i2}}}\n'
        f'{i1}}}\n'
    )
    return f'{indent}"{EDITOR_KEY}": {{\n{body}{indent}}}'
