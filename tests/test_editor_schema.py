"""The editor part of the policy schema (`$defs.editor`): current, invisible to the engine, as strict as the engine."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from engine.core.errors import PolicyLoadError
from engine.core.schemas import FORMAT_CHECKER, load_schema, validator
from engine.policy.editor_schema import EDITOR_POINTER, editor_defs
from engine.policy.loader import load_policy_text, policy_files
from support.policies import MINIMAL, ROOT

SCHEMA = ROOT / "schemas" / "policy.schema.json"
SCRIPT = ROOT / "scripts" / "editor_schema.py"
MODELINE = "# yaml-language-server: $schema=../../schemas/policy.schema.json#/$defs/editor"


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_the_generated_part_is_current() -> None:
    result = _script("--check")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert load_schema("policy")["$defs"]["editor"] == editor_defs()


def test_check_finds_a_stale_part_and_write_renews_it(tmp_path: Path) -> None:
    original = SCHEMA.read_text(encoding="utf-8")
    head, sep, generated = original.partition('    "editor": {')
    stale = tmp_path / "policy.schema.json"
    stale.write_text(head + sep + generated.replace('"illness", ', ""), encoding="utf-8")
    result = _script("--check", "--schema", str(stale))
    assert result.returncode == 1
    assert result.stdout.endswith(f"{stale}: the editor schema ($defs.editor) is out of date with the facts schema; "
                                  "regenerate it with `python scripts/editor_schema.py --write`\n")
    assert _script("--write", "--schema", str(stale)).returncode == 0
    assert stale.read_text(encoding="utf-8") == original


def test_write_adds_the_part_to_a_schema_without_it(tmp_path: Path) -> None:
    original = SCHEMA.read_text(encoding="utf-8")
    bare = json.loads(original)
    del bare["$defs"]["editor"]
    path = tmp_path / "policy.schema.json"
    path.write_text(original.partition(',\n    "editor": {')[0] + "\n  }\n}\n", encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == bare
    assert _script("--write", "--schema", str(path)).returncode == 0
    assert path.read_text(encoding="utf-8") == original


def _refs(node: Any, where: str = "#") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        own = [(where, node["$ref"])] if isinstance(node.get("$ref"), str) else []
        return own + [r for k, v in node.items() for r in _refs(v, f"{where}/{k}")]
    if isinstance(node, list):
        return [r for i, v in enumerate(node) for r in _refs(v, f"{where}/{i}")]
    return []


def test_nothing_the_engine_validates_refers_to_it() -> None:
    outside = [(where, ref) for where, ref in _refs(load_schema("policy")) if not where.startswith(EDITOR_POINTER)]
    assert outside and not [r for r in outside if r[1].startswith(EDITOR_POINTER)]


def _editor_validator() -> Draft202012Validator:
    schema = load_schema("policy")
    registry: Registry[Any] = Registry().with_resource(schema["$id"], Resource.from_contents(schema))
    return Draft202012Validator({"$ref": schema["$id"] + EDITOR_POINTER}, registry=registry,
                                format_checker=FORMAT_CHECKER)


def _with_when(when: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    data["rules"][0]["when"] = when
    return data


def _engine_codes(data: dict[str, Any]) -> list[str]:
    try:
        load_policy_text(yaml.safe_dump(data, sort_keys=False), "demo/1.0.0.yaml")
    except PolicyLoadError as e:
        return sorted({p.code for p in e.problems})
    return []


P = "attendance.partners_present"
R = "attendance.absence_reason"


@pytest.mark.parametrize(("when", "engine"), [
    ({"fact": P, "op": "eq", "value": 1}, []),
    ({"fact": P, "op": "lt", "other_fact": "attendance.partners_expected"}, []),
    ({"fact": P, "op": "gte", "param": "limit"}, []),
    ({"fact": R, "op": "in", "value": ["work", "caregiving"]}, []),
    ({"fact": "history.program_hours_this_week", "op": "lt", "value": 9.5}, []),
    ({"fact": "clinical.safety_concern", "op": "ne", "value": False}, []),
    ({"not": {"any": [{"fact": R, "op": "eq", "value": "none"}, {"fact": P, "op": "eq", "value": 0}]}}, []),
    ({"fact": "attendance.partner_present", "op": "eq", "value": 1}, ["unknown_fact"]),
    ({"all": [{"not": {"fact": "clinical.safety_concerns", "op": "eq", "value": True}}]}, ["unknown_fact"]),
    ({"fact": P, "op": "lt", "other_fact": "attendance.partners_expectd"}, ["unknown_fact"]),
    ({"fact": P, "op": "at_least", "value": 1}, ["schema"]),
    ({"fact": R, "op": "lt", "value": "work"}, ["operator_type"]),
    ({"fact": R, "op": "eq", "value": "job"}, ["value_type"]),
    ({"fact": R, "op": "in", "value": ["work", "job"]}, ["value_type"]),
    ({"fact": "clinical.safety_concern", "op": "eq", "value": "yes"}, ["value_type"]),
    ({"fact": P, "op": "eq", "value": [1]}, ["value_type"]),
    ({"fact": P, "op": "eq", "value": 1.5}, ["value_type"]),
])
def test_the_editor_flags_what_the_engine_refuses(when: dict[str, Any], engine: list[str]) -> None:
    data = _with_when(when)
    assert _engine_codes(data) == engine
    flagged = list(_editor_validator().iter_errors(data))
    assert bool(flagged) == bool(engine), [e.message for e in flagged]
    assert list(validator("policy").iter_errors(data)) == [] or engine == ["schema"]  # the engine's schema: as before


def test_every_bundled_policy_names_the_editor_schema_and_satisfies_it() -> None:
    files = policy_files([ROOT / "rules"])
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert text.splitlines()[0] == MODELINE, path
        target = MODELINE.split("$schema=", 1)[1].split("#", 1)[0]
        assert (path.parent / target).resolve() == SCHEMA
        assert [e.message for e in _editor_validator().iter_errors(yaml.safe_load(text))] == [], path
