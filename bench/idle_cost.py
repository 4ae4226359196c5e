"""What a block costs the Python that runs after it: `evaluate()` back to back vs right after an fsync or a sleep.

A served decision waits for its fsync (0.13-0.17 ms here), for the writer lock, for the GIL;
the bare endpoint never waits. This measures what that does to the code that runs next, on
the same realistic facts, with nothing else changed: each mode times one `Engine.evaluate()`
per iteration, the block (if any) happening just before it and outside the timed part, in
interleaved rounds. The figure is each mode's median time per decision, wall and CPU
(`time.thread_time`), and its ratio to back to back: how much slower the same Python runs
right after the CPU had nothing to do (caches and branch predictors cold, on a VM an exit to
the host). docs/performance.md section 3 uses it to explain why a served request costs a
multiple of the same work run in a loop.
Run: python bench/idle_cost.py [--n 2000] [--rounds 5] [--dir DIR: where the fsynced file lives, default the
     system's temporary directory]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

from common import ROOT, arg_n, realistic_facts, write_result

from engine.runtime.engine import load_engine

SLEEP_S = 0.00015  # about one fsync's wall time on this machine kind


def _arg(name: str, default: str) -> str:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def main() -> None:
    n, rounds = arg_n(2000), int(_arg("--rounds", "5"))
    engine = load_engine(str(ROOT / "rules"))
    facts = realistic_facts(n, seed=5)
    for f in facts:  # warm: compiled rules, the memo as a served worker has it after a while
        engine.evaluate(f)
    fd, path = tempfile.mkstemp(dir=_arg("--dir", tempfile.gettempdir()), prefix="idle-cost-")
    page = b"\0" * 4096

    def fsync() -> None:
        os.pwrite(fd, page, 0)
        os.fsync(fd)

    modes: dict[str, Callable[[], object] | None] = {
        "back to back": None,
        "after an fsync": fsync,
        f"after a {SLEEP_S * 1e6:.0f} µs sleep": lambda: time.sleep(SLEEP_S),
    }
    wall: dict[str, list[float]] = {m: [] for m in modes}
    cpu: dict[str, list[float]] = {m: [] for m in modes}
    try:
        for _ in range(rounds):
            for mode, block in modes.items():
                w_total = c_total = 0.0
                for f in facts:
                    if block is not None:
                        block()
                    c0, w0 = time.thread_time(), time.perf_counter()
                    engine.evaluate(f)
                    w_total += time.perf_counter() - w0
                    c_total += time.thread_time() - c0
                wall[mode].append(w_total / n * 1e6)
                cpu[mode].append(c_total / n * 1e6)
    finally:
        os.close(fd)
        os.unlink(path)
    base_wall, base_cpu = statistics.median(wall["back to back"]), statistics.median(cpu["back to back"])
    results = {}
    for mode in modes:
        w, c = statistics.median(wall[mode]), statistics.median(cpu[mode])
        results[mode] = {"wall_us": round(w, 1), "cpu_us": round(c, 1), "wall_ratio": round(w / base_wall, 2),
                         "cpu_ratio": round(c / base_cpu, 2)}
        print(f"{mode:22s} evaluate() {w:6.1f} µs wall (x{w / base_wall:.2f})  {c:6.1f} µs CPU (x{c / base_cpu:.2f})")
    print(f"(median of {rounds} interleaved rounds of {n} realistic decisions each; the block is not timed)")
    print(f"wrote {write_result('idle_cost', {'n': n, 'rounds': rounds, 'results': results})}")


if __name__ == "__main__":
    main()
