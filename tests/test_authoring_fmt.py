"""`attendance-policy fmt`: one layout, comments kept, idempotent, the same policy before and after."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.policy import format as fmt
from engine.policy.format import FormatRefused, format_text
from engine.policy.loader import load_policy, load_policy_text
from engine.policy.lock import render_lock, sha256_file
from engine.policy.yaml_source import read_yaml
from support.policies import DEFAULT_POLICY, ROOT

CLI = Path(sys.executable).with_name("attendance-policy")

MESSY = """\
# A demo policy.{3}
policy:   demo      # the folder's name
version: 1.0.0
effective_from: "2026-01-01"
title: Demo
owner: Clinical director
changelog:
- version: 1.0.0
  changes: first

parameters:
    limit: 3
recommendations:
    rec_a: {title: A,   indicator: info, category: attendance, text: a}
    rec_b:
        title: B
        indicator: warning
        category: attendance
        text: >-
            b, folded
            over two lines
rules:
-   id: R-001
    title: one
    priority: 10
    when:
        all:
        - &one {fact: attendance.partners_present,op: eq,value: 1}
        # the reasons that count
        -   fact: attendance.absence_reason
            op: in
            value: [work,
                    caregiving]
    then: rec_a
    rationale: |
        because
          indented stays indented
    source: 's'
-   id: R-002
    title: two
    priority: 20
    when: {all: [*one]}
    then: [rec_b]
    rationale: "why"
    source: s
""".replace("{3}", "   ")  # spaces at the end of a comment line

CANONICAL = """\
# A demo policy.
policy: demo        # the folder's name
version: 1.0.0
effective_from: "2026-01-01"
title: Demo
owner: Clinical director
changelog:
  - version: 1.0.0
    changes: first

parameters:
  limit: 3
recommendations:
  rec_a: {title: A, indicator: info, category: attendance, text: a}
  rec_b:
    title: B
    indicator: warning
    category: attendance
    text: >-
      b, folded
      over two lines
rules:
  - id: R-001
    title: one
    priority: 10
    when:
      all:
        - &one {fact: attendance.partners_present, op: eq, value: 1}
        # the reasons that count
        - fact: attendance.absence_reason
          op: in
          value: [work, caregiving]
    then: rec_a
    rationale: |
      because
        indented stays indented
    source: 's'
  - id: R-002
    title: two
    priority: 20
    when: {all: [*one]}
    then: [rec_b]
    rationale: "why"
    source: s
"""


def _write(base: Path, text: str, version: str = "1.0.0") -> Path:
    folder = base / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{version}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _without_positions(policy: object) -> object:
    return fmt._plain(policy)


def test_canonical_layout() -> None:
    assert format_text(MESSY, "demo/1.0.0.yaml") == CANONICAL


def test_idempotent_and_the_same_policy() -> None:
    assert format_text(CANONICAL, "demo/1.0.0.yaml") == CANONICAL
    before, after = load_policy_text(MESSY, "m.yaml"), load_policy_text(CANONICAL, "m.yaml")
    assert before.sha256 != after.sha256
    assert _without_positions(before) == _without_positions(after)
    assert before.rules[1].line != after.rules[1].line  # a line moved: positions are not compared


def test_the_bundled_policy_is_in_the_layout() -> None:
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    assert format_text(text, str(DEFAULT_POLICY)) == text


@pytest.mark.parametrize(("text", "code", "line", "column", "message"), [
    ("a: [x,   # why x\n    y]\n", "comment_would_be_lost", 1, 10,
     "not formatted: the comment '# why x' would be lost (comments inside a `[...]` or `{...}` that spans lines "
     "are not kept): put it on a line of its own"),
    ("a: {p: 1,\n    # inner\n    q: 2}\n", "comment_would_be_lost", 2, 5,
     "not formatted: the comment '# inner' would be lost (comments inside a `[...]` or `{...}` that spans lines "
     "are not kept): put it on a line of its own"),
])
def test_refusals(text: str, code: str, line: int, column: int, message: str | None) -> None:
    with pytest.raises(FormatRefused) as e:
        format_text(text, "x.yaml")
    (problem,) = e.value.problems
    assert (problem.code, problem.file, problem.line, problem.column) == (code, "x.yaml", line, column)
    if message is not None:
        assert problem.message == message


def test_yaml_that_does_not_parse_is_refused_where_validate_says() -> None:
    text = "policy: demo\nrules: [1, 2\nb: 3\n"
    with pytest.raises(FormatRefused) as e:
        format_text(text, "x.yaml")
    (expected,) = read_yaml(text, "x.yaml")[1]
    (problem,) = e.value.problems
    assert (problem.code, problem.line, problem.column) == (expected.code, expected.line, expected.column)
    assert problem.message == f"not formatted: {expected.message}"


def test_trailing_spaces_go_except_inside_a_text() -> None:
    text = "a: 1   \n# note   \nb: |\n  kept   \n  as is\n"
    assert format_text(text, "x.yaml") == "a: 1\n# note\nb: |\n  kept   \n  as is\n"


def test_hash_in_text_is_not_a_comment() -> None:
    text = 'a: "text # not a comment"\nb: |\n  # not a comment either\n  line\nc: x#y   # but this is\n'
    assert format_text(text, "x.yaml") == text
    assert [c for _, _, c in fmt._comments(text, "x.yaml")] == ["# but this is"]


def test_a_layout_that_reads_differently_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real = fmt._layout
    monkeypatch.setattr(fmt, "_layout", lambda text, name: real(text, name).replace("value: 1}", "value: 2}"))
    with pytest.raises(FormatRefused) as e:
        format_text(MESSY, "demo/1.0.0.yaml")
    assert [p.code for p in e.value.problems] == ["format_changes_meaning"]


def test_a_file_that_does_not_load_yet_is_compared_as_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    unfinished = "policy: demo\nrules:\n-   id: R-001\n    when: {fact: attendance.partner_present}\n"
    assert format_text(unfinished, "demo/1.0.0.yaml") == (
        "policy: demo\nrules:\n  - id: R-001\n    when: {fact: attendance.partner_present}\n")
    real = fmt._layout
    monkeypatch.setattr(fmt, "_layout", lambda text, name: real(text, name).replace("R-001", "R-002"))
    with pytest.raises(FormatRefused):
        format_text(unfinished, "demo/1.0.0.yaml")


def test_check_lists_the_files_that_would_change(tmp_path: Path) -> None:
    messy, tidy = _write(tmp_path, MESSY), _write(tmp_path, CANONICAL.replace("1.0.0", "1.0.1"), "1.0.1")
    proc = subprocess.run([str(CLI), "fmt", "--check", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout) == (1, f"would reformat {messy}\n")
    assert proc.stderr == (f"1 file would be reformatted, 1 already formatted; run `attendance-policy fmt "
                           f"{tmp_path}` to format\n")
    assert messy.read_text(encoding="utf-8") == MESSY and tidy.read_text(encoding="utf-8") == CANONICAL.replace(
        "1.0.0", "1.0.1")


def test_fmt_rewrites_then_check_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, MESSY)
    before = load_policy(path)
    assert main(["fmt", str(path)]) == 0
    assert capsys.readouterr() == (f"reformatted {path}\n1 file reformatted, 0 already formatted\n", "")
    assert path.read_text(encoding="utf-8") == CANONICAL
    assert _without_positions(load_policy(path)) == _without_positions(before)
    assert main(["fmt", "--check", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "0 files would be reformatted, 1 already formatted\n"


def test_diff_shows_the_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, MESSY)
    assert main(["fmt", "--check", "--diff", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"--- {path} (as written)\n+++ {path} (formatted)\n" in out
    assert "\n-    limit: 3\n+  limit: 3\n" in out


def test_a_released_version_is_never_rewritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, MESSY)
    (path.parent / "versions.lock").write_text(render_lock("demo", {"1.0.0": sha256_file(path)}), encoding="utf-8")
    assert main(["fmt", str(tmp_path)]) == 2
    assert capsys.readouterr() == (
        "0 files reformatted, 0 already formatted\n",
        f"{path}:1:1: released_version: not formatted: a released version (in versions.lock) never changes; "
        "its layout is kept\n1 error occurred\n")
    assert path.read_text(encoding="utf-8") == MESSY


def test_refused_and_missing_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "policy: demo\nvalue: [x,   # lost\n  y]\n")
    assert main(["fmt", str(path), str(tmp_path / "nowhere")]) == 2
    out, err = capsys.readouterr()
    assert out == "0 files reformatted, 0 already formatted\n"
    assert err.splitlines() == [
        f"{tmp_path / 'nowhere'}: not_found: no such file or directory",
        f"{path}:2:14: comment_would_be_lost: not formatted: the comment '# lost' would be lost (comments inside "
        "a `[...]` or `{...}` that spans lines are not kept): put it on a line of its own",
        "2 errors occurred",
    ]


def test_bundled_rules_pass_the_ci_check() -> None:
    proc = subprocess.run([str(CLI), "fmt", "--check", str(ROOT / "rules")], capture_output=True, text=True,
                          timeout=120)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.endswith(" already formatted\n") and proc.stdout.startswith("0 files would be reformatted")
