"""Concurrent evaluations in one process give exactly the right answers."""

from __future__ import annotations

import random
import threading

from engine.decide.reference import holds
from engine.facts.prepare import prepare_facts
from support.factgen import random_facts


def test_threads_with_mixed_facts_get_exactly_their_own_answers(engine, default_policy):
    rng = random.Random(7)
    cases = [random_facts(rng, i) for i in range(400)]
    expected = [sorted(r.id for r in default_policy.rules if holds(r.when, prepare_facts(f))) for f in cases]
    assert len({tuple(e) for e in expected}) > 50  # the cases really differ
    errors: list[str] = []
    barrier = threading.Barrier(8)

    def worker(offset: int) -> None:
        barrier.wait()
        for k in range(600):
            i = (offset * 53 + k) % len(cases)
            d = engine.evaluate(cases[i])
            if sorted(d.fired) != expected[i] or d.session_id != cases[i]["session"]["id"]:
                errors.append(f"case {i}: {sorted(d.fired)} != {expected[i]}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
