"""libyaml (fast) and PyYAML's Python parser read a policy alike: same data, same positions, same problems."""

from __future__ import annotations

import random

import pytest
import yaml

from engine.policy import yaml_source
from engine.policy.yaml_source import read_yaml
from support.factgen import random_rules
from support.policies import DEFAULT_POLICY, minimal_policy

TEXTS = [DEFAULT_POLICY.read_text(encoding="utf-8")]
TEXTS += [yaml.safe_dump(minimal_policy(rules=random_rules(random.Random(seed), 4)), sort_keys=False)
          for seed in range(5)]
TEXTS += ["a: 1\na: 2\n", "base: &b {x: 1}\nuse: *b\n", "k: [1, 2\n", "- a\n - b\n", "x: !!python/object:os.system 1\n"]


def _read(text: str, monkeypatch, c: bool):
    monkeypatch.setattr(yaml_source, "_C_LOADER", yaml.CSafeLoader if c else None)
    doc, problems = read_yaml(text, "p.yaml")
    return (None if doc is None else (doc.data, doc.positions)), problems


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml: only one parser to compare")
@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_both_parsers_agree(text, monkeypatch):
    assert _read(text, monkeypatch, c=True) == _read(text, monkeypatch, c=False)


def test_many_brackets_go_to_the_python_parser_and_a_bomb_is_refused_cleanly():
    doc, problems = read_yaml("a: " + "[" * 5000 + "]" * 5000 + "\n", "p.yaml")
    assert doc is None and [p.code for p in problems] == ["yaml_too_deep"]
