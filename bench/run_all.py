"""Run every benchmark in turn (`make bench`); `--smoke` runs each with a tiny N (used by the test suite)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

FULL = [
    ["engine_overhead.py"],
    ["scaling.py"],
    ["http_bench.py"],
    ["idle_cost.py"],
    ["memory.py"],
    ["peers.py"],
    ["peer_facts_check.py"],
    ["tooling.py"],
    ["gate_cost.py"],
    ["replicas_bench.py"],
    ["replay_bench.py"],
]
SMOKE = [
    ["engine_overhead.py", "--n", "200"],
    ["scaling.py", "--n", "50"],
    ["http_bench.py", "--seconds", "1", "--rounds", "1", "--items", "20", "--connections", "2"],
    ["idle_cost.py", "--n", "50", "--rounds", "1"],
    ["memory.py", "--n", "400"],
    ["peers.py", "--n", "200"],
    ["peer_facts_check.py", "--n", "200"],
    ["tooling.py", "--repeat", "1"],
    ["gate_cost.py", "--repeat", "1", "--smoke"],
    ["replicas_bench.py", "--seconds", "1", "--rounds", "1", "--connections", "2"],
    ["replay_bench.py", "--n", "300"],
]


def main() -> int:
    plan = SMOKE if "--smoke" in sys.argv else FULL
    failed = []
    for args in plan:
        print(f"== {' '.join(args)}", flush=True)
        if subprocess.run([sys.executable, str(HERE / args[0]), *args[1:]], cwd=HERE, check=False).returncode:
            failed.append(args[0])
    print(f"{len(plan) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
