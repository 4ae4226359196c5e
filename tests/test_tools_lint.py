"""Lint: one fixture policy per finding (and a clean one), each finding with its place and its case."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.analysis.findings import Finding, LintReport
from engine.analysis.lint import lint_policies, lint_policy
from engine.core.errors import EngineError
from engine.facts.prepare import validate_facts
from engine.policy.loader import load_policy
from engine.runtime.registry import PolicySet

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(__file__).resolve().parent / "fixtures" / "tools" / "lint"
DEFAULT = ROOT / "rules" / "couples-attendance" / "1.0.0.yaml"


def couples(**sections):
    return {"session": {"id": "lint-case", "type": "couples"}, **sections}


CASES = [
    ("unreachable", "unreachable_rule", "error", 26,
     "rule UR-002 can never fire: no combination of clinical.safety_concern, session.type satisfies all its "
     "conditions (10 checked); the closest case fails at `clinical.safety_concern ≠ true` (line 30)",
     couples(clinical={"safety_concern": True}), ("pause (UR-001)",)),
    ("always-suppressed", "always_suppressed", "warning", 32,
     "rule AS-002 can fire, but whenever it does, everything it gives (plan) is suppressed (by AS-001)",
     couples(clinical={"safety_concern": True, "relapse_since_last_session": True}),
     ("pause (AS-001)", "plan suppressed by AS-001")),
    ("shadowed", "shadowed_rule", "warning", 31,
     "rule SH-011 is shadowed by SH-010: whenever SH-011 fires, SH-010 fires too and gives document first, "
     "so SH-011 never changes a decision",
     couples(attendance={"partners_present": 0, "absence_reason": "work"}), ("document (SH-010)",)),
    ("conflict", "conflicting_recommendations", "error", 10,
     "encourage and pause are marked as conflicting, but this case gets both (encourage from rule CF-040, pause "
     "from rule CF-001) and no suppression decides between them; let the rule that should win suppress the other's "
     "recommendation, e.g. `suppresses: [encourage]` in rule CF-001",
     couples(clinical={"safety_concern": True, "betrayal_to_process": "infidelity"}),
     ("pause (CF-001)", "encourage (CF-040)")),
    ("gap", "must_decide_gap", "error", 12,
     "must_decide 'every absence gets a response': this case is one of those situations but gets no "
     "recommendation", couples(attendance={"partners_present": 0}), ()),
    ("unused-parameter", "unused_parameter", "warning", 10,
     "parameter 'unused_limit' is not used by any condition or rationale", None, None),
    ("unused-recommendation", "unused_recommendation", "warning", 11,
     "recommendation 'forgotten' is in the catalog but no rule gives it", None, None),
    ("missing-rationale", "missing_rationale", "warning", 26,
     "rule MR-010 has no rationale: a clinician cannot see why it fired", None, None),
    ("missing-source", "missing_source", "warning", 27,
     "rule MS-010 cites no section of the clinical source", None, None),
    ("no-must-decide", "no_must_decide", "info", 2,
     "no must_decide situations are declared, so lint cannot look for gaps", None, None),
]


def lint(*files: Path) -> LintReport:
    return lint_policies([load_policy(f) for f in files], isolate=False)


@pytest.mark.parametrize("fixture, code, severity, line, message, counterexample, decision", CASES,
                         ids=[c[0] for c in CASES])
def test_each_fixture_has_exactly_its_finding(fixture, code, severity, line, message, counterexample, decision):
    path = LINT / fixture / "1.0.0.yaml"
    [finding] = lint(path).findings
    assert (finding.code, finding.severity, finding.file, finding.line) == (code, severity, str(path), line)
    assert finding.message == message
    assert finding.counterexample == counterexample
    assert finding.decision == decision
    if counterexample is not None:
        validate_facts(counterexample)  # a reviewer can paste it into `attendance-policy eval`


@pytest.mark.parametrize("path", [LINT / "clean" / "1.0.0.yaml", DEFAULT], ids=["clean", "default"])
def test_no_findings(path):
    report = lint(path)
    assert report.findings == []
    assert report.combinations > 0


def test_the_default_policy_is_linted_in_well_under_a_second():
    report = lint(DEFAULT)
    assert report.space_size == 90_596_966_400
    assert report.seconds < 1.0


def test_format_puts_the_case_under_the_location():
    [finding] = lint(LINT / "gap" / "1.0.0.yaml").findings
    assert finding.format().splitlines() == [
        f"{LINT / 'gap' / '1.0.0.yaml'}:12:5: error: must_decide_gap: must_decide 'every absence gets a "
        "response': this case is one of those situations but gets no recommendation",
        '    counterexample: {"session": {"id": "lint-case", "type": "couples"}, "attendance": '
        '{"partners_present": 0}}',
        "    decision: no recommendation",
    ]


def test_a_search_over_budget_is_reported_not_guessed():
    policy = load_policy(LINT / "clean" / "1.0.0.yaml")
    compiled = PolicySet.build([policy], isolate=False)
    findings, _ = lint_policy(policy, compiled.compiled[policy.key], budget=1)
    compiled.close()
    assert {f.code for f in findings} == {"lint_inconclusive"}
    assert findings[0].message == "whether rule CL-001 can fire: not settled within 1 combinations; simplify the " \
                                  "conditions"
    assert len(findings) == 4 + 1 + 1  # each rule, the conflicting pair, the must_decide situation


def finding(severity: str) -> Finding:
    return Finding("x", severity, "m", "f.yaml", 1, 1, "p@1.0.0")


@pytest.mark.parametrize("severities, strict, failed", [
    ((), False, False), ((), True, False),
    (("info",), True, False),
    (("warning",), False, False), (("warning",), True, True),
    (("error",), False, True), (("error", "info"), True, True),
])
def test_what_fails(severities, strict, failed):
    report = LintReport(findings=[finding(s) for s in severities])
    assert report.failed(strict) is failed


def test_summary_counts_each_severity():
    report = LintReport(policies=["a@1.0.0", "b@1.0.0"], findings=[finding("error"), finding("info"), finding("info")],
                        combinations=1234, space_size=5000, seconds=0.5)
    assert report.summary() == ("1 error, 0 warnings, 2 info in 2 policy versions (1,234 combinations checked of "
                                "a fact space of 5,000, 0.50s)")
    assert report.to_dict()["counts"] == {"error": 1, "warning": 0, "info": 2}


def test_the_compiled_engine_must_confirm_every_case(monkeypatch):
    import engine.analysis.lint as lint_module

    real = lint_module.decide

    def one_partner_came(compiled, facts):  # an engine that sees another case than the analysis
        return real(compiled, {**facts, "attendance": {**facts["attendance"], "partners_present": 1}})

    monkeypatch.setattr(lint_module, "decide", one_partner_came)
    with pytest.raises(EngineError) as err:
        lint(LINT / "gap" / "1.0.0.yaml")
    assert err.value.message.startswith("lint and the compiled engine disagree on must_decide_gap in gap@1.0.0 for ")


def test_a_threshold_beyond_a_facts_range_is_unreachable_not_a_crash(tmp_path):
    """Found by the gate's property test: every point of `partners_present < -5` lies below the range."""
    text = (LINT / "unreachable" / "1.0.0.yaml").read_text(encoding="utf-8").replace(
        "        - not: {fact: clinical.safety_concern, op: eq, value: true}\n",
        "        - {fact: attendance.partners_present, op: lt, value: -5}\n")
    path = tmp_path / "unreachable" / "1.0.0.yaml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    [finding] = lint(path).findings
    assert finding.code == "unreachable_rule" and finding.message.startswith("rule UR-002 can never fire")
    assert "the closest case fails at `attendance.partners_present < -5`" in finding.message
