"""Safe YAML reading that keeps where every value came from.

PyYAML keeps the last of two equal keys and will build arbitrary objects from
tags; we compose the node graph with the safe loader, then build plain data
ourselves so that duplicate keys, foreign tags and alias bombs are errors with
a line and column instead of surprises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.core.errors import Problem

Path = tuple[Any, ...]

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 200_000
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


@dataclass
class Document:
    """Plain data read from YAML plus the (line, column) of every path in it."""

    data: Any
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path) -> tuple[int, int] | None:
        """Where `path` is, or its nearest ancestor when it does not exist."""
        p = tuple(path)
        while True:
            if p in self.positions:
                return self.positions[p]
            if not p:
                return None
            p = p[:-1]


class _Abort(Exception):
    pass


class _Builder:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[Problem] = []
        self.positions: dict[Path, tuple[int, int]] = {}
        self.count = 0
        self._constructor = yaml.SafeLoader("")

    def problem(self, code: str, message: str, node: yaml.Node, path: Path) -> None:
        self.problems.append(
            Problem(code, message, json_path(path), self.filename,
                    node.start_mark.line + 1, node.start_mark.column + 1)
        )

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            self.problem("yaml_too_large", f"more than {MAX_NODES} values (alias bomb?)", node, path)
            raise _Abort
        if len(path) > MAX_DEPTH:
            self.problem("yaml_too_deep", f"nesting deeper than {MAX_DEPTH} levels", node, path)
            raise _Abort
        self.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
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
            key = key_node.value
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
            return node.value
        try:
            return self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as e:
            self.problem("yaml_value", f"bad {tag.rsplit(':', 1)[-1]} value {node.value!r}: {e}", node, path)
            return None


def json_path(path: Path) -> str:
    """`('rules', 2, 'when')` -> `$.rules[2].when`."""
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def read_yaml(text: str | bytes, filename: str) -> tuple[Document | None, list[Problem]]:
    """Parse YAML safely; return the document (None on fatal errors) and the problems."""
    size = len(text)
    if size > MAX_FILE_BYTES:
        msg = f"file is {size} bytes; the limit is {MAX_FILE_BYTES}"
        return None, [Problem("file_too_large", msg, "$", filename, 1, 1)]
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        msg = " ".join(x for x in (e.context, e.problem) if x) or str(e)
        return None, [Problem("yaml_syntax", msg, "$", filename, line, col)]
    except yaml.YAMLError as e:
        return None, [Problem("yaml_syntax", str(e), "$", filename, 1, 1)]
    except RecursionError:
        # PyYAML composes nested nodes recursively: a few hundred `[` exhaust the stack.
        return None, [Problem("yaml_too_deep", f"nesting deeper than {MAX_DEPTH} levels", "$", filename, 1, 1)]
    if node is None:
        return None, [Problem("empty_file", "the file is empty", "$", filename, 1, 1)]
    builder = _Builder(filename)
    try:
        data = builder.build(node, ())
    except _Abort:
        return None, builder.problems
    return Document(data, builder.positions), builder.problems
