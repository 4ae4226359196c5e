"""PyYAML's syntax errors in plain words, each with a hint and the place to look.

A clinical director reads these. PyYAML says *what the parser expected*
("expected <block end>, but found '?'"); we say what was probably written
(a line indented like the list around it, a tab, an unquoted `: `), where the
block it broke began, and how to fix it. Anything not recognised keeps
PyYAML's own words.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import yaml

from engine.core.suggest import closest

__all__ = ["explain"]

Explained = tuple[str, int, int]  # message, line, column (from 1)
_KEY = re.compile(r"^(\s*)(?:-\s+)?([^\s:#'\"{\[-][^:#]*?)\s*:(?:\s|$)")


class _Source:
    """The text around an error: its lines, their indentation, the key each starts with."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines()

    def line(self, i: int) -> str:
        return self.lines[i] if 0 <= i < len(self.lines) else ""

    def indent(self, i: int) -> int:
        line = self.line(i)
        return len(line) - len(line.lstrip(" "))

    def key(self, i: int) -> tuple[str, int] | None:
        """The key line `i` starts with and its column (from 0), if it starts with one."""
        m = _KEY.match(self.line(i))
        return (m.group(2), m.start(2)) if m else None

    def above(self, i: int) -> int:
        """The nearest line above `i` with content (not blank, not only a comment), or -1."""
        i -= 1
        while i >= 0 and (not self.line(i).strip() or self.line(i).lstrip().startswith("#")):
            i -= 1
        return i

    def quoted(self, i: int) -> str:
        return f"`{self.line(i).strip()[:40]}`"


def _spaces(n: int) -> str:
    return f"{n} space{'s' if n != 1 else ''}"


def _tab(e: yaml.MarkedYAMLError, src: _Source) -> Explained | None:
    mark = e.problem_mark
    if mark is None or "'\\t'" not in (e.problem or ""):
        return None
    if src.line(mark.line)[:mark.column].strip(" \t"):
        message = (f"YAML separates with spaces, not tabs: replace the tab at line {mark.line + 1}, "
                   f"column {mark.column + 1} with a space")
    else:
        message = f"YAML indents with spaces, not tabs: line {mark.line + 1} is indented with a tab; use spaces"
    return message, mark.line + 1, mark.column + 1


def _continued(e: yaml.MarkedYAMLError, src: _Source) -> Explained | None:
    """`mapping values are not allowed here`: a key indented deeper than the line above, or `: ` in a value."""
    mark = e.problem_mark
    if mark is None or e.problem != "mapping values are not allowed here":
        return None
    key = src.key(mark.line)
    if key is None or mark.column > key[1] + len(key[0]) + 1:
        start = (key[1] + len(key[0]) + 2) if key else 0
        value = src.line(mark.line)[start:].strip()
        return (f"the value on line {mark.line + 1} holds ': ', which YAML reads as the start of a key; put the "
                f"value in quotes: \"{value[:60]}\""), mark.line + 1, mark.column + 1
    name, col = key
    above = src.above(mark.line)
    owner = src.key(above)
    if owner is None:
        message = (f"`{name}` (line {mark.line + 1}) is indented more than line {above + 1} above it, so YAML reads "
                   f"it as part of that line's value; indent it like the key it belongs with")
    else:
        message = (f"`{name}` (line {mark.line + 1}) is indented {_spaces(col)}, more than `{owner[0]}` on line "
                   f"{above + 1} ({_spaces(owner[1])}), so YAML reads it as part of {owner[0]}'s value; indent it "
                   f"{_spaces(owner[1])}, like `{owner[0]}`")
    return message, mark.line + 1, col + 1


def _after_value(e: yaml.MarkedYAMLError, src: _Source) -> Explained | None:
    """More text after a complete value on the same line: a value starting with `{`, or a quote inside quotes."""
    mark = e.problem_mark
    if mark is None or not (e.problem or "").endswith("found '<scalar>'"):
        return None
    line = src.line(mark.line)
    before = line[:mark.column].rstrip()
    key = src.key(mark.line)
    if not before or before.endswith(":") or key is None:
        return None
    value = line[key[1] + len(key[0]) + 1:].strip()
    where = (mark.line + 1, key[1] + len(key[0]) + 3)
    if value[:1] in "{[":
        kind = "a mapping" if value[0] == "{" else "a list"
        return (f"the value of `{key[0]}` starts with {value[0]}, which YAML reads as {kind}; put the whole value "
                f"in quotes: {key[0]}: \"{value[:60]}\""), *where
    if before[-1:] in "'\"":
        return (f"the quoted value of `{key[0]}` ends before the line does; inside '...' write a quote twice "
                "(it''s), or put the value in double quotes"), *where
    return None


def _block(e: yaml.MarkedYAMLError, src: _Source) -> Explained | None:
    """`while parsing a block ...: expected <block end>`: a line that does not line up with its block."""
    ctx, mark = e.context_mark, e.problem_mark
    if ctx is None or mark is None or not (e.context or "").startswith("while parsing a block"):
        return None
    n, i, above = mark.column, mark.line, src.above(mark.line)
    key = src.key(i)
    name = f"`{key[0]}`" if key else f"line {i + 1}"
    if "collection" in (e.context or "") and n == ctx.column and not src.line(i).lstrip().startswith("-"):
        owner = src.key(above)
        if owner is None:
            return (f"{name} (line {i + 1}) is indented {_spaces(n)}, like the `-` entries of the list that began at "
                    f"line {ctx.line + 1}, but it is not an entry: start it with `- `, or indent it less to end the "
                    "list"), i + 1, n + 1
        return (f"{name} (line {i + 1}) is indented {_spaces(n)}, like the `-` entries of the list that began at "
                f"line {ctx.line + 1}, but it is not an entry; it probably belongs to the entry above: indent it "
                f"{_spaces(owner[1])}, like `{owner[0]}` (line {above + 1})"), i + 1, n + 1
    if key and "mapping" in (e.context or "") and n > ctx.column:
        owner = src.key(above)
        like = f", like `{owner[0]}` (line {above + 1})" if owner and owner[1] == ctx.column else ""
        return (f"{name} (line {i + 1}) is indented {_spaces(n)}, more than the other keys of the block that began "
                f"at line {ctx.line + 1} ({_spaces(ctx.column)}); indent it {_spaces(ctx.column)}{like}"), i + 1, n + 1
    return (f"line {i + 1} is indented {_spaces(n)}, which does not line up with the block it is in: that block "
            f"began at line {ctx.line + 1} ({src.quoted(ctx.line)}, {_spaces(ctx.column)}) and line {above + 1} "
            f"above is indented {_spaces(src.indent(above))}; indent line {i + 1} like the lines it belongs with"
            ), i + 1, n + 1


def _marks(e: yaml.MarkedYAMLError, src: _Source) -> Explained | None:
    """Errors PyYAML reports at a start mark: unclosed quotes and brackets, a key without `:`."""
    ctx, context, problem = e.context_mark, e.context or "", e.problem or ""
    if ctx is None:
        return None
    at = f"line {ctx.line + 1}, column {ctx.column + 1}"
    if context.startswith("while scanning a") and "quoted scalar" in context and "end of stream" in problem:
        return f"the quote opened at {at} is never closed; end the value with the same quote", ctx.line + 1, \
            ctx.column + 1
    if context in ("while parsing a flow sequence", "while parsing a flow mapping"):
        opener, closer = ("[", "]") if "sequence" in context else ("{", "}")
        return (f"the {opener} opened at {at} is not closed: end it with {closer} (and separate its items with "
                f"commas)"), ctx.line + 1, ctx.column + 1
    if problem == "could not find expected ':'":
        return (f"line {ctx.line + 1} ({src.quoted(ctx.line)}) has no `:`; write `key: value`, or put a value "
                "that goes on over several lines in quotes"), ctx.line + 1, ctx.column + 1
    return None


def _anchors(text: str) -> list[str]:
    """Every anchor defined in the text, as far as it parses."""
    names: list[str] = []
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            anchor = getattr(event, "anchor", None)
            if anchor and not isinstance(event, yaml.AliasEvent):
                names.append(anchor)
    except yaml.YAMLError:
        pass
    return names


def _aliases(e: yaml.MarkedYAMLError, src: _Source) -> Explained | None:
    mark, ctx, problem, context = e.problem_mark, e.context_mark, e.problem or "", e.context or ""
    if mark is None:
        return None
    if problem.startswith("found undefined alias"):
        name = problem.split("'")[1]
        best = closest(name, _anchors(src.text))
        hint = f"; did you mean *{best}?" if best else ""
        return (f"*{name} refers to no anchor: an anchor is defined with &{name} before the alias that uses "
                f"it{hint}"), mark.line + 1, mark.column + 1
    if context.startswith("found duplicate anchor") and ctx is not None:
        name = context.split("'")[1]
        return (f"the anchor &{name} is defined twice (first at line {ctx.line + 1}, column {ctx.column + 1}); give "
                "this one another name, and use that name in the aliases (*name) meant for it"), mark.line + 1, \
            mark.column + 1
    return None


def _other(e: yaml.MarkedYAMLError, src: _Source) -> Explained | None:
    mark, problem, context = e.problem_mark, e.problem or "", e.context or ""
    if mark is None:
        return None
    where = mark.line + 1, mark.column + 1
    if context.startswith("expected a single document"):
        return (f"the file holds a second YAML document (the `---` on line {mark.line + 1}); a policy version is one "
                "document: remove that line"), *where
    if problem.endswith("found '<stream end>'"):
        return (f"the file ends in the middle of a value (line {mark.line + 1}): a closing ], }} or quote is probably "
                "missing"), *where
    if problem.startswith("found unknown escape character"):
        return (f"inside \"...\" a backslash starts an escape, and \\{problem.split(chr(39))[1]} is not one; write "
                "\\\\ for a backslash, or put the value in single quotes"), *where
    if problem.startswith("found character") and "cannot start any token" in problem:
        char = problem.split("'")[1]
        return f"a value cannot start with {char}: put the value in quotes", *where
    if context in ("while scanning an alias", "while scanning an anchor"):
        return "a value that starts with * or & is read as an alias or an anchor: put the value in quotes", *where
    return None


_EXPLAINERS: tuple[Callable[[yaml.MarkedYAMLError, _Source], Explained | None], ...] = (
    _tab, _continued, _after_value, _block, _marks, _aliases, _other)


def _reader(e: yaml.reader.ReaderError, src: _Source) -> tuple[str, str, int, int]:
    before = src.text[:e.position]
    line, col = before.count("\n") + 1, e.position - before.rfind("\n")
    if 0xD800 <= e.character <= 0xDFFF:
        return ("invalid_unicode", f"not valid Unicode: line {line} holds U+{e.character:04X}, half of a character "
                "(an unpaired surrogate) that cannot be stored or shown; remove it", line, col)
    return ("yaml_syntax", f"line {line}, column {col} holds the control character U+{e.character:04X}, which a "
            "policy file may not contain; remove it", line, col)


def explain(e: yaml.YAMLError, text: str) -> tuple[str, str, int, int]:
    """(code, message, line, column) for a YAML error in `text`."""
    src = _Source(text)
    if isinstance(e, yaml.reader.ReaderError) and isinstance(e.character, int):
        return _reader(e, src)
    if not isinstance(e, yaml.MarkedYAMLError):
        return "yaml_syntax", str(e), 1, 1
    for explainer in _EXPLAINERS:
        found = explainer(e, src)
        if found is not None:
            return ("yaml_syntax", *found)
    mark = e.problem_mark or e.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return "yaml_syntax", " ".join(x for x in (e.context, e.problem) if x) or str(e), line, col
