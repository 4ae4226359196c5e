"""One gate: a version refused anywhere is refused everywhere (validate, lint, lock, eval, start-up, reload)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from api.app import create_app
from api.state import state_of
from engine.cli.main import main
from engine.core.errors import PolicyLoadError
from engine.runtime.engine import Engine, load_engine
from engine.runtime.gate import admit
from engine.runtime.registry import PolicySet
from engine.runtime.reload import ReloadError, prepare
from support.policies import ROOT, minimal_policy, write_policy

LINT = ROOT / "tests" / "fixtures" / "tools" / "lint"
TODAY = dt.date(2026, 6, 1)


@pytest.fixture
def conflict(tmp_path: Path) -> Path:
    """A version whose two conflicting recommendations can be given together (a lint error)."""
    shutil.copytree(LINT / "conflict", tmp_path / "conflict")
    return tmp_path


def _validate(rules: Path) -> bool:
    return main(["validate", str(rules)]) == 0


def _lint(rules: Path) -> bool:
    return main(["lint", str(rules)]) == 0


def _lock(rules: Path) -> bool:
    return main(["lock", *sorted(str(d) for d in rules.iterdir() if d.is_dir())]) == 0


def _test(rules: Path) -> bool:
    for folder in (d for d in rules.iterdir() if d.is_dir()):
        (folder / "tests").mkdir(exist_ok=True)
        (folder / "tests" / "cases.yaml").write_text(
            "scenarios:\n  - name: any session\n    facts: {session: {id: t-1, type: couples}}\n"
            "    expect: {include: []}\n")
    return main(["test", str(rules)]) == 0


def _eval(rules: Path) -> bool:
    try:
        load_engine(str(rules), isolate=False)
    except PolicyLoadError:
        return False
    return True


def _serve(rules: Path) -> bool:
    try:
        app = create_app({"policies": {"rules": [str(rules)], "poll_interval_ms": 0},
                          "decision_log": {"path": str(rules / "d.sqlite3")}})
    except PolicyLoadError:
        return False  # nothing admitted: the start fails and lists the refusal
    state_of(app).close()
    return True


def _reload(rules: Path) -> bool:
    policies = [v.policy for v in admit([rules], lint=False).verdicts]
    try:
        prepare(PolicySet(), policies, today=TODAY).abandon()
    except ReloadError:
        return False
    return True


GATES: list[tuple[str, Callable[[Path], bool]]] = [("validate", _validate), ("lint", _lint), ("test", _test),
                                                    ("lock", _lock), ("eval", _eval), ("serve", _serve),
                                                    ("reload", _reload)]


@pytest.mark.parametrize(("name", "gate"), GATES, ids=[g[0] for g in GATES])
def test_a_lint_error_is_refused_at_every_gate(conflict, name, gate, capsys):
    assert gate(conflict) is False
    if name in ("validate", "lint", "test", "lock"):
        seen = capsys.readouterr()
        assert "conflicting_recommendations" in seen.out + seen.err


@pytest.mark.parametrize(("name", "gate"), GATES, ids=[g[0] for g in GATES])
def test_a_clean_version_passes_every_gate(tmp_path, name, gate):
    shutil.copytree(LINT / "clean", tmp_path / "clean")
    assert gate(tmp_path) is True


def test_lock_refuses_a_placeholder_rationale_that_the_other_gates_only_warn_about(tmp_path, capsys):
    shutil.copytree(LINT / "missing-rationale", tmp_path / "missing-rationale")
    assert _validate(tmp_path) is True
    assert _lock(tmp_path) is False
    assert "missing_rationale" in capsys.readouterr().err
    assert not (tmp_path / "missing-rationale" / "versions.lock").exists()


def test_a_refused_file_refuses_its_own_version_only(tmp_path):
    shutil.copytree(LINT / "conflict", tmp_path / "conflict")
    shutil.copytree(LINT / "clean", tmp_path / "clean")
    report = admit([tmp_path], isolate=False)
    assert [v.policy.key for v in report.admitted()] == ["clean@1.0.0"]
    assert {p.code for p in report.problems} == {"conflicting_recommendations"}
    engine = Engine(PolicySet.of(report.compiled()))
    assert engine.policies.policy_ids() == ["clean"]
    report.close()


def test_a_rule_that_could_fire_only_on_the_engines_state_fact_never_reaches_the_engine(tmp_path):
    data = minimal_policy(rules=[{"id": "R-002", "title": "t", "priority": 1, "then": "rec_a", "rationale": "r",
                                  "source": "s",
                                  "when": {"not": {"fact": "plan.discharge_in_days", "op": "gte", "value": 0}}}])
    write_policy(tmp_path, data)
    report = admit([tmp_path], isolate=False)
    assert [p.code for p in report.problems] == ["unreachable_rule"] and not report.admitted()


def test_a_higher_version_that_does_not_take_effect_later_is_refused_and_the_other_serves(tmp_path):
    write_policy(tmp_path, minimal_policy())
    later = minimal_policy(version="1.1.0", changelog=[{"version": "1.1.0", "changes": "copied"}])
    write_policy(tmp_path, later, version="1.1.0")  # same effective_from as 1.0.0
    report = admit([tmp_path], isolate=False)
    assert [p.code for p in report.problems] == ["effective_from_order"]
    assert report.problems[0].file.endswith("1.1.0.yaml")
    assert [v.policy.key for v in report.admitted()] == ["demo@1.0.0"]
    report.close()


@pytest.mark.parametrize("value", [1, "couples", True])
def test_in_with_a_single_value_is_a_clear_error_not_a_traceback(tmp_path, capsys, value):
    data = minimal_policy()
    data["rules"][0]["when"] = {"fact": "attendance.partners_present", "op": "in", "value": value}
    write_policy(tmp_path, data)
    assert main(["validate", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "operator 'in' needs a list of values" in err and "Traceback" not in err
