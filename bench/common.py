"""Shared helpers for the benchmarks: realistic facts, timing, JSON results."""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the project, and tests/support

REASONS = ["none", "scheduling_conflict", "work", "caregiving", "emotional_overwhelm", "needs_individual_work_first",
           "early_recovery_stabilization", "temporary_conflict", "separation", "declined", "illness", "unknown"]


def generated_facts(n: int, seed: int = 1) -> list[dict[str, Any]]:
    """Uniformly random valid facts (many fields sent): the worst case for the memo."""
    from support.factgen import random_facts

    rng = random.Random(seed)
    return [random_facts(rng, i) for i in range(n)]


def realistic_facts(n: int, seed: int = 2) -> list[dict[str, Any]]:
    """Traffic shaped like a clinic's: most sessions attended, few flags set, opaque unique ids."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        facts: dict[str, Any] = {"session": {"id": f"sess-{i:07d}", "type": rng.choices(
            ["couples", "individual", "group"], [6, 3, 1])[0]}}
        if rng.random() < 0.3:
            facts["attendance"] = {"partners_present": rng.choice([0, 1, 1, 1]),
                                   "absence_reason": rng.choice(REASONS[1:])}
        if rng.random() < 0.1:
            facts["clinical"] = {rng.choice(["safety_concern", "emotions_too_heightened", "relapse_since_last_session",
                                             "both_ready_for_deep_work"]): True}
        if rng.random() < 0.3:
            facts["history"] = {"consecutive_joint_sessions_missed": rng.choice([0, 0, 1, 2, 3]),
                                "program_days_this_week": rng.choice([2, 3, 4, 5])}
        if rng.random() < 0.2:
            facts["preferences"] = {"makeup_session_requested": rng.random() < 0.5,
                                    "absent_partner_wants_summary": rng.random() < 0.5}
        out.append(facts)
    return out


def per_call_us(fn: Callable[[Any], Any], items: Iterable[Any], repeat: int = 3) -> float:
    """Median over `repeat` runs of the mean time per call, in microseconds."""
    items = list(items)
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for x in items:
            fn(x)
        runs.append((time.perf_counter() - start) / len(items) * 1e6)
    return statistics.median(runs)


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}


def write_result(name: str, data: dict[str, Any]) -> Path:
    folder = Path(os.environ.get("BENCH_RESULTS", RESULTS))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **data}, indent=2) + "\n")
    return path


def arg_n(default: int) -> int:
    """`--n N` from the command line (the smoke test passes a tiny N)."""
    if "--n" in sys.argv:
        return int(sys.argv[sys.argv.index("--n") + 1])
    return default
