#!/usr/bin/env python3
"""Contract fuzzing, long run: Schemathesis against a real `attendance-policy serve` on loopback.

Every operation of /openapi.json, positive and negative data, each case sent with a key that
has every role, without a key and with a wrong key (tests/support/fuzzchecks.py has the checks).
Bounded by `--examples` per operation and mode. Prints the figures (cases, requests, status
codes, failures) and exits 1 on any failure.

    .venv/bin/python scripts/fuzz_api.py                     # 300 examples per operation and mode
    .venv/bin/python scripts/fuzz_api.py --examples 50 --json
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the project, and tests/support
from support.fuzzchecks import config, exercise, runs  # noqa: E402
from support.live import LiveServer  # noqa: E402

WRONG = "apk_wrong_" + "f" * 43


def fuzz_operation(schema: Any, label: str, mode: Any, examples: int, token: str,
                   counts: collections.Counter[int]) -> tuple[int, str | None]:
    """Run one operation and mode; (cases sent, the failure found or None)."""
    cases = 0
    operation = schema.find_operation_by_label(label)

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        nonlocal cases
        case = data.draw(operation.as_strategy(generation_mode=mode))
        cases += 1
        counts.update(exercise(case, token, WRONG))

    try:
        run()
    except (Exception, BaseExceptionGroup) as e:  # Hypothesis re-raises the shrunk failure
        return cases, f"{type(e).__name__}: {str(e)[:2000]}"
    return cases, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=300, help="examples per operation and mode (default 300)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fuzz-api-") as tmp:
        server = LiveServer.create(Path(tmp)).start()
        try:
            with urllib.request.urlopen(f"{server.url}/openapi.json", timeout=30) as resp:
                doc = json.load(resp)
            schema = schemathesis.openapi.from_dict(doc, config=config(args.examples))
            schema.config.update(base_url=server.url)
            counts: collections.Counter[int] = collections.Counter()
            report = []
            for label, mode in runs(doc):
                cases, failure = fuzz_operation(schema, label, mode, args.examples, server.tokens["all"], counts)
                report.append({"operation": label, "mode": mode.value, "cases": cases, "failure": failure})
                if not args.json:
                    print(f"{label:52} {mode.value:9} {cases:6} cases  {'FAILED' if failure else 'ok'}", flush=True)
            workers_alive = len(server.worker_pids()) == server.worker_count
        finally:
            status = server.stop()
    total = sum(r["cases"] for r in report)
    summary = {
        "operations": len({r["operation"] for r in report}), "runs": len(report), "cases": total,
        "requests": sum(counts.values()), "status_codes": dict(sorted(counts.items())),
        "failures": [r for r in report if r["failure"]], "five_hundreds": sum(v for k, v in counts.items() if k >= 500),
        "workers_alive": workers_alive, "server_exit": status, "seconds": round(time.monotonic() - started, 1),
    }
    if args.json:
        print(json.dumps({"summary": summary, "runs": report}, indent=2))
    else:
        print(json.dumps(summary, indent=2))
        for r in summary["failures"]:
            print(f"\n--- {r['operation']} ({r['mode']})\n{r['failure']}")
    return 1 if summary["failures"] or summary["five_hundreds"] or not workers_alive else 0


if __name__ == "__main__":
    sys.exit(main())
