"""Replaying logged traffic through two versions (`diff --log`) against deciding the same facts with evaluate().

Writes N decisions (realistic clinic traffic, redacted as the service redacts)
to a fresh SQLite decision log, then, side by side in one run:

- baseline: `Engine.evaluate()` of each logged facts document on both versions
  (two decisions per record, the memo on, as the service decides);
- replay from memory: engine.impact.traffic.replay_traffic over the same cases
  (two decisions per record, plus comparing and grouping them);
- replay from the log: the same, reading the records through DecisionStore.query
  page by page (api/log/traffic.py), as `diff --log` does.

Reports records per second for each and the ratios against the baseline.
Run: python bench/replay_bench.py [--n N]
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from common import ROOT, arg_n, realistic_facts, write_result

from api.log.redaction import redact
from api.log.sqlite import SQLiteStore
from api.log.store import LogEntry
from api.log.traffic import logged_cases
from engine import Engine, PolicySet
from engine.impact.traffic import TrafficCase, replay_traffic
from engine.policy.loader import load_policy, load_policy_text

REDACT = ("session.scheduled_start",)  # the service's default
BATCH = 2_000


def versions() -> tuple[Any, Any]:
    """1.0.0 and a 1.1.0 that lowers the review threshold (3 -> 2)."""
    old = load_policy(ROOT / "rules" / "couples-attendance" / "1.0.0.yaml")
    text = old.source_text.replace("version: 1.0.0\n", "version: 1.1.0\n", 1).replace(
        'effective_from: "2026-01-01"', 'effective_from: "2026-02-01"', 1).replace(
        "changelog:\n", 'changelog:\n  - {version: 1.1.0, date: "2026-02-01", changes: Review from 2.}\n', 1).replace(
        "review_after_consecutive_missed: 3", "review_after_consecutive_missed: 2")
    return old, load_policy_text(text, "couples-attendance/1.1.0.yaml")


def write_log(path: Path, engine: Engine, facts: list[dict[str, Any]]) -> None:
    store = SQLiteStore(str(path))
    store.migrate()
    try:
        for start in range(0, len(facts), BATCH):
            entries = []
            for f in facts[start:start + BATCH]:
                f["session"]["scheduled_start"] = "2026-11-02T09:00:00Z"
                d = engine.evaluate(f, version="1.0.0")
                logged_facts, logged = redact(f, d.to_dict(), REDACT)
                entries.append(LogEntry(d.decision_id, d.evaluated_at, d.policy.id, d.policy.version, d.policy.sha256,
                                        d.session_id, "bench", str(uuid.uuid4()), logged_facts, logged))
            store.append(entries)
    finally:
        store.close()


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    n = arg_n(100_000)
    old, new = versions()
    engine = Engine(PolicySet.build([old, new], isolate=False))
    facts = realistic_facts(n)
    with tempfile.TemporaryDirectory(prefix="replay-bench-") as tmp:
        db = Path(tmp) / "decisions.sqlite3"
        write_log(db, engine, facts)
        store = SQLiteStore(str(db))
        cases: list[TrafficCase] = list(logged_cases(store))
        sets = (PolicySet.build([old], isolate=False), PolicySet.build([new], isolate=False))
        deciders = (sets[0].decider(old.key), sets[1].decider(new.key))

        def baseline() -> None:
            for c in cases:
                engine.evaluate(c.facts, version="1.0.0")
                engine.evaluate(c.facts, version="1.1.0")

        def from_memory() -> None:
            replay_traffic(old, new, deciders, cases, source="memory")

        def from_log() -> None:
            replay_traffic(old, new, deciders, logged_cases(store), source=str(db))

        runs: dict[str, list[float]] = {"baseline": [], "memory": [], "log": []}
        for _ in range(3):  # interleaved, so that the machine's load falls on all three alike
            for name, fn in (("baseline", baseline), ("memory", from_memory), ("log", from_log)):
                runs[name].append(_timed(fn))
        report = replay_traffic(old, new, deciders, logged_cases(store), source=str(db))
        store.close()
        for s in sets:
            s.close()
    best = {k: min(v) for k, v in runs.items()}
    rate = {k: round(n / v) for k, v in best.items()}
    result = {"n": n, "records_per_second": rate, "seconds": {k: round(v, 3) for k, v in best.items()},
              "median_seconds": {k: round(statistics.median(v), 3) for k, v in runs.items()},
              "ratio_memory_vs_evaluate": round(best["memory"] / best["baseline"], 2),
              "ratio_log_vs_evaluate": round(best["log"] / best["baseline"], 2),
              "replayed": report.replayed, "changed": report.changed}
    print(f"n={n}: evaluate() x2 {rate['baseline']:,} records/s | replay from memory {rate['memory']:,}/s "
          f"(x{result['ratio_memory_vs_evaluate']}) | replay from the SQLite log {rate['log']:,}/s "
          f"(x{result['ratio_log_vs_evaluate']}) | {report.changed:,} of {report.replayed:,} would change")
    path = write_result("replay_bench", {"goal": "replay costs little more than the decisions", "results": result})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
