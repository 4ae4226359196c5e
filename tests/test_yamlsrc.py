"""Safe YAML reading: duplicate keys, tags, aliases, syntax errors, all with locations."""

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
    ("a: [1, 2\n", ["f.yaml:2:1: yaml_syntax: while parsing a flow sequence expected ',' or ']', but got '<stream end>' "
                    "(at $)"]),
    ("a: 1\n---\nb: 2\n", ["f.yaml:2:1: yaml_syntax: expected a single document in the stream "
                           "but found another document (at $)"]),
    ("", ["f.yaml:1:1: empty_file: the file is empty (at $)"]),
    ("? [a, b]\n: 1\n", ["f.yaml:1:3: yaml_key: mapping keys must be plain scalars (at $)"]),
])
def test_rejected_yaml(text, expected):
    _, problems = read_yaml(text, "f.yaml")
    assert [p.format() for p in problems] == expected


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
