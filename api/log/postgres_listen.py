"""LISTEN for pin changes on a connection of its own, so a pin made on any replica is seen at once.

The thread only sets a flag; `PostgresStore.pins_version` reads the database when the flag
is set, and at least every `RECHECK_S` anyway (the poll fallback: a notification lost
while reconnecting, or a listener that cannot connect, costs at most that long).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import psycopg

__all__ = ["CHANNEL", "PinsListener"]

CHANNEL = "attendance_policy_pins"
log = logging.getLogger("attendance_policy.store")


class PinsListener:
    """A daemon thread LISTENing on CHANNEL; `take()` says whether anything changed since the last call."""

    def __init__(self, url: str, connect: dict[str, Any]) -> None:
        self.url = url
        self.connect = connect
        self._changed = threading.Event()
        self._changed.set()  # nothing seen yet
        self._stop = threading.Event()
        self.connected = False
        self._thread = threading.Thread(target=self._run, name="pins-listener", daemon=True)
        self._thread.start()

    def take(self) -> bool:
        """True (once) when a notification came, or the listener (re)connected, since the last call."""
        if self._changed.is_set():
            self._changed.clear()
            return True
        return False

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, **self.connect) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected, failures = True, 0
                    self._changed.set()  # whatever happened while not listening
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5):
                            self._changed.set()
            except psycopg.Error as e:
                if failures == 0:
                    log.warning("pin notifications unavailable (%s): polling the pins meanwhile", e)
                failures += 1
            self.connected = False
            self._stop.wait(0.5)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=3)
