"""The schemas of `schemas/` as self-contained OpenAPI components: one source of truth, derived.

Each schema file becomes a component named after its stem (`decision-record` -> `DecisionRecord`);
each `$defs` entry, at any depth, becomes a component of its own (`decision.schema.json#/$defs/policy_ref`
-> `DecisionPolicyRef`). `$id`, `$schema` and `$defs` are dropped, and every `$ref` (relative file,
`#`, `#/$defs/...`, `file#/$defs/...`) becomes a `#/components/schemas/...` pointer. A schema file
that a `$ref` names is added too, so a new schema entry needs nothing here. A `$ref` into a schema's
properties (`policy.schema.json#/properties/changelog`) becomes a copy of what it points at.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from engine.core.schemas import load_schema

__all__ = ["component_name", "components", "ref"]

_DROPPED = ("$id", "$schema", "$defs")
PREFIX = "#/components/schemas/"


def component_name(stem: str) -> str:
    """`decision-record` -> `DecisionRecord`; `policy_ref` -> `PolicyRef`."""
    return "".join(part[:1].upper() + part[1:] for part in stem.replace("_", "-").split("-") if part)


def ref(stem: str) -> dict[str, str]:
    """A `$ref` to the component of `schemas/<stem>.schema.json`."""
    return {"$ref": PREFIX + component_name(stem)}


def _parse(reference: str, stem: str) -> tuple[str, list[str], list[str]]:
    """(schema file stem, `$defs` names along the pointer, the rest of the pointer) of one `$ref`."""
    file, _, fragment = reference.partition("#")
    target = file.rsplit("/", 1)[-1].removesuffix(".schema.json") if file else stem
    parts = [unquote(p).replace("~1", "/").replace("~0", "~") for p in fragment.split("/")[1:]]
    defs = []
    while len(parts) >= 2 and parts[0] == "$defs":
        defs.append(parts[1])
        parts = parts[2:]
    return target, defs, parts


def _rewrite(node: Any, stem: str, wanted: list[str]) -> Any:
    if isinstance(node, list):
        return [_rewrite(v, stem, wanted) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _rewrite(v, stem, wanted) for k, v in node.items() if k not in _DROPPED}
    if isinstance(node.get("$ref"), str):
        target, defs, rest = _parse(node["$ref"], stem)
        if not rest:
            wanted.append(target)
            out["$ref"] = PREFIX + component_name(target) + "".join(component_name(d) for d in defs)
            return out
        # A pointer into a schema's properties is no component: a copy of what it points at, which
        # client generators read as a type of its own.
        sub: Any = load_schema(target)
        for part in [x for d in defs for x in ("$defs", d)] + rest:
            sub = sub[part]
        del out["$ref"]
        return {**_rewrite(sub, target, wanted), **out}
    return out


def _lift(name: str, node: dict[str, Any], stem: str, out: dict[str, Any], wanted: list[str]) -> None:
    """Add `node` as component `name`, and each of its `$defs` (recursively) as `name` + the def's name."""
    if name in out:
        raise ValueError(f"two schemas would both be component {name!r} (in {stem}.schema.json): rename one")
    out[name] = _rewrite(node, stem, wanted)
    for def_name, sub in node.get("$defs", {}).items():
        _lift(name + component_name(def_name), sub, stem, out, wanted)


def components(stems: tuple[str, ...]) -> dict[str, Any]:
    """Every component of these schema files and of every schema file they refer to, in that order."""
    out: dict[str, Any] = {}
    wanted, done = list(stems), set()
    while wanted:
        stem = wanted.pop(0)
        if stem not in done:
            done.add(stem)
            _lift(component_name(stem), load_schema(stem), stem, out, wanted)
    return out
