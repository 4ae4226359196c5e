"""Each worker's policy poller thread, its SIGHUP handler, and what a new gunicorn worker does first."""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Protocol

from api.lifecycle.states import Trigger

__all__ = ["Poller", "Ticks"]

log = logging.getLogger("attendance_policy.lifecycle")


class Ticks(Protocol):
    """What the poller drives (api.lifecycle.manager.Lifecycle)."""

    def tick(self, trigger: Trigger = "poll", *, force: bool = False) -> None:
        """One round: pins, the other workers' newest set, the files."""

    def forked(self) -> None:
        """This process is a new gunicorn worker: forget what the master counted."""


class Poller:
    """Runs `tick` every poll interval, or at once when asked (SIGHUP, the API's fan-out)."""

    def __init__(self, owner: Ticks, interval_s: float) -> None:
        self.owner = owner
        self.interval_s = interval_s
        self.master_pid: int | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._trigger: Trigger | None = None
        self._thread: threading.Thread | None = None
        self._sighup = False

    def request(self, trigger: Trigger) -> None:
        """Ask for a round now (called from the SIGHUP handler: it only sets an event)."""
        self._trigger = trigger
        self._wake.set()

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="policy-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._sighup and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a late SIGHUP must not re-enter the event's lock
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self._thread = None

    def _run(self) -> None:
        interval = self.interval_s or None
        while not self._stop.is_set():
            woken = self._wake.wait(interval)
            if self._stop.is_set():
                return
            self._wake.clear()
            trigger, self._trigger = self._trigger or "poll", None
            try:  # asked (SIGHUP, the API) means now; the catch-up at start and a poll wait for files to settle
                self.owner.tick(trigger, force=woken and trigger != "start")
            except Exception:  # the poller must survive anything; the error is in the log
                log.exception("policy poll failed")

    def after_fork(self, master_pid: int) -> None:
        """In a new gunicorn worker: serve at once, and catch up with the changes since the master loaded.

        The catch-up (the other workers' newest set, the files) runs in the poller thread, so a new or
        replaced worker serves the master's set within moments however long compiling takes.
        """
        self.master_pid = master_pid
        self.owner.forked()
        self._thread = None  # the master never runs one; nothing to join
        self.request("start")
        self.start()

    def install_sighup(self) -> None:
        """In a gunicorn worker, after gunicorn reset the signal handlers: SIGHUP means reload now."""
        signal.signal(signal.SIGHUP, lambda signum, frame: self.request("sighup"))
        self._sighup = True

    def fan_out(self) -> None:
        """Ask the master to have every worker reload (it forwards SIGHUP to each)."""
        if self.master_pid is not None:
            try:
                os.kill(self.master_pid, signal.SIGHUP)
            except OSError as e:
                log.warning("cannot signal the master (%s): the other workers reload at their next poll", e)
