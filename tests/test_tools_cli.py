"""The test / lint / diff / lock sub-commands: help with examples, exit status, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(__file__).resolve().parent / "fixtures" / "tools" / "lint"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", ["test", "lint", "diff", "lock"])
def test_help_has_examples_and_exit_status(capsys, command):
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert stop.value.code == 0
    assert "example" in out
    assert f"attendance-policy {command} " in out
    assert "exit status: 0 ok, 1 " in out


def test_top_level_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("validate", "eval", "test", "lint", "diff", "lock"):
        assert f"    {command} " in out


@pytest.mark.parametrize("fixture, strict, code", [
    ("clean", True, 0),
    ("shadowed", False, 0),  # a warning
    ("shadowed", True, 1),
    ("no-must-decide", True, 0),  # info never fails
    ("gap", False, 1),  # an error
])
def test_lint_exit_status(capsys, fixture, strict, code):
    argv = ["lint", LINT / fixture] + (["--strict"] if strict else [])
    assert run(capsys, *argv)[0] == code


def test_lint_default_policy_is_clean_under_strict(capsys):
    code, out, _ = run(capsys, "lint", "--strict", ROOT / "rules")
    assert code == 0
    assert out.startswith("0 errors, 0 warnings, 0 info in 1 policy version (")


def test_lint_text_lists_findings_then_the_summary(capsys):
    code, out, _ = run(capsys, "lint", LINT / "shadowed", LINT / "unused-parameter")
    lines = out.splitlines()
    assert code == 0
    assert [line.split(": ")[1:3] for line in lines if ": warning: " in line] == [
        ["warning", "shadowed_rule"], ["warning", "unused_parameter"]]
    assert lines[-1].startswith("0 errors, 2 warnings, 0 info in 2 policy versions (")


def test_lint_json(capsys):
    code, out, _ = run(capsys, "lint", LINT / "conflict", "--format", "json", "--strict")
    data = json.loads(out)
    assert code == 1
    assert (data["strict"], data["failed"], data["counts"]) == (True, True, {"error": 1, "warning": 0, "info": 0})
    [finding] = data["findings"]
    assert (finding["code"], finding["line"], finding["policy"]) == ("conflicting_recommendations", 10, "conflict@1.0.0")
    assert finding["decision"] == ["pause (CF-001)", "encourage (CF-040)"]


@pytest.mark.parametrize("argv", [("lint", "nowhere"), ("test", "nowhere"), ("lock", "nowhere")])
def test_missing_paths_cannot_be_checked(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.splitlines() == ["nowhere: not_found: no such file or directory", "1 error occurred"]


def test_an_invalid_policy_cannot_be_linted(capsys, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "1.0.0.yaml").write_text("policy: bad\n", encoding="utf-8")
    code, _, err = run(capsys, "lint", tmp_path)
    assert code == 2
    assert err.splitlines()[-1].endswith("occurred")
