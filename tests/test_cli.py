"""The CLI's exit codes and output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from engine.cli.main import main
from support.policies import ROOT, minimal_policy, write_policy

EXAMPLE = str(ROOT / "examples" / "facts" / "partner-absent-work.json")


def run(capsys, *argv, stdin=None, monkeypatch=None):
    if stdin is not None:
        import io

        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_ok(capsys):
    code, out, _ = run(capsys, "validate", str(ROOT / "rules"))
    assert code == 0
    assert out == "ok: 1 policy version valid (couples-attendance@1.0.0) in 1 file(s)\n"


def test_validate_reports_every_problem_with_location(capsys, tmp_path):
    data = minimal_policy()
    data["rules"][0]["when"]["fact"] = "attendance.partner_present"
    data["rules"][0]["then"] = "zzz"
    path = write_policy(tmp_path, data)
    code, _, err = run(capsys, "validate", str(tmp_path))
    lines = path.read_text().splitlines()
    fact = next(i for i, t in enumerate(lines) if "fact: attendance.partner_present" in t)
    then = next(i for i, t in enumerate(lines) if t.strip() == "then: zzz")
    col = lines[fact].index("attendance.partner_present") + 1  # the value that is wrong
    assert code == 1
    assert err.splitlines() == [
        f"{path}:{fact + 1}:{col}: unknown_fact: rule R-001: unknown fact 'attendance.partner_present'; did you mean "
        "'attendance.partners_present'? (at $.rules[0].when.fact)",
        f"{path}:{then + 1}:9: unknown_recommendation: rule R-001: unknown recommendation 'zzz' (at $.rules[0].then)",
        "2 errors occurred",
    ]


@pytest.mark.parametrize(("argv", "code", "needle"), [
    (["validate", "/nonexistent/rules"], 1, "/nonexistent/rules: not_found: no such file or directory"),
    (["eval", "/nonexistent.json"], 2, "/nonexistent.json: No such file or directory"),
    (["eval", EXAMPLE, "--policy", "couples-attendence"], 1,
     "error: unknown_policy: unknown policy 'couples-attendence'; did you mean 'couples-attendance'?"),
    (["eval", EXAMPLE, "--version", "1.0.1"], 1,
     "error: unknown_policy_version: policy 'couples-attendance' has no version '1.0.1'; did you mean '1.0.0'?"),
])
def test_errors(capsys, argv, code, needle):
    got, _, err = run(capsys, *argv, "--rules", str(ROOT / "rules")) if argv[0] == "eval" else run(capsys, *argv)
    assert got == code
    assert needle in err


def test_eval_prints_the_decision(capsys):
    code, out, _ = run(capsys, "eval", EXAMPLE, "--rules", str(ROOT / "rules"))
    assert code == 0
    d = json.loads(out)
    assert d["session_id"] == "sess-0001"
    assert [r["id"] for r in d["recommendations"]][:2] == ["no_attendance_penalty", "proceed_as_solo_session"]
    assert all(r["rationale"] and r["source"] and r["matched"] for r in d["recommendations"])


def test_eval_invalid_facts_from_stdin(capsys, monkeypatch):
    facts = '{"session": {"id": "s", "type": "couple"}, "attendance": {"partners_present": 3}}'
    code, out, err = run(capsys, "eval", "-", "--rules", str(ROOT / "rules"), stdin=facts, monkeypatch=monkeypatch)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "attendance.partners_present: 3 is greater than the maximum of 2",
        "session.type: 'couple' is not one of: couples, individual, group, family, education; did you mean "
        "'couples'?",
    ]


def test_eval_malformed_json(capsys, monkeypatch):
    code, _, err = run(capsys, "eval", "-", stdin='{"session": NaN}', monkeypatch=monkeypatch)
    assert code == 2
    assert err == "-: malformed JSON: NaN is not valid JSON\n"


def test_eval_explain(capsys):
    code, out, _ = run(capsys, "eval", EXAMPLE, "--explain", "--rules", str(ROOT / "rules"))
    assert code == 0 and json.loads(out)["not_fired"][0]["rule"] == "CA-001"


@pytest.mark.parametrize("command", ["validate", "eval"])
def test_help_has_an_example(command):
    proc = subprocess.run([sys.executable, "-m", "engine.cli.main", command, "--help"], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert proc.returncode == 0
    assert "example:" in proc.stdout and "attendance-policy" in proc.stdout


def test_console_script_installed():
    proc = subprocess.run([sys.executable, "-m", "engine.cli.main", "eval", EXAMPLE], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert proc.returncode == 0 and json.loads(proc.stdout)["policy"]["id"] == "couples-attendance"
