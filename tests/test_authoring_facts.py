"""`attendance-policy facts`: every fact of the facts schema, with its type, allowed values, default and meaning."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.core.schemas import load_schema
from engine.facts.prepare import fact_catalogue
from support.policies import DEFAULT_POLICY, ROOT

CLI = Path(sys.executable).with_name("attendance-policy")


def _facts(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), "facts", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def text() -> str:
    proc = _facts()
    assert (proc.returncode, proc.stderr) == (0, "")
    return proc.stdout


@pytest.fixture(scope="module")
def listed() -> list[dict[str, object]]:
    proc = _facts("--format", "json")
    assert (proc.returncode, proc.stderr) == (0, "")
    return json.loads(proc.stdout)


@pytest.mark.parametrize("block", [
    "session.type\n  type:      choice\n  allowed:   couples, individual, group, family, education\n"
    "  default:   required\n  operators: eq, ne, in, not_in\n  meaning:   Kind of session.\n",
    "attendance.partners_present\n  type:      integer\n  allowed:   whole numbers from 0 to 2\n"
    "  default:   the value of attendance.partners_expected\n  operators: eq, ne, lt, lte, gt, gte, in, not_in\n"
    "  meaning:   Partners who attended; defaults to the number expected.\n",
    "attendance.absence_reason\n  type:      choice\n  allowed:   none, scheduling_conflict, work, caregiving, "
    "emotional_overwhelm, needs_individual_work_first, early_recovery_stabilization, temporary_conflict, separation, "
    "declined, illness, unknown\n  default:   none\n  operators: eq, ne, in, not_in\n"
    "  meaning:   Why a partner is absent.\n",
    "clinical.safety_concern\n  type:      boolean\n  allowed:   true, false\n  default:   false\n"
    "  operators: eq, ne, in, not_in\n"
    "  meaning:   Emotional or physical safety concern, including partner violence.\n",
    "history.program_hours_this_week\n  type:      number\n  allowed:   numbers from 0 to 168\n"
    "  default:   no default: unknown when not sent\n  operators: eq, ne, lt, lte, gt, gte, in, not_in\n"
    "  meaning:   IOP treatment hours this week. No default: unknown when not sent.\n",
    "session.scheduled_start\n  type:      text\n  allowed:   a date and time (RFC 3339, e.g. 2026-01-31T18:00:00Z)\n"
    "  default:   no default: unknown when not sent\n  operators: eq, ne, in, not_in\n"
    "  meaning:   When the session is scheduled (RFC 3339).\n",
])
def test_text_shows_each_fact(text: str, block: str) -> None:
    assert f"\n{block}\n" in f"\n{text}"


def test_text_lists_every_fact_in_schema_order(text: str) -> None:
    paths = [line for line in text.splitlines() if line and not line.startswith(" ") and "." in line.split()[0]
             and not line.endswith("docs/policy-language.md")]
    assert paths == list(fact_catalogue())
    assert text.endswith(f"\n{len(paths)} facts. In a condition: {{fact: <path>, op: <op>, value: <an allowed "
                         "value>}; see docs/policy-language.md\n")


def test_json_lists_every_fact_with_the_schemas_description(listed: list[dict[str, object]]) -> None:
    sections = load_schema("session-facts")["properties"]
    assert [f["path"] for f in listed] == list(fact_catalogue())
    for fact in listed:
        section, name = str(fact["path"]).split(".", 1)
        assert fact["meaning"] == sections[section]["properties"][name]["description"]


@pytest.mark.parametrize(("path", "expected"), [
    ("attendance.absence_reason", {"type": "choice", "default": "none", "has_default": True, "required": False,
                                   "minimum": None, "maximum": None, "default_from": None}),
    ("attendance.partners_expected", {"type": "integer", "values": [], "default": 2, "minimum": 1, "maximum": 2}),
    ("attendance.partners_present", {"default": None, "has_default": False,
                                     "default_from": "attendance.partners_expected"}),
    ("plan.discharge_in_days", {"type": "integer", "default": None, "has_default": False,
                                "default_text": "no default: unknown when not sent"}),
    ("session.id", {"type": "text", "required": True, "default_text": "required", "operators": ["eq", "ne", "in",
                                                                                               "not_in"]}),
    ("plan.milestone_reached", {"type": "boolean", "values": [True, False], "default": False}),
])
def test_json_fields(listed: list[dict[str, object]], path: str, expected: dict[str, object]) -> None:
    fact = next(f for f in listed if f["path"] == path)
    assert {k: fact[k] for k in expected} == expected


def test_policy_language_links_the_command_and_explains_the_anchors() -> None:
    docs = (ROOT / "docs" / "policy-language.md").read_text(encoding="utf-8")
    assert "`attendance-policy facts`" in docs
    anchors = set(re.findall(r"&([a-z_]+)\b", DEFAULT_POLICY.read_text(encoding="utf-8")))
    section = docs.split("### Writing a condition once: anchors and aliases", 1)[1].split("\n### ", 1)[0]
    assert {"couples", "absent", "pause_suppresses"} <= anchors
    listed = section.split("The default policy's anchors\nare ", 1)[1].split(".\n", 1)[0]
    assert set(re.findall(r"`&([a-z_]+)`", listed)) == anchors
    for name in ("couples", "absent", "pause_suppresses"):  # shown with their aliases
        assert f"&{name}" in section and f"*{name}" in section
