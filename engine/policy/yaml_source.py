"""Safe YAML reading that keeps where every value came from.

PyYAML keeps the last of two equal keys and will build arbitrary objects from
tags; we compose the node graph with the safe loader, then build plain data
ourselves so that duplicate keys, foreign tags, alias bombs and text that is not
Unicode are errors with a line and column instead of surprises. Syntax errors
are explained in plain words by engine.policy.yaml_errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.core.errors import Problem
from engine.policy.yaml_errors import explain

Path = tuple[Any, ...]

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 60_000  # ~3x the largest version the loader's caps accept (250 rules: 21,500 nodes)
TOO_MANY = f"more than {MAX_NODES} values: an alias bomb, or far more than a policy version may hold"
MAX_DEPTH = 64

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


@dataclass
class Document:
    """Plain data read from YAML plus where every path in it is written.

    `positions` holds the (line, column) of each key (of each item, for lists);
    `values` the line, column and character span of each value, so that a problem
    with a value can point at the value and at a word inside it.
    """

    data: Any
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    values: dict[Path, tuple[int, int, int, int]] = field(default_factory=dict)
    text: str = ""

    def position(self, path: Path) -> tuple[int, int] | None:
        """Where `path` is, or its nearest ancestor when it does not exist."""
        p = tuple(path)
        while True:
            if p in self.positions:
                return self.positions[p]
            if not p:
                return None
            p = p[:-1]

    def value_position(self, path: Path) -> tuple[int, int] | None:
        """Where the value at `path` starts (else where its key, or nearest ancestor, is)."""
        found = self.values.get(tuple(path))
        return found[:2] if found else self.position(path)

    def find(self, path: Path, needle: str) -> tuple[int, int] | None:
        """Where `needle` is written inside the value at `path` (else where the value starts)."""
        span = self.values.get(tuple(path))
        if span and self.text:
            at = self.text.find(needle, span[2], span[3])
            if at >= 0:
                return offset_position(self.text, at)
        return self.value_position(path)


def offset_position(text: str, index: int) -> tuple[int, int]:
    """(line, column), both from 1, of a character index in `text`."""
    return text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index)


class _Abort(Exception):
    pass


class _Builder:
    def __init__(self, filename: str, text: str) -> None:
        self.filename = filename
        self.text = text
        self.problems: list[Problem] = []
        self.positions: dict[Path, tuple[int, int]] = {}
        self.values: dict[Path, tuple[int, int, int, int]] = {}
        self.count = 0
        self._constructor = yaml.SafeLoader("")

    def problem(self, code: str, message: str, node: yaml.Node, path: Path,
                where: tuple[int, int] | None = None) -> None:
        line, col = where or (node.start_mark.line + 1, node.start_mark.column + 1)
        self.problems.append(Problem(code, message, json_path(path), self.filename, line, col))

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            self.problem("yaml_too_large", TOO_MANY, node, path)
            raise _Abort
        if len(path) > MAX_DEPTH:
            self.problem("yaml_too_deep", f"nesting deeper than {MAX_DEPTH} levels", node, path)
            raise _Abort
        start, end = node.start_mark, node.end_mark
        self.positions.setdefault(path, (start.line + 1, start.column + 1))
        self.values.setdefault(path, (start.line + 1, start.column + 1, start.index, end.index))
        if isinstance(node, yaml.MappingNode) and node.tag == _MAP:
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ:
            return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
        if isinstance(node, yaml.ScalarNode) and node.tag in _SCALAR_TAGS:
            return self._scalar(node, path)
        self.problem("yaml_tag", f"tag {node.tag!r} is not allowed (plain YAML only)", node, path)
        return None

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problem("yaml_merge", "merge keys (<<) are not allowed", key_node, path)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem("yaml_key", "mapping keys must be plain scalars", key_node, path)
                continue
            key = self._text(key_node, path + (_escaped(key_node.value),))
            if key in out:
                line, col = self.positions[path + (key,)]
                self.problem("duplicate_key",
                             f"duplicate key {key!r} (first defined at line {line}, column {col})",
                             key_node, path + (key,))
                continue
            self.positions[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.build(value_node, path + (key,))
        return out

    def _scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        tag = node.tag
        if tag in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp"):
            return self._text(node, path)
        try:
            return self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as e:
            self.problem("yaml_value", f"bad {tag.rsplit(':', 1)[-1]} value {node.value!r}: {e}", node, path)
            return None

    def _text(self, node: yaml.ScalarNode, path: Path) -> str:
        """The scalar's text; escaped surrogate pairs become their character, a lone half is refused (and kept
        escaped, so that no later message or log line has to write it)."""
        value: str = node.value
        if not _SURROGATE.search(value):
            return value
        try:
            return value.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeDecodeError:
            lone = _lone_surrogate(value)
            message = (f"not valid Unicode: the text {_around(value, lone)} holds \\u{ord(value[lone]):04x}, half of a "
                       "character (an unpaired surrogate) that cannot be stored or shown; write the character itself")
            self.problem("invalid_unicode", message, node, path, self._escape_at(node))
            return _escaped(value)

    def _escape_at(self, node: yaml.Node) -> tuple[int, int] | None:
        found = _SURROGATE_ESCAPE.search(self.text, node.start_mark.index, node.end_mark.index) if self.text else None
        return offset_position(self.text, found.start()) if found else None


def _lone_surrogate(value: str) -> int:
    i = 0
    while i < len(value):
        if "\ud800" <= value[i] <= "\udbff" and i + 1 < len(value) and "\udc00" <= value[i + 1] <= "\udfff":
            i += 2
        elif "\ud800" <= value[i] <= "\udfff":
            return i
        else:
            i += 1
    return 0


def _escaped(value: str) -> str:
    """`value` with every lone surrogate written as its escape (`\\ud800`)."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _around(value: str, at: int) -> str:
    """The text near character `at`, quoted with escapes (a rationale may be 2,000 characters)."""
    start = max(0, at - 30)
    shown = _escaped(value[start:at + 10])
    return f"'{'...' if start else ''}{shown}{'...' if at + 10 < len(value) else ''}'"


def json_path(path: Path) -> str:
    """`('rules', 2, 'when')` -> `$.rules[2].when`."""
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


class _TooMany(Exception):
    """More than MAX_NODES nodes, noticed while composing (before the rest of the text is even read)."""

    def __init__(self, mark: Any) -> None:
        super().__init__()
        self.mark = mark


class _Counting:
    """Composer mixin: counts nodes as they are composed and stops past MAX_NODES.

    600 KB of tiny nodes took 8-37 s and 285 MB to refuse when the whole graph was composed first and
    counted while building; counted here, composing stops at the limit."""

    _nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _TooMany(self.peek_event().start_mark)  # type: ignore[attr-defined]
        return super().compose_node(parent, index)  # type: ignore[misc]


class _PythonLoader(_Counting, yaml.SafeLoader):
    """PyYAML's Python parser, counting."""


# libyaml (PyYAML's C parser) composes several times faster. Its composer recurses in C on flow nesting,
# and cannot count, so a text with many brackets, or that could hold more than MAX_NODES nodes, is
# composed in Python over libyaml's events (recursion there is a RecursionError: yaml_too_deep); libyaml
# accepts tabs where the Python parser does not, so a text with a tab is left to the Python parser.
_C_LOADER = getattr(yaml, "CSafeLoader", None)
_C_MAX_BRACKETS = 2000
_SEPARATORS = (",", ":", "\n", "[", "{", "-", "?", "*")

if _C_LOADER is not None:
    from yaml.composer import Composer
    from yaml.constructor import SafeConstructor
    from yaml.cyaml import CParser  # type: ignore[attr-defined]
    from yaml.resolver import Resolver

    class _CEventsLoader(_Counting, Composer, CParser, SafeConstructor, Resolver):  # type: ignore[misc]
        """libyaml's events, composed (and counted) in Python."""

        def __init__(self, stream: str | bytes) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)


def _most_nodes(source: str) -> int:
    """At least the nodes `source` composes to: every node after the first follows one of _SEPARATORS."""
    return 1 + sum(source.count(c) for c in _SEPARATORS)


_NODE_EVENTS = (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent, yaml.AliasEvent)


def _count_nodes(text: str | bytes) -> None:
    """Raise _TooMany past MAX_NODES node events of libyaml (a few µs each, no node built); a syntax error is
    left to composing, which explains it."""
    parser = CParser(text)
    count = 0
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, _NODE_EVENTS):
                count += 1
                if count > MAX_NODES:
                    raise _TooMany(event.start_mark)
    except (yaml.YAMLError, UnicodeError):
        pass
    finally:
        parser.dispose()


def _compose(text: str | bytes, source: str) -> yaml.Node | None:
    """The node graph; a syntax error is always reported by the Python parser (one wording for every error)."""
    if _C_LOADER is not None and _most_nodes(source) > MAX_NODES:
        _count_nodes(text)  # libyaml counts a text with tabs alike
    if _C_LOADER is not None and "\t" not in source:
        fast = source.count("[") + source.count("{") < _C_MAX_BRACKETS
        try:
            return yaml.compose(text, Loader=_C_LOADER if fast else _CEventsLoader)  # type: ignore[no-any-return, arg-type]
        except (yaml.YAMLError, UnicodeError):
            pass  # parse again below, for the message and its position (a lone surrogate is a UnicodeError)
    return yaml.compose(text, Loader=_PythonLoader)  # type: ignore[no-any-return]


def read_yaml(text: str | bytes, filename: str) -> tuple[Document | None, list[Problem]]:
    """Parse YAML safely; return the document (None on fatal errors) and the problems."""
    size = len(text)
    if size > MAX_FILE_BYTES:
        msg = f"file is {size} bytes; the limit is {MAX_FILE_BYTES}"
        return None, [Problem("file_too_large", msg, "$", filename, 1, 1)]
    source = text if isinstance(text, str) else text.decode("utf-8", "replace")
    try:
        node = _compose(text, source)
    except yaml.YAMLError as e:
        code, message, line, col = explain(e, source)
        return None, [Problem(code, message, "$", filename, line, col)]
    except RecursionError:
        # PyYAML composes nested nodes recursively: a few hundred `[` exhaust the stack.
        return None, [Problem("yaml_too_deep", f"nesting deeper than {MAX_DEPTH} levels", "$", filename, 1, 1)]
    except _TooMany as e:
        return None, [Problem("yaml_too_large", TOO_MANY, "$", filename, e.mark.line + 1, e.mark.column + 1)]
    if node is None:
        return None, [Problem("empty_file", "the file is empty", "$", filename, 1, 1)]
    builder = _Builder(filename, text if isinstance(text, str) else "")
    try:
        data = builder.build(node, ())
    except _Abort:
        return None, builder.problems
    return Document(data, builder.positions, builder.values, builder.text), builder.problems
