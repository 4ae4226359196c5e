#!/usr/bin/env python3
"""Hostile policy files against `attendance-policy validate`: each refused with a clear error, in bounded memory.

The cases and their measurement are in tests/support/hostile_policies.py (the test suite runs
them too): each case is validated by the real CLI in a child process, whose exit status,
first error line, wall time and peak RSS are reported. The bundled rules are measured the
same way as a baseline.

    .venv/bin/python scripts/hostile_policies.py            # table
    .venv/bin/python scripts/hostile_policies.py --json     # machine-readable
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the project, and tests/support
from support.hostile_policies import CASES, MARKER, baseline, run_case  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--case", action="append", help="run only these cases (repeatable)")
    args = parser.parse_args(argv)
    cases = [c for c in CASES if not args.case or c.name in args.case]
    with tempfile.TemporaryDirectory(prefix="hostile-policies-") as tmp:
        results = [baseline()] + [run_case(c, Path(tmp)) for c in cases]
    marker = Path("/tmp") / MARKER
    if args.json:
        print(json.dumps([asdict(r) for r in results] + [{"marker_created": marker.exists()}], indent=2))
    else:
        print(f"{'case':22} {'exit':>4} {'seconds':>8} {'peak RSS MB':>11}  first error")
        for r in results:
            print(f"{r.name:22} {r.exit_code:>4} {r.seconds:>8.2f} {r.peak_rss_mb:>11.1f}  {r.first_error[-110:]}")
        print(f"python tag executed: {marker.exists()}")

    failed = [r.name for r in results[1:] if not r.ok] + (["python_tags (marker)"] if marker.exists() else [])
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
