"""Benchmark 1 (engine_overhead.py) in CPU time: the same quantities, each the median of 3 passes of
this process's CPU time, so that a shared machine's other jobs do not enter the ratios; the result
goes to bench/results/engine_overhead_cpu.json. Run: python bench/peer_overhead.py [--n N]
"""

from __future__ import annotations

from typing import Any

import engine_overhead
from common import write_result
from peer_timing import cpu_per_call_us


def _write(name: str, data: dict[str, Any]) -> Any:
    return write_result(f"{name}_cpu", data)


if __name__ == "__main__":
    engine_overhead.per_call_us = cpu_per_call_us
    engine_overhead.write_result = _write
    engine_overhead.main()
