"""Which policy versions a scenario applies to: `versions:` as written, parsed once into specifier sets.

The comparisons and ranges are packaging's (PEP 440 specifiers, e.g. `>=1.1.0`,
`>=1.0.0,<2.0.0`, `~=1.1`): a well-kept library rather than hand-written parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

__all__ = ["Versions", "parse_versions"]

YamlPath = tuple[Any, ...]
_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")  # as policy.schema.json has it
_FORMS = "a version (1.0.0), a comparison ('>=1.1.0'), a range ('>=1.0.0,<2.0.0') or a list of versions"


@dataclass(frozen=True)
class VersionItem:
    """One version or range as written, and where."""

    text: str
    spec: SpecifierSet
    path: YamlPath

    def matches(self, version: str) -> bool:
        return self.spec.contains(Version(version))


@dataclass(frozen=True)
class Versions:
    """The versions a scenario applies to: those matching any of the items."""

    items: tuple[VersionItem, ...]

    def matches(self, version: str) -> bool:
        return any(item.matches(version) for item in self.items)


def parse_versions(raw: Any, path: YamlPath) -> tuple[Versions, list[tuple[str, YamlPath]]]:
    """`versions:` as written -> Versions, and a (message, path) for each part that is not a version or range."""
    listed = isinstance(raw, list)
    values = raw if listed else [raw]
    items, problems = [], []
    if listed and not values:
        problems.append((f"`versions` is an empty list; write {_FORMS}", path))
    for j, value in enumerate(values):
        where = path + (j,) if listed else path
        spec = _spec(value)
        if spec is None:
            problems.append((f"{value!r} is not {_FORMS}", where))
        else:
            items.append(VersionItem(str(value).strip(), spec, where))
    return Versions(tuple(items)), problems


def _spec(value: Any) -> SpecifierSet | None:
    if not isinstance(value, str):
        return None  # 1.0 would be a YAML float: versions are written as strings
    text = value.strip()
    if _VERSION.fullmatch(text):
        return SpecifierSet(f"=={text}")
    if not text or not any(c in "<>=!~" for c in text):
        return None
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None
