"""The canonical layout of a policy file (`attendance-policy fmt`): same meaning, same comments, one way to indent.

ruamel.yaml reads the file with its comments and writes it back with two spaces per
level and list items indented under their key, one space after `:` and `,`, flow
collections (`{fact: ..., op: ..., value: ...}`) on one line, and no trailing spaces.
Key order, quoting, anchors and aliases, block texts (`>-`, `|`) and blank lines stay
as written. Nothing is written unless it is proven harmless: every comment is still
there, formatting again changes nothing, and the engine's loader reads the same policy
(or, for a file that does not load yet, the same YAML data) before and after.
"""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError as RuamelError

from engine.core.errors import PolicyError, PolicyLoadError, Problem
from engine.policy.loader import load_policy_text
from engine.policy.yaml_source import MAX_FILE_BYTES, read_yaml

__all__ = ["FormatRefused", "format_text", "read_policy_source"]

_NOT_MEANING = {"line", "sha256", "source_text"}  # where things are written, not what they say


class FormatRefused(PolicyError):
    """The file cannot be put in the canonical layout without risk; `problems` says why and where."""

    code = "format_refused"
    title = "Not formatted"


def _yaml() -> YAML:
    y = YAML(typ="rt", pure=True)
    y.preserve_quotes = True  # a quoted "2026-01-01" stays text; the author's quotes are not layout
    y.width = 100_000  # never fold a long line: where a sentence breaks is the author's choice
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def read_policy_source(path: str | os.PathLike[str]) -> str:
    """A policy file's text, read no further than the loader would (a huge file is refused, not read)."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise FormatRefused(str(p), problems=[Problem("unreadable_file", e.strerror or str(e), "", str(p))]) from e
    if len(raw) > MAX_FILE_BYTES:
        raise FormatRefused(str(p), problems=[Problem("file_too_large", f"the file is larger than the limit of "
                                                                        f"{MAX_FILE_BYTES} bytes", "$", str(p), 1, 1)])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise FormatRefused(str(p), problems=[Problem("encoding", "the file is not valid UTF-8", "$", str(p),
                                                      line, 1)]) from e


def _refuse(filename: str, code: str, message: str, line: int = 1, column: int = 1) -> FormatRefused:
    return FormatRefused(message, problems=[Problem(code, message, "", filename, line, column)])


def _layout(text: str, filename: str) -> str:
    y = _yaml()
    try:
        data = y.load(text)
        out = io.StringIO()
        y.dump(data, out)
    except RuamelError as e:
        mark = getattr(e, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise _refuse(filename, "yaml_syntax", f"not formatted: {getattr(e, 'problem', None) or e}; "
                                               "`attendance-policy validate` says more", line, column) from e
    return _strip_trailing(out.getvalue(), filename)


def _covered(text: str, filename: str) -> bytearray:
    """1 for each character inside a token (a key, a value, a block text), 0 elsewhere (PyYAML's scanner)."""
    try:
        spans = [(t.start_mark.index, t.end_mark.index) for t in yaml.scan(text, Loader=yaml.SafeLoader)]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise _refuse(filename, "yaml_syntax", f"not formatted: {e}", line, column) from e
    inside = bytearray(len(text) + 1)
    for start, end in spans:
        inside[start:end] = b"\x01" * (end - start)
    return inside


def _strip_trailing(text: str, filename: str) -> str:
    """No spaces at the ends of lines, except inside a value (a `|` text keeps what it holds)."""
    inside, out, at = _covered(text, filename), [], 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        end = len(body)
        while end > 0 and body[end - 1] in " \t" and not inside[at + end - 1]:
            end -= 1
        out.append(body[:end] + line[len(body):])
        at += len(line)
    return "".join(out)


def format_text(text: str, filename: str) -> str:
    """The text in the canonical layout; FormatRefused when that could lose a comment or change what it says."""
    before = _meaning(text, filename)
    formatted = _layout(text, filename)
    _check_comments(text, formatted, filename)
    if _layout(formatted, filename) != formatted:
        raise _refuse(filename, "format_unstable", "not formatted: formatting it twice gives two layouts")
    if _meaning(formatted, filename) != before:
        raise _refuse(filename, "format_changes_meaning", "not formatted: the formatted file would read "
                                                          "differently; please report this file")
    return formatted


def _meaning(text: str, filename: str) -> Any:
    """What the engine reads: the Policy when the file loads (positions aside), else its plain YAML data."""
    try:
        return ("policy", _plain(load_policy_text(text, filename)))
    except PolicyLoadError:
        pass
    doc, problems = read_yaml(text, filename)
    if doc is None:
        first = problems[0]
        raise _refuse(filename, first.code, f"not formatted: {first.message}", first.line or 1, first.column or 1)
    return ("yaml", _plain(doc.data))


def _plain(value: Any) -> Any:
    """A comparable form: fields and keys in order, every scalar with its type (so 1, 1.0 and true differ)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, [(f.name, _plain(getattr(value, f.name)))
                                       for f in dataclasses.fields(value) if f.name not in _NOT_MEANING])
    if isinstance(value, dict):
        return ("map", [(_plain(k), _plain(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return ("seq", [_plain(v) for v in value])
    return (type(value).__name__, value)


def _comments(text: str, filename: str) -> list[tuple[int, int, str]]:
    """Every comment, (line, column, text), in order: a `#` outside every token starts one."""
    inside, out, at = _covered(text, filename), [], 0
    for n, line in enumerate(text.splitlines(keepends=True), 1):
        hashes = [at + i for i, ch in enumerate(line) if ch == "#"]
        start = next((i for i in hashes if not inside[i] and (i == at or text[i - 1] in " \t\n")), -1)
        if start >= 0:
            out.append((n, start - at + 1, text[start:at + len(line)].rstrip()))
        at += len(line)
    return out


def _check_comments(before: str, after: str, filename: str) -> None:
    kept = [c for _, _, c in _comments(after, filename)]
    for line, column, comment in _comments(before, filename):
        if comment not in kept:
            raise _refuse(filename, "comment_would_be_lost",
                          f"not formatted: the comment {comment!r} would be lost (comments inside a "
                          "`[...]` or `{...}` that spans lines are not kept): put it on a line of its own",
                          line, column)
        kept.remove(comment)
