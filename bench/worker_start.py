"""Benchmark 9: how soon the service serves with the largest rules set the loader accepts (goal: a few seconds).

Two rules folders, measured side by side in one run: the bundled policy alone (the
baseline), and the bundled policy beside one policy at each of the loader's caps
(bench/gate_cost.py's shapes: most rules, most paths, widest paths), every version one
the gate admits. For each, with `attendance-policy serve` on loopback, median of R runs:

- cold start: from starting `serve` until a decision is answered 200 (the master loads,
  gates and compiles every version, then forks);
- a replaced worker: one worker (`--workers 1`, so the next answer must come from the new
  one) is killed with SIGKILL; from the kill until a decision is answered 200 again by a
  worker with another pid. A forked worker inherits the master's compiled set, so this
  does not grow with the rules.

Run: python bench/worker_start.py [--repeat R] [--smoke]
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, write_result
from gate_cost import policy_text, shapes

from support.live import LiveServer, answers, serve_command, wait_for
from support.service import facts

GOAL_S = 3.0  # issue 12: "a new or replaced worker serves within a few seconds"


def rules_folder(base: Path, big: bool, smoke: bool) -> Path:
    folder = base / ("largest" if big else "bundled")
    (folder / "couples-attendance").mkdir(parents=True)
    shutil.copy(ROOT / "rules" / "couples-attendance" / "1.0.0.yaml", folder / "couples-attendance" / "1.0.0.yaml")
    for n, (rules, paths, extra) in enumerate(shapes().values() if big else []):
        rules = max(1, rules // 10) if smoke else rules
        text = policy_text(rules, paths, extra).replace("policy: big", f"policy: big-{n}")
        (folder / f"big-{n}").mkdir()
        (folder / f"big-{n}" / "1.0.0.yaml").write_text(text, encoding="utf-8")
    return folder


def _decided(server: LiveServer) -> int | None:
    reply = server.request("POST", "/v1/decisions", {"policy": "couples-attendance", "facts": facts("sess-bench")},
                           timeout=5)
    return reply.status


def cold_start(server: LiveServer) -> float:
    t0 = time.perf_counter()
    server.start(timeout=300, quiet=True)
    wait_for(lambda: _decided(server) == 200, "a decision", timeout=300, interval=0.01)
    return time.perf_counter() - t0


def replaced_worker(server: LiveServer) -> float:
    (old,) = server.worker_pids()
    t0 = time.perf_counter()
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: server.worker_pids() not in ([], [old]) and _safe(server) == 200, "a new worker's decision",
             timeout=300, interval=0.01)
    return time.perf_counter() - t0


def _safe(server: LiveServer) -> int | None:
    try:
        return _decided(server)
    except OSError:
        return None


def measure(folder: Path, work: Path, repeat: int) -> dict[str, float]:
    cold, replaced = [], []
    for i in range(repeat):
        server = LiveServer.create(work / f"{folder.name}-{i}", tokens={}, workers=1, rules=[folder])
        try:
            cold.append(cold_start(server))
            replaced.append(replaced_worker(server))
        finally:
            server.stop()
    return {"cold_start_s": statistics.median(cold), "replaced_worker_s": statistics.median(replaced)}


def main() -> None:
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    smoke = "--smoke" in sys.argv
    assert serve_command() and answers  # the live harness of tests/support
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        rows = {name: measure(rules_folder(base, big, smoke), base, repeat)
                for name, big in (("bundled policy (baseline)", False), ("bundled + the 3 largest accepted", True))}
    base_row = rows["bundled policy (baseline)"]
    print(f"{'rules folder':36} {'cold start':>11} {'x base':>7} {'replaced worker':>16} {'x base':>7}")
    for name, r in rows.items():
        print(f"{name:36} {r['cold_start_s']:10.2f}s {r['cold_start_s'] / base_row['cold_start_s']:7.1f} "
              f"{r['replaced_worker_s']:15.2f}s {r['replaced_worker_s'] / base_row['replaced_worker_s']:7.1f}")
    worst = max(r["replaced_worker_s"] for r in rows.values())
    print(f"a replaced worker serves after {worst:.2f} s at most (goal: within {GOAL_S:g} s: "
          f"{'met' if worst < GOAL_S else 'NOT met'}); a cold start gates every version first")
    write_result("worker_start", {"repeat": repeat, "smoke": smoke, "goal_s": GOAL_S, "rows": rows})


if __name__ == "__main__":
    main()
