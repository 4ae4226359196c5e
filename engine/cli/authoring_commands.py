"""`attendance-policy facts` and `attendance-policy fmt`: what a policy may say, and one layout for saying it."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from pathlib import Path
from typing import Any

from engine.core.errors import Problem, print_problems
from engine.core.files import atomic_write_text
from engine.policy.fact_reference import FactDoc, fact_docs
from engine.policy.format import FormatRefused, format_text, read_policy_source
from engine.policy.loader import default_rules_dir, policy_files
from engine.policy.lock import LOCK_NAME, read_lock

__all__ = ["register"]


def _fact_block(doc: FactDoc) -> str:
    return (f"{doc.path}\n  type:      {doc.type}\n  allowed:   {doc.allowed}\n  default:   {doc.default}\n"
            f"  operators: {', '.join(doc.operators)}\n  meaning:   {doc.meaning}\n")


def cmd_facts(args: argparse.Namespace) -> int:
    docs = fact_docs()
    if args.format == "json":
        json.dump([d.to_dict() for d in docs], sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    print("\n".join(_fact_block(d) for d in docs), end="")
    print(f"\n{len(docs)} facts. In a condition: {{fact: <path>, op: <op>, value: <an allowed value>}}; "
          "see docs/policy-language.md")
    return 0


def _released(path: Path) -> bool:
    """The file is a version recorded in its folder's versions.lock: its bytes never change."""
    lock_path = path.parent / LOCK_NAME
    if not lock_path.exists():
        return False
    lock, _ = read_lock(lock_path)
    return path.name.rsplit(".", 1)[0] in lock.entries


def _plural(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


def cmd_fmt(args: argparse.Namespace) -> int:
    paths = args.paths or [default_rules_dir()]
    problems = [Problem("not_found", "no such file or directory", "", p) for p in paths if not os.path.exists(p)]
    changed, same = [], 0
    for path in policy_files(p for p in paths if os.path.exists(p)):
        try:
            original = read_policy_source(path)
            formatted = format_text(original, str(path))
        except FormatRefused as e:
            problems += e.problems
            continue
        if formatted == original:
            same += 1
            continue
        if args.diff:
            sys.stdout.writelines(difflib.unified_diff(original.splitlines(keepends=True),
                                                       formatted.splitlines(keepends=True),
                                                       f"{path} (as written)", f"{path} (formatted)"))
        if args.check:
            print(f"would reformat {path}")
        elif _released(path):
            problems.append(Problem("released_version", "not formatted: a released version (in "
                                                        f"{LOCK_NAME}) never changes; its layout is kept",
                                    "", str(path), 1, 1))
            continue
        else:
            atomic_write_text(path, formatted)  # by rename: a running service never reads half a file
            print(f"reformatted {path}")
        changed.append(path)
    return _summary(args, changed, same, problems, paths)


def _summary(args: argparse.Namespace, changed: list[Path], same: int, problems: list[Problem],
             paths: list[str]) -> int:
    if problems:
        print_problems(problems)
    verb = "would be reformatted" if args.check else "reformatted"
    done = f"{_plural(len(changed), 'file')} {verb}, {same} already formatted"
    if args.check and changed:
        done += f"; run `attendance-policy fmt {' '.join(paths)}` to format"
    print(done, file=sys.stderr if args.check and changed else sys.stdout)
    if problems:
        return 2
    return 1 if args.check and changed else 0


_EPILOG_FACTS = """example:
  attendance-policy facts
  attendance-policy facts --format json

Each fact is a path (section.name) that a condition names as `fact:` or `other_fact:`."""

_EPILOG_FMT = """example:
  attendance-policy fmt rules/couples-attendance/1.1.0.yaml
  attendance-policy fmt --check rules/

Keeps comments, key order, quotes, anchors and aliases, block texts and blank lines;
changes indentation and spacing only. A file is written only when the engine reads
the same policy from it before and after. Released versions (versions.lock) are
never rewritten.

exit status: 0 formatted (or already), 1 --check found files to reformat,
2 a file could not be formatted (not safely, or it is a released version)"""


def register(sub: Any) -> None:
    f = sub.add_parser("facts", help="list every fact a policy may use: type, allowed values, default, meaning",
                       description="List every session fact from schemas/session-facts.schema.json.",
                       epilog=_EPILOG_FACTS, formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    f.set_defaults(func=cmd_facts)
    m = sub.add_parser("fmt", help="put policy files in the canonical layout (comments kept)",
                       description="Rewrite policy files in the one canonical layout, or check that they are.",
                       epilog=_EPILOG_FMT, formatter_class=argparse.RawDescriptionHelpFormatter)
    m.add_argument("paths", nargs="*", metavar="PATH", help="policy files or rules directories (default: ./rules)")
    m.add_argument("--check", action="store_true", help="change nothing; exit 1 listing the files that would change")
    m.add_argument("--diff", action="store_true", help="also print what would change, as a unified diff")
    m.set_defaults(func=cmd_fmt)
