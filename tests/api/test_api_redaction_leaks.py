"""A rationale that quotes a redacted fact is refused at start-up and on reload: the log would store it."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from api import create_app
from engine.core.errors import PolicyLoadError
from engine.policy.loader import load_rules
from engine.policy.semantics import redaction_problems
from engine.runtime.registry import PolicySet
from engine.runtime.reload import ReloadError, prepare
from support.service import RULES

DEFAULT = Path(RULES) / "couples-attendance" / "1.0.0.yaml"


def _copy_rules(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    (rules / "couples-attendance" / "versions.lock").unlink()
    return rules


@pytest.mark.parametrize(("redact", "expected"), [
    ([], []),
    (["session.scheduled_start"], []),  # the default: no rule quotes it
    (["attendance.absence_reason"], ["CA-012", "CA-013", "CA-030", "CA-031", "CA-032"]),  # quoted, or via {matched}
    (["history.consecutive_joint_sessions_missed"], ["CA-070"]),
])
def test_rules_that_would_leak_a_redacted_fact(redact, expected):
    problems = redaction_problems(load_rules([RULES]), redact)
    assert [p.message.split()[1] for p in problems] == expected
    assert all(p.code == "redacted_fact_quoted" and p.file and p.line for p in problems)


def test_start_up_refuses_such_a_configuration(tmp_path):
    # The gate refuses the leaking version; with no other version to serve, the start fails and says why.
    with pytest.raises(PolicyLoadError) as exc:
        create_app({"policies": {"rules": [RULES]},
                    "decision_log": {"path": str(tmp_path / "d.sqlite3"),
                                     "redact": ["history.consecutive_joint_sessions_missed"]}})
    assert [p.code for p in exc.value.problems] == ["redacted_fact_quoted"]
    assert "rule CA-070 quotes history.consecutive_joint_sessions_missed" in exc.value.problems[0].message


def test_reload_refuses_a_new_version_that_would_leak(tmp_path):
    rules = _copy_rules(tmp_path)
    current = PolicySet.build(load_rules([rules]), isolate=False)
    text = DEFAULT.read_text().replace("version: 1.0.0", "version: 1.1.0", 1).replace(
        'effective_from: "2026-01-01"', 'effective_from: "2026-01-02"', 1).replace(
        "  - version: 1.0.0\n", "  - version: 1.1.0\n", 1).replace(
        "A makeup session was requested after the partner's absence.",
        "A makeup session was requested ({session.scheduled_start}).")
    (rules / "couples-attendance" / "1.1.0.yaml").write_text(text)
    with pytest.raises(ReloadError) as exc:
        prepare(current, load_rules([rules]), today=dt.date(2026, 6, 1), lint=False,
                redact=["session.scheduled_start"])
    assert [(p.code, p.file.endswith("1.1.0.yaml")) for p in exc.value.problems] == [("redacted_fact_quoted", True)]
    current.close()
