"""Safe YAML reading: duplicate keys, tags, aliases, syntax errors in plain words, text that is not Unicode."""

from __future__ import annotations

import pytest

from engine.policy.yaml_source import read_yaml


@pytest.mark.parametrize(("text", "expected"), [
    ("a: 1\nb: 2\na: 3\n", ["f.yaml:3:1: duplicate_key: duplicate key 'a' (first defined at line 1, column 1) (at $.a)"]),
    ("x:\n  y: 1\n  y: 2\n", ["f.yaml:3:3: duplicate_key: duplicate key 'y' (first defined at line 2, column 3) (at $.x.y)"]),
    ("a: !!python/object/apply:os.system ['true']\n",
     ["f.yaml:1:4: yaml_tag: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed (plain YAML only) "
      "(at $.a)"]),
    ("a: !custom 1\n", ["f.yaml:1:4: yaml_tag: tag '!custom' is not allowed (plain YAML only) (at $.a)"]),
    ("base: &b {x: 1}\nother:\n  <<: *b\n", ["f.yaml:3:3: yaml_merge: merge keys (<<) are not allowed (at $.other)"]),
    ("a: [1, 2\n", ["f.yaml:1:4: yaml_syntax: the [ opened at line 1, column 4 is not closed: end it with ] (and "
                    "separate its items with commas) (at $)"]),
    ("a: 1\n---\nb: 2\n", ["f.yaml:2:1: yaml_syntax: the file holds a second YAML document (the `---` on line 2); a "
                           "policy version is one document: remove that line (at $)"]),
    ("", ["f.yaml:1:1: empty_file: the file is empty (at $)"]),
    ("? [a, b]\n: 1\n", ["f.yaml:1:3: yaml_key: mapping keys must be plain scalars (at $)"]),
])
def test_rejected_yaml(text, expected):
    _, problems = read_yaml(text, "f.yaml")
    assert [p.format() for p in problems] == expected


RULES = """rules:
  - id: R-001
    title: one
    priority: 10
    rationale: "because"
    source: s
"""


def _edit(line: int, new: str) -> str:
    lines = RULES.splitlines()
    lines[line - 1] = new
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("text", "expected"), [
    ("a:\n\tb: 1\n", "f.yaml:2:1: yaml_syntax: YAML indents with spaces, not tabs: line 2 is indented with a tab; "
                      "use spaces"),
    ("a:\tb\n", "f.yaml:1:3: yaml_syntax: YAML separates with spaces, not tabs: replace the tab at line 1, column 3 "
                "with a space"),
    (_edit(4, "     priority: 10"),
     "f.yaml:4:6: yaml_syntax: `priority` (line 4) is indented 5 spaces, more than `title` on line 3 (4 spaces), so "
     "YAML reads it as part of title's value; indent it 4 spaces, like `title`"),
    (_edit(4, "  priority: 10"),
     "f.yaml:4:3: yaml_syntax: `priority` (line 4) is indented 2 spaces, like the `-` entries of the list that began "
     "at line 2, but it is not an entry; it probably belongs to the entry above: indent it 4 spaces, like `title` "
     "(line 3)"),
    (_edit(6, "      source: s"),
     "f.yaml:6:7: yaml_syntax: `source` (line 6) is indented 6 spaces, more than the other keys of the block that "
     "began at line 2 (4 spaces); indent it 4 spaces, like `rationale` (line 5)"),
    ("a:\n  - 1\n  b: 2\n",
     "f.yaml:3:3: yaml_syntax: `b` (line 3) is indented 2 spaces, like the `-` entries of the list that began at line "
     "2, but it is not an entry: start it with `- `, or indent it less to end the list"),
    ("when:\n  all:\n    - {fact: a}\n   - {fact: b}\n",
     "f.yaml:4:4: yaml_syntax: line 4 is indented 3 spaces, which does not line up with the block it is in: that "
     "block began at line 2 (`all:`, 2 spaces) and line 3 above is indented 4 spaces; indent line 4 like the lines it "
     "belongs with"),
    ("title: Note: consent first\n",
     "f.yaml:1:12: yaml_syntax: the value on line 1 holds ': ', which YAML reads as the start of a key; put the value "
     "in quotes: \"Note: consent first\""),
    ("rationale: {param:limit} sessions missed\n",
     "f.yaml:1:12: yaml_syntax: the value of `rationale` starts with {, which YAML reads as a mapping; put the whole "
     "value in quotes: rationale: \"{param:limit} sessions missed\""),
    ("title: 'it's'\n",
     "f.yaml:1:8: yaml_syntax: the quoted value of `title` ends before the line does; inside '...' write a quote twice "
     "(it''s), or put the value in double quotes"),
    ("a: 1\ntitle\nb: 2\n",
     "f.yaml:2:1: yaml_syntax: line 2 (`title`) has no `:`; write `key: value`, or put a value that goes on over "
     "several lines in quotes"),
    ('a: "abc\nb: 2\n', "f.yaml:1:4: yaml_syntax: the quote opened at line 1, column 4 is never closed; end the value "
                       "with the same quote"),
    ("base: &base 1\nother: *bsae\n",
     "f.yaml:2:8: yaml_syntax: *bsae refers to no anchor: an anchor is defined with &bsae before the alias that uses "
     "it; did you mean *base?"),
    ("a: &x 1\nb: &x 2\n",
     "f.yaml:2:4: yaml_syntax: the anchor &x is defined twice (first at line 1, column 4); give this one another name, "
     "and use that name in the aliases (*name) meant for it"),
    ('a: "x \\q"\n', "f.yaml:1:8: yaml_syntax: inside \"...\" a backslash starts an escape, and \\q is not one; write "
                    "\\\\ for a backslash, or put the value in single quotes"),
    ("a: @home\n", "f.yaml:1:4: yaml_syntax: a value cannot start with @: put the value in quotes"),
    ("a: {b: [1, 2}\n", "f.yaml:1:8: yaml_syntax: the [ opened at line 1, column 8 is not closed: end it with ] (and "
                       "separate its items with commas)"),
    ("server: [\n", "f.yaml:2:1: yaml_syntax: the file ends in the middle of a value (line 2): a closing ], } or "
                    "quote is probably missing"),
    ("a: b\x07\n", "f.yaml:1:5: yaml_syntax: line 1, column 5 holds the control character U+0007, which a policy "
                   "file may not contain; remove it"),
    ("a: x\ud800\n", "f.yaml:1:5: invalid_unicode: not valid Unicode: line 1 holds U+D800, half of a character (an "
                     "unpaired surrogate) that cannot be stored or shown; remove it"),
])
def test_syntax_errors_in_plain_words(text, expected):
    _, problems = read_yaml(text, "f.yaml")
    assert [p.format() for p in problems] == [expected + " (at $)"]


@pytest.mark.parametrize(("text", "expected"), [
    ('a: "x \\ud800"\n', "f.yaml:1:7: invalid_unicode: not valid Unicode: the text 'x \\ud800' holds \\ud800, half of "
                        "a character (an unpaired surrogate) that cannot be stored or shown; write the character itself "
                        "(at $.a)"),
    ('"k\\udfff": 1\n', "f.yaml:1:3: invalid_unicode: not valid Unicode: the text 'k\\udfff' holds \\udfff, half of a "
                      "character (an unpaired surrogate) that cannot be stored or shown; write the character itself "
                      "(at $.k\\udfff)"),
    ('a: "line one\n  \\ud83d and two"\n',
     "f.yaml:2:3: invalid_unicode: not valid Unicode: the text 'line one \\ud83d and two' holds \\ud83d, half of a "
     "character (an unpaired surrogate) that cannot be stored or shown; write the character itself (at $.a)"),
])
def test_lone_surrogate_escapes_are_refused_where_they_are_written(text, expected):
    _, problems = read_yaml(text, "f.yaml")
    assert [p.format() for p in problems] == [expected]


def test_an_escaped_surrogate_pair_is_the_character_it_encodes():
    doc, problems = read_yaml('a: "smile \\ud83d\\ude00"\n', "f.yaml")
    assert problems == [] and doc.data == {"a": "smile \U0001F600"}


def test_values_and_positions():
    doc, problems = read_yaml("a: 1\nb:\n  - x\n  - 2026-01-01\nc: 1.5\nd: null\ne: yes\n", "f.yaml")
    assert problems == []
    assert doc.data == {"a": 1, "b": ["x", "2026-01-01"], "c": 1.5, "d": None, "e": True}
    assert doc.position(("b", 1)) == (4, 5)
    assert doc.position(("b", 7, "missing")) == (2, 1)  # nearest existing ancestor


def test_alias_bomb_fails_fast():
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    doc, problems = read_yaml("\n".join(lines) + "\n", "bomb.yaml")  # 9**9 values if expanded
    assert doc is None
    assert [p.code for p in problems] == ["yaml_too_large"]


def test_enormous_file_refused_before_parsing():
    doc, problems = read_yaml("a: " + "x" * 2_000_000, "big.yaml")
    assert doc is None and problems[0].code == "file_too_large"


def test_deep_nesting_refused():
    doc, problems = read_yaml("a: " + "[" * 100 + "]" * 100, "deep.yaml")
    assert doc is None and problems[0].code == "yaml_too_deep"


@pytest.mark.parametrize("text", [
    "a: [" + "1," * 300_000 + "]\n",  # flow scalars
    "a: [" + "[]," * 200_000 + "]\n",  # many brackets: composed over libyaml's events
    "a:\n" + "- 1\n" * 150_000,  # block items
    "".join(f"k{i}: 1\n" for i in range(60_001)),  # block keys
    "a:\n" + "- 1\t\n" * 150_000,  # a tab: the Python parser's text, counted by libyaml
])
def test_600_kb_of_tiny_nodes_is_refused_while_parsing(text: str) -> None:
    """Issue 15: composed whole first, such a text took 8-37 s and 285 MB to refuse."""
    doc, problems = read_yaml(text, "tiny.yaml")
    assert doc is None and [p.code for p in problems] == ["yaml_too_large"]
    assert (problems[0].line, problems[0].column) > (1, 1000)  # where the count passed the limit, not the start


def test_a_version_at_the_caps_is_far_under_the_node_limit() -> None:
    lines = ["rules:"] + [f"- {{id: r{i}, when: {{fact: a.b, op: equals, value: {i}}}, then: [x, y]}}"
                          for i in range(250)]
    doc, problems = read_yaml("\n".join(lines) + "\n", "caps.yaml")
    assert problems == [] and doc is not None and len(doc.data["rules"]) == 250
