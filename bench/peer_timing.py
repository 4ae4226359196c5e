"""Interleaved timing: every contender runs once per round, in a rotating order, so that a load
that comes and goes on a shared machine falls on all of them alike; the median round is reported."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Contender", "interleaved"]

Contender = tuple[Callable[[Any], Any], Sequence[Any]]  # (one call, the items it is called on)


def _mean_us(fn: Callable[[Any], Any], items: Sequence[Any]) -> float:
    start = time.perf_counter()
    for x in items:
        fn(x)
    return (time.perf_counter() - start) / len(items) * 1e6


def interleaved(contenders: dict[str, Contender], rounds: int = 5) -> dict[str, dict[str, float]]:
    """{name: {"median_us", "min_us"}} over `rounds` rounds of one pass each, the order rotated per round."""
    names = list(contenders)
    runs: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn, items = contenders[name]
            runs[name].append(_mean_us(fn, items))
    return {n: {"median_us": round(statistics.median(v), 1), "min_us": round(min(v), 1)} for n, v in runs.items()}
