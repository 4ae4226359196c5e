"""The policy set an Engine serves, swapped whole; old rulesets freed only once no request can still use them.

`Engine.evaluate` reads `engine.policies` once per call, so a swap is atomic for
every request: it finishes on the set it started with. Freeing is epoch based:
each swap bumps a generation; a request holds a lease stamped with the
generation it began in; a compiled version that left the current set at
generation `r` is freed only when no lease older than `r` is left (any request
that might have read it began before `r`). Freeing under a running evaluation
would make the engine answer from an empty ruleset, so it never happens.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from engine.compile.ruleset import CompiledPolicy
from engine.runtime.engine import Engine
from engine.runtime.registry import PolicySet

__all__ = ["LivePolicies"]


class LivePolicies:
    """Swaps an Engine's PolicySet and frees what the old set alone held, when it is safe."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.generation = 0
        self._lock = threading.Lock()
        self._leases: dict[int, int] = {}  # generation a lease began in -> how many are open
        self._retired: list[tuple[int, CompiledPolicy]] = []  # (generation it left the current set, version)

    @property
    def current(self) -> PolicySet:
        return self.engine.policies

    def acquire(self) -> int:
        """Begin a lease: nothing current now is freed until it is released."""
        with self._lock:
            gen = self.generation
            self._leases[gen] = self._leases.get(gen, 0) + 1
            return gen

    def release(self, gen: int) -> None:
        with self._lock:
            left = self._leases[gen] - 1
            if left:
                self._leases[gen] = left
            else:
                del self._leases[gen]
            freeable = self._freeable()
        _close(freeable)

    def swap(self, make: Callable[[PolicySet], PolicySet]) -> PolicySet:
        """Replace the current set by `make(current)` (called under the lock); returns the new set.

        `make` may raise to abandon the swap; then nothing changes.
        """
        with self._lock:
            old = self.engine.policies
            new = make(old)
            if new is old:
                return old
            kept = {id(c) for c in new.compiled.values()}
            self.engine.policies = new
            self.generation += 1
            self._retired += [(self.generation, c) for c in old.compiled.values() if id(c) not in kept]
            freeable = self._freeable()
        _close(freeable)
        return new

    def set_pins(self, pins: Mapping[str, str]) -> PolicySet:
        """Apply admin pins (no-op when they are already the current ones)."""
        wanted = dict(pins)
        return self.swap(lambda cur: cur if dict(cur.pins) == wanted else cur.with_pins(wanted))

    def pending(self) -> int:
        """Compiled versions retired but not yet freed (a request that began before their swap is running)."""
        with self._lock:
            return len(self._retired)

    def _freeable(self) -> list[CompiledPolicy]:
        oldest = min(self._leases, default=None)
        free = [c for r, c in self._retired if oldest is None or oldest >= r]
        self._retired = [(r, c) for r, c in self._retired if not (oldest is None or oldest >= r)]
        return free

    def close(self) -> None:
        """Free everything (process exit): the current set and anything still retired."""
        with self._lock:
            rest = [c for _, c in self._retired]
            self._retired = []
        _close(rest)
        self.engine.policies.close()


def _close(compiled: list[CompiledPolicy]) -> None:
    for c in compiled:
        c.close()
