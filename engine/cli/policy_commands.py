"""`attendance-policy validate` and `attendance-policy eval`: check policy files, decide one set of facts."""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
from typing import Any

from engine.core.errors import FactsError, PolicyError, PolicyLoadError, Problem, print_problems
from engine.facts.strict_json import MAX_FACTS_BYTES, loads_strict
from engine.policy.loader import default_rules_dir, policy_files
from engine.policy.model import Policy
from engine.runtime.engine import load_engine
from engine.runtime.gate import GateReport, admit
from engine.runtime.pins import held_back, pin_sources

__all__ = ["register"]


def cmd_validate(args: argparse.Namespace) -> int:
    paths = args.paths or [default_rules_dir()]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        print_problems([Problem("not_found", "no such file or directory", "", m) for m in missing])
        return 1
    report = admit(paths)  # the one gate: what serve and a reload would refuse, refused here
    report.close()
    if report.problems:
        print_problems(report.problems)
        return 1
    n = len(report.verdicts)
    if n == 0:
        print(f"no policy files found under {', '.join(paths)}", file=sys.stderr)
        return 1
    print(f"ok: {n} policy version{'s' if n != 1 else ''} valid "
          f"({', '.join(v.policy.key for v in report.verdicts)}) in {len(policy_files(paths))} file(s)")
    for line in _pin_warnings(report, args.database):
        print(line, file=sys.stderr)
    return 0


def _pin_warnings(report: GateReport, database: str | None) -> list[str]:
    """A warning per admin pin (in the service's decision log) that holds back a version whose date has come.

    A pin is an operator's deliberate choice, so it warns and does not fail validation."""
    today = _dt.datetime.now(_dt.UTC).date()
    by_policy: dict[str, list[Policy]] = {}
    for verdict in report.verdicts:
        by_policy.setdefault(verdict.policy.id, []).append(verdict.policy)
    lines = []
    for name, read in pin_sources():
        try:
            pins = read(database)
        except PolicyError as e:
            lines.append(f"warning: the pins cannot be read ({name}): {e.message}")
            continue
        for policy_id, pin in sorted(pins.items()):
            found = held_back(by_policy.get(policy_id, []), pin.version, today)
            if found is not None:
                lines.append(f"warning: {policy_id}: {found.message()} "
                             f"(pinned by {pin.pinned_by} at {pin.pinned_at}; {name})")
    return lines


def _read_facts(source: str) -> Any:
    """The facts in a file or on standard input, read no further than the limit (`/dev/zero` is refused at once)."""
    if source == "-":
        data = sys.stdin.buffer.read(MAX_FACTS_BYTES + 1)
    else:
        with open(source, "rb") as fh:
            data = fh.read(MAX_FACTS_BYTES + 1)
    if len(data) > MAX_FACTS_BYTES:
        raise FactsError([Problem("facts_too_large", f"the facts are larger than the limit of {MAX_FACTS_BYTES} "
                                                     "bytes (the service's limits.max_body_bytes default); "
                                                     "give the facts of one session")])
    return loads_strict(data)


def cmd_eval(args: argparse.Namespace) -> int:
    try:
        facts = _read_facts(args.facts)
    except OSError as e:
        print(f"{args.facts}: {e.strerror}", file=sys.stderr)
        return 2
    except FactsError as e:
        print(f"{args.facts}: {e.problems[0].message}", file=sys.stderr)
        return 2
    try:
        engine = load_engine(args.rules)
        decision = engine.evaluate(facts, policy=args.policy, version=args.version, explain=args.explain)
    except FactsError as e:
        for p in e.problems:
            print(f"{p.path or '(facts)'}: {p.message}", file=sys.stderr)
        return 2
    except PolicyLoadError as e:
        print_problems(e.problems)
        return 1
    except PolicyError as e:
        print(f"error: {e.code}: {e.message}", file=sys.stderr)
        return 1
    json.dump(decision.to_dict(), sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


_EPILOG_VALIDATE = """example:
  attendance-policy validate rules/
  attendance-policy validate rules/couples-attendance/1.1.0.yaml

A pin in the decision log that holds back a version whose effective_from has
come is printed as a warning (exit status unchanged).

exit status: 0 valid, 1 invalid (every problem as file:line:col: code: message)"""

_EPILOG_EVAL = """example:
  attendance-policy eval examples/facts/partner-absent-work.json
  echo '{"session": {"id": "s-1", "type": "couples"}}' | attendance-policy eval - --explain

exit status: 0 decided, 1 policy or engine error, 2 invalid facts (each problem names the field)
""" f"or facts larger than {MAX_FACTS_BYTES} bytes (the service's body limit; nothing past it is read)"


def register(sub: Any) -> None:
    v = sub.add_parser("validate", help="check policy files (syntax, schema, semantics, compilation)",
                       description="Check policy version files: YAML, JSON Schema, fact paths and types, "
                                   "references, suppression cycles, and that the engine compiles them.",
                       epilog=_EPILOG_VALIDATE, formatter_class=argparse.RawDescriptionHelpFormatter)
    v.add_argument("paths", nargs="*", metavar="PATH", help="policy files or rules directories (default: ./rules)")
    v.add_argument("--database", metavar="PATH",
                   help="the decision log whose admin pins to check (default: the service's configured log, "
                        "if it exists); a pin holding back a version whose date has come is a warning")
    v.set_defaults(func=cmd_validate)
    e = sub.add_parser("eval", help="decide one set of session facts",
                       description="Evaluate session facts (JSON) and print the decision as JSON.",
                       epilog=_EPILOG_EVAL, formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("facts", metavar="FILE", help="facts JSON file, or - for standard input")
    e.add_argument("--rules", default=default_rules_dir(),
                   help="rules directory (default: ./rules or $ATTENDANCE_POLICY_RULES)")
    e.add_argument("--policy", help="policy id (needed when several policies are loaded)")
    e.add_argument("--version", help="pin a policy version instead of the active one")
    e.add_argument("--explain", action="store_true", help="also list every rule that did not fire, and why")
    e.set_defaults(func=cmd_eval)
