"""The policy JSON Schema's verdict, one problem per mistake, in plain words, at the mistake's place.

jsonschema reports what each keyword found; a person made one mistake. So:
inside a `oneOf` we keep the errors of the branch the value was written in; a
value with several errors (a date failing both `format` and `pattern`) gets its
headline; an unknown key next to the missing key it resembles (`valeu` /
`value`) is one misspelling; and a key that is unknown where it is but missing
from a mapping just above or below it was indented under the wrong parent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any, Literal, cast

from jsonschema.exceptions import ValidationError, best_match

from engine.core.errors import Problem
from engine.core.schemas import validator
from engine.core.suggest import closest, did_you_mean
from engine.policy.locate import Locator, get
from engine.policy.schema_words import value_message
from engine.policy.yaml_source import Document, Path

__all__ = ["MAX_SCHEMA_PROBLEMS", "schema_problems"]

MAX_SCHEMA_PROBLEMS = 50
_REQUIRED = re.compile(r"^'(.+)' is a required property$")
_RANK = {"type": 0, "enum": 1, "format": 2, "pattern": 3}  # which of a value's errors is its headline
# How badly a `oneOf` branch's own-level errors say "the value was not written in this shape".
_SHAPE_MISMATCH = {"type": 3, "additionalProperties": 2, "required": 1}


@dataclass(frozen=True)
class Mistake:
    """One mistake: a bad value, an unknown key, or a key missing from a mapping (`path`)."""

    kind: Literal["value", "unknown", "missing"]
    path: Path
    message: str
    key: str | None = None  # the unknown key (last part of path) or the missing one
    keys: tuple[str, ...] = ()  # a missing choice: one of these keys is needed
    rank: int = 9
    at_key: bool = False
    about: Path | None = None  # whose rule names the problem, when not `path`'s


def schema_problems(doc: Document, loc: Locator, said: set[Path]) -> tuple[list[Problem], set[Path]]:
    """Problems, and the paths they are about (the semantic checks leave those alone).

    `said`: paths a YAML problem already covers (a tag refused there leaves no value to check).
    """
    # A hostile file (100,000 empty rules) has millions of errors: look at the first few, fast.
    errors = islice(validator("policy").iter_errors(doc.data), MAX_SCHEMA_PROBLEMS)
    mistakes = [m for e in errors for h in _headlines(e) for m in _mistakes(h, doc)]
    mistakes = _one_per_place([m for m in mistakes if not any(m.path[:len(s)] == s for s in said)])
    problems = _Merger(doc, loc, mistakes).problems()
    return problems[:MAX_SCHEMA_PROBLEMS], {m.path for m in mistakes}


def _is_choice(err: ValidationError) -> bool:
    """The leaf's `oneOf` of `required` alone: compare with `value`, `param` or `other_fact`."""
    branches = err.validator_value if err.validator == "oneOf" else None
    return isinstance(branches, list) and all(set(b) == {"required"} for b in branches)


def _headlines(err: ValidationError) -> list[ValidationError]:
    """Inside a `oneOf` (the shapes of a condition, the forms of a value), the errors of the branch the value
    was written in: `op: equals` is a bad operator, not an unknown key `fact`."""
    if not err.context or _is_choice(err):
        return [err]
    branches: dict[Any, list[ValidationError]] = {}
    for e in err.context:
        branches.setdefault(e.relative_schema_path[0], []).append(e)
    score = {b: sum(_SHAPE_MISMATCH.get(str(e.validator), 0) for e in errs if not e.relative_path)
             for b, errs in branches.items()}
    ranked = sorted(score.values())
    if len(ranked) > 1 and ranked[0] == ranked[1]:
        if all(e.validator == "type" and not e.relative_path for e in err.context):
            return [err]  # written in none of the shapes: value_message lists them
        return _headlines(best_match([err] + list(err.context)) or err)
    chosen = branches[min(score, key=lambda b: score[b])]
    return [h for e in chosen for h in _headlines(e)]


def _mistakes(err: ValidationError, doc: Document) -> list[Mistake]:
    path, instance, schema = tuple(err.absolute_path), err.instance, cast(Any, err.schema)
    if err.validator == "additionalProperties" and isinstance(instance, dict):
        known = schema.get("properties", {})
        extra = sorted(set(instance) - set(known), key=lambda k: doc.position(path + (k,)) or (0, 0))
        return [Mistake("unknown", path + (k,), f"unknown key {k!r}{did_you_mean(str(k), known)}", str(k),
                        at_key=True) for k in extra]
    if err.validator == "required" and (m := _REQUIRED.match(err.message)):
        return [Mistake("missing", path, f"`{m.group(1)}` is missing", m.group(1), at_key=True)]
    if _is_choice(err) and isinstance(instance, dict):
        keys = tuple(k for b in cast(Any, err.validator_value) for k in b["required"])
        have = [k for k in keys if k in instance]
        if not have:
            return [Mistake("missing", path, "the condition needs one of `value`, `param` or `other_fact` "
                                             "(what the fact is compared with)", keys=keys, at_key=True)]
        return [Mistake("value", path, f"the condition has both `{have[0]}` and `{have[1]}`: compare the fact "
                                       "with one of them", at_key=True)]
    if "propertyNames" in err.absolute_schema_path and isinstance(get(doc.data, path), dict):
        return [Mistake("value", path + (instance,), value_message(err), rank=3, at_key=True)]
    return [Mistake("value", path, value_message(err), rank=_RANK.get(str(err.validator), 4))]


def _one_per_place(mistakes: list[Mistake]) -> list[Mistake]:
    """A value's headline (the lowest rank); each unknown or missing key once."""
    best: dict[tuple[Any, ...], Mistake] = {}
    for m in mistakes:
        place = (m.kind, m.path, m.key, m.keys)
        if place not in best or m.rank < best[place].rank:
            best[place] = m
    return list(best.values())


class _Merger:
    """Pairs an unknown key with the missing key it stands for: one mistake, one message."""

    def __init__(self, doc: Document, loc: Locator, mistakes: list[Mistake]) -> None:
        self.doc, self.loc = doc, loc
        self.mistakes = mistakes
        self.missing = {(m.path, k): m for m in mistakes if m.kind == "missing" for k in (m.keys or (m.key,))}
        self.dropped: set[int] = set()

    def problems(self) -> list[Problem]:
        out = []
        for m in self.mistakes:
            if m.kind != "missing" and m.path and isinstance(m.path[-1], str):
                m = self._misspelt(m) or self._misplaced(m) or m
            out.append(m)
        return [self._problem(m) for m in out if id(m) not in self.dropped]

    def _drop_missing(self, path: Path, key: str) -> bool:
        found = self.missing.get((path, key))
        if found is not None:
            self.dropped.add(id(found))
        return found is not None

    def _misspelt(self, m: Mistake) -> Mistake | None:
        """`valeu` where `value` is missing: the unknown-key message (with its "did you mean") alone."""
        if m.kind != "unknown":
            return None
        parent = m.path[:-1]
        near = closest(str(m.key), [k for (p, k) in self.missing if p == parent and k is not None])
        return m if near is not None and self._drop_missing(parent, near) else None

    def _misplaced(self, m: Mistake) -> Mistake | None:
        key, parent = str(m.path[-1]), m.path[:-1]
        for candidate in self._candidates(parent, key):
            required = (candidate, key) in self.missing
            if not required and (m.kind != "unknown" or key not in allowed_keys(candidate)):
                continue
            self._drop_missing(candidate, key)
            owner = self.loc.describe(candidate)
            if owner == self.loc.subject(m.path):
                owner = "the rule itself" if candidate[:1] == ("rules",) else owner
            lacks = f", which has no `{key}`" if required else ""
            here = f"in {self.loc.describe(parent)}" if parent else "at the top level"
            message = (f"`{key}` does not belong {here}: it probably belongs to {owner} (line "
                       f"{self.loc.line(candidate)}){lacks}; indent it {self._indent(candidate)}, like the other "
                       "keys there")
            return replace(m, message=message, at_key=True, about=parent)
        return None

    def _candidates(self, parent: Path, key: str) -> list[Path]:
        """Mappings the key may have been meant for: the last ones written before it, then those around it."""
        data = self.doc.data
        out: list[Path] = []
        siblings = list(get(data, parent) or ())
        if key in siblings and siblings.index(key) > 0:
            path = parent + (siblings[siblings.index(key) - 1],)
            while isinstance(node := get(data, path), (dict, list)) and node:
                if isinstance(node, dict):
                    out.append(path)
                path = path + ((list(node)[-1],) if isinstance(node, dict) else (len(node) - 1,))
        out += [parent[:i] for i in range(len(parent) - 1, -1, -1) if isinstance(get(data, parent[:i]), dict)]
        return [p for p in out if key not in get(data, p)]

    def _indent(self, path: Path) -> str:
        node = get(self.doc.data, path)
        first = self.doc.position(path + (next(iter(node)),)) if isinstance(node, dict) and node else None
        n = first[1] - 1 if first else 0
        return f"{n} space{'s' if n != 1 else ''}"

    def _problem(self, m: Mistake) -> Problem:
        if m.kind == "missing" or m.at_key:
            return self.loc.at_key("schema", m.message, m.path, m.about)
        return self.loc.at_value("schema", m.message, m.path)


def allowed_keys(path: Path) -> set[str]:
    """Every key the policy schema allows in the mapping at `path` (in any of its shapes)."""
    return {k for node in _schemas_at(path) for b in _branches(node) for k in b.get("properties", {})}


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    root: Any = validator("policy").schema
    while "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _branches(node: dict[str, Any]) -> list[dict[str, Any]]:
    node = _resolve(node)
    return [node] + [b for sub in node.get("oneOf", []) for b in _branches(sub)]


def _schemas_at(path: Path) -> list[dict[str, Any]]:
    nodes: list[Any] = [validator("policy").schema]
    for part in path:
        nxt = []
        for b in (b for n in nodes for b in _branches(n)):
            if isinstance(part, int) and isinstance(b.get("items"), dict):
                nxt.append(b["items"])
            elif isinstance(part, str) and part in b.get("properties", {}):
                nxt.append(b["properties"][part])
            elif isinstance(part, str) and isinstance(b.get("additionalProperties"), dict):
                nxt.append(b["additionalProperties"])
        nodes = nxt
    return nodes
