"""Interleaved timing: every contender runs once per round, in a rotating order, so that a load
that comes and goes on a shared machine falls on all of them alike; the median round is reported.
Time is this process's CPU time (all its threads): on a machine other jobs share, wall time also
counts the time the scheduler gave them, and it swings 2-5x from one second to the next."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Contender", "cpu_per_call_us", "interleaved"]

Contender = tuple[Callable[[Any], Any], Sequence[Any]]  # (one call, the items it is called on)


def _mean_us(fn: Callable[[Any], Any], items: Sequence[Any]) -> float:
    start = time.process_time()
    for x in items:
        fn(x)
    return (time.process_time() - start) / len(items) * 1e6


def interleaved(contenders: dict[str, Contender], rounds: int = 5) -> dict[str, dict[str, float]]:
    """{name: {"median_us", "min_us"}} over `rounds` rounds of one pass each, the order rotated per round."""
    names = list(contenders)
    runs: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn, items = contenders[name]
            runs[name].append(_mean_us(fn, items))
    return {n: {"median_us": round(statistics.median(v), 1), "min_us": round(min(v), 1)} for n, v in runs.items()}


def cpu_per_call_us(fn: Callable[[Any], Any], items: Sequence[Any], repeat: int = 3) -> float:
    """common.per_call_us in CPU time: the median over `repeat` passes of the mean per call."""
    items = list(items)
    return statistics.median(_mean_us(fn, items) for _ in range(repeat))
