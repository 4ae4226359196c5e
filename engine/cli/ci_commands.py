"""Policy CI sub-commands: `test` (scenarios + coverage), `lint`, `diff` (impact between versions), `lock`.

Exit status, for every command here: 0 success; 1 the check failed (a scenario,
the coverage minimum, a lint finding, a change under --fail-on-change, a lock
problem); 2 nothing could be checked (an invalid policy or scenario file, an
unknown version, no scenarios).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from engine.ci.scenarios import scenario_files
from engine.ci.sources import load_all_scenarios, policy_sources, resolve_ref
from engine.core.errors import PolicyError, Problem, print_error, print_problems
from engine.policy.loader import default_rules_dir
from engine.runtime.gate import admit
from engine.runtime.registry import PolicySet

__all__ = ["register"]

OK, FAILED, UNUSABLE = 0, 1, 2
_EXIT = """exit status: 0 ok, 1 {fail}, 2 nothing could be checked (invalid policy or scenario file{extra})"""
_RULES_HELP = "rules directory (default: ./rules or $ATTENDANCE_POLICY_RULES)"


def _emit(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    print()


def _missing(paths: list[str]) -> int | None:
    gone = [p for p in paths if not Path(p).exists()]
    if gone:
        print_problems([Problem("not_found", "no such file or directory", "", g) for g in gone])
        return UNUSABLE
    return None


# -- test ------------------------------------------------------------------

def cmd_test(args: argparse.Namespace) -> int:
    from engine.ci.runner import coverage_shortfalls, render_text, run_all, to_dict
    from engine.ci.sources import plan_runs

    paths = args.paths or [default_rules_dir()]
    if (code := _missing(paths)) is not None:
        return code
    gate = admit([args.rules] if args.rules else policy_sources(paths))  # a refused version is not tested
    if gate.problems:
        gate.close()
        print_problems(gate.problems)
        return UNUSABLE
    policies = [v.policy for v in gate.verdicts]
    compiled = PolicySet.of(gate.compiled())
    try:
        scenarios = load_all_scenarios(scenario_files(paths))
        if not scenarios:
            print(f"no scenarios found under {', '.join(paths)}", file=sys.stderr)
            compiled.close()
            return UNUSABLE
        runs = plan_runs(scenarios, policies)
    except PolicyError as e:
        compiled.close()
        print_error(e)
        return UNUSABLE
    run = run_all(policies, compiled, runs)
    compiled.close()
    want_coverage = args.coverage or args.min_coverage is not None or args.min_leaf_coverage is not None
    short = coverage_shortfalls(run, args.min_coverage, args.min_leaf_coverage)
    if args.format == "json":
        _emit(to_dict(run, coverage=want_coverage, shortfalls=short))
    else:
        print(render_text(run, coverage=want_coverage, shortfalls=short, verbose=args.verbose))
    return FAILED if run.failed or short else OK


_TEST_EPILOG = """examples:
  attendance-policy test                                  # every rules/<policy>/tests/*.yaml
  attendance-policy test rules/couples-attendance/tests/safety.yaml -v
  attendance-policy test --coverage --min-coverage 100 --format json

A scenario (or a whole file) without `versions:` runs on the newest version of its policy
(the one a pull request adds); `versions: "1.0.0"`, `versions: ">=1.0.0,<2.0.0"` or a list
keeps it running on older ones. Every recommendation id and fact it names must exist in each
version it runs on. Coverage is per version, over the scenarios that run on it: rules fired by
at least one; condition leaves seen both true and false.

""" + _EXIT.format(fail="a scenario failed or coverage is below the minimum", extra=", no scenarios")


def _add_test(sub: Any) -> None:
    t = sub.add_parser("test", help="run scenario files, with coverage",
                       description="Run policy scenario files (facts in, expected recommendations out) "
                                   "and report like pytest, ending with `N passed, N failed`.",
                       epilog=_TEST_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("paths", nargs="*", metavar="PATH", help="scenario files or rules directories (default: ./rules)")
    t.add_argument("--rules", help="load policies from this directory (default: beside the scenarios)")
    t.add_argument("--coverage", action="store_true", help="report rule and condition-leaf coverage per version")
    t.add_argument("--min-coverage", type=float, metavar="PCT",
                   help="fail below this rule coverage (implies --coverage)")
    t.add_argument("--min-leaf-coverage", type=float, metavar="PCT",
                   help="fail below this condition-leaf coverage (implies --coverage)")
    t.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    t.add_argument("-v", "--verbose", action="store_true", help="one line per scenario")
    t.set_defaults(func=cmd_test)


# -- lint ------------------------------------------------------------------

def cmd_lint(args: argparse.Namespace) -> int:
    paths = args.paths or [default_rules_dir()]
    if (code := _missing(paths)) is not None:
        return code
    started = time.perf_counter()
    gate = admit(paths)  # the one gate: load, locks, compile, and lint itself
    gate.close()
    if gate.unloadable:
        print_problems(gate.unloadable)
        return UNUSABLE
    if not gate.verdicts:
        print(f"no policy files found under {', '.join(paths)}", file=sys.stderr)
        return UNUSABLE
    report = gate.lint_report(time.perf_counter() - started)
    found = {(f.code, f.file, f.line, f.column) for f in report.findings}
    refused = [p for p in gate.problems if (p.code, p.file, p.line, p.column) not in found]  # not lint's own
    failed = bool(refused) or report.failed(args.strict)
    if args.format == "json":
        _emit(report.to_dict() | {"problems": [p.to_dict() for p in refused], "strict": args.strict,
                                  "failed": failed})
    else:
        for problem in refused:
            print(problem.format())
        for f in report.findings:
            print(f.format())
        print(report.summary())
    return FAILED if failed else OK


_LINT_EPILOG = """examples:
  attendance-policy lint
  attendance-policy lint --strict rules/couples-attendance/1.1.0.yaml
  attendance-policy lint --format json > lint.json

Findings (severity): unreachable_rule (error), always_suppressed (warning),
shadowed_rule (warning), conflicting_recommendations (error), must_decide_gap (error),
unused_parameter, unused_recommendation, missing_rationale, missing_source (warning),
lint_inconclusive (warning), no_must_decide (info). Each names file:line and, where a
case proves it, a counterexample (session facts) and what the engine decides for it.

""" + _EXIT.format(fail="an error (with --strict: an error or a warning)", extra="")


def _add_lint(sub: Any) -> None:
    lt = sub.add_parser("lint", help="find rules that never fire, shadowed rules, conflicts and gaps",
                        description="Static analysis of policy versions over the facts' finite domains "
                                    "(booleans, enums, numbers split at the policy's thresholds).",
                        epilog=_LINT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    lt.add_argument("paths", nargs="*", metavar="PATH", help="policy files or rules directories (default: ./rules)")
    lt.add_argument("--strict", action="store_true", help="fail on warnings too")
    lt.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    lt.set_defaults(func=cmd_lint)


# -- diff ------------------------------------------------------------------

def _traffic(args: argparse.Namespace, stack: contextlib.ExitStack) -> tuple[Any, str]:
    """The logged decisions to replay (`--log`, registered by the service's commands), or (None, "")."""
    if not getattr(args, "log", None):
        return None, ""
    opener = getattr(args, "open_log", None)
    if opener is None:
        raise PolicyError("--log needs the service's commands (the `api` package) installed")
    cases, source = stack.enter_context(opener(args.log, args.since, args.until))
    return cases, source


def cmd_diff(args: argparse.Namespace) -> int:
    from engine.ci.diff import diff_scenarios, scenario_cases
    from engine.impact.markdown import to_markdown
    from engine.impact.report import impact_report

    try:
        with contextlib.ExitStack() as stack:
            old, new = resolve_ref(args.old, args.rules), resolve_ref(args.new, args.rules)
            cases = scenario_cases(diff_scenarios(args.cases, old, new))
            traffic, source = _traffic(args, stack)
            report = impact_report(old, new, scenarios=cases, traffic=traffic, traffic_source=source)
    except PolicyError as e:
        print_error(e)
        return UNUSABLE
    if args.format == "json":
        text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
        full = text
    else:
        text = to_markdown(report, full_report=args.full_report)
        full = to_markdown(report, limit=None) if args.full_report else text
    if args.full_report:
        Path(args.full_report).write_text(full, encoding="utf-8")
    sys.stdout.write(text)
    if args.fail_on_change and report.changed:
        print(f"diff: {report.summary()}", file=sys.stderr)
        return FAILED
    return OK


_DIFF_EPILOG = """examples:
  attendance-policy diff couples-attendance@1.0.0 couples-attendance@1.1.0 > impact.md
  attendance-policy diff couples-attendance@1.0.0 rules/couples-attendance/1.1.0.yaml --fail-on-change
  attendance-policy diff old.yaml new.yaml --cases rules/couples-attendance/tests --format json
  attendance-policy diff couples-attendance@1.0.0 couples-attendance@1.1.0 --log var/decisions.sqlite3 \\
      --since 2026-11-01 --until 2026-12-01 --full-report impact-full.md

The report lists every change between the two files (at file:line), then the decisions
that change on generated cases: the scenarios that `test` would run on OLD or NEW
(their names checked the same way) plus every combination of the facts that decide
each recommendation, numbers at each threshold, one below and one above. With --log,
the facts of the logged decisions are re-decided by both versions too (ids and counts,
never facts). Markdown stays under 60,000 characters (a pull-request comment);
--full-report writes everything to a file.

""" + _EXIT.format(fail="a decision's output changes (recommendations, indicators, suppression, rationale or "
                   "text) and --fail-on-change is given", extra=", unknown version, misspelt scenario name")


def _add_diff(sub: Any) -> None:
    d = sub.add_parser("diff", help="impact of a new policy version: every change, and the decisions it changes",
                       description="Compare two policy versions: what the files say, and every decision that "
                                   "changes (recommendations added, removed, suppressed, another indicator, "
                                   "another rationale or text), on generated cases and on logged traffic.",
                       epilog=_DIFF_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("old", metavar="OLD", help="`<policy>@<version>` or a policy file")
    d.add_argument("new", metavar="NEW", help="`<policy>@<version>` or a policy file")
    d.add_argument("--rules", default=default_rules_dir(), help=_RULES_HELP)
    d.add_argument("--cases", action="append", metavar="DIR", help="scenario files or folders (repeatable)")
    d.add_argument("--format", choices=("markdown", "json"), default="markdown",
                   help="output format (default: markdown)")
    d.add_argument("--full-report", metavar="FILE", help="also write the whole report (never shortened) here")
    d.add_argument("--fail-on-change", action="store_true",
                   help="exit 1 when any decision's output changes, rationale and text included")
    d.set_defaults(func=cmd_diff)


# -- lock ------------------------------------------------------------------

def cmd_lock(args: argparse.Namespace) -> int:
    from engine.policy.lock import lock_versions

    if (code := _missing(args.paths)) is not None:
        return code
    gate = admit(args.paths, locks=False)  # the lock's own checks run below, where the lock is written
    gate.close()
    if gate.unloadable:
        print_problems(gate.unloadable)
        return UNUSABLE
    # A release is final: it must pass the gate, and carry no warning either (e.g. a `TODO` rationale).
    warnings = [Problem(f.code, f"{f.message} (a released version may not carry a warning)", "", f.file, f.line,
                        f.column) for f in gate.findings() if f.severity == "warning"]
    if refused := gate.problems + warnings:
        print_problems(sorted(refused, key=lambda p: (p.file or "", p.line or 0, p.column or 0)))
        return FAILED
    added, problems = lock_versions([v.policy for v in gate.verdicts])
    if problems:
        print_problems(problems)
        return FAILED
    print(f"locked: {', '.join(added)}" if added else "nothing to lock: every version is already released")
    return OK


_LOCK_EPILOG = """example:
  attendance-policy lock rules/couples-attendance/1.1.0.yaml

Records the sha256 of each given version in rules/<policy>/versions.lock; from then on
`validate` fails if the file changes. Recorded hashes are never changed. A version is
released only if it passes the gate that `validate` and `serve` apply, with no lint
warning either (`lint --strict`).

""" + _EXIT.format(fail="the version is refused (a gate problem, a lint warning) or a lock problem "
                   "(a released file changed, a version not newer)", extra="")


def _add_lock(sub: Any) -> None:
    lk = sub.add_parser("lock", help="release policy versions (record their sha256 in versions.lock)",
                        description="Release policy versions: record their sha256 so that they never change.",
                        epilog=_LOCK_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    lk.add_argument("paths", nargs="+", metavar="PATH", help="policy version files (or a policy folder)")
    lk.set_defaults(func=cmd_lock)


def register(subparsers: Any) -> None:
    """Add `test`, `lint`, `diff` and `lock` to the `attendance-policy` command line."""
    for add in (_add_test, _add_lint, _add_diff, _add_lock):
        add(subparsers)
