"""The app's state and its accessor: what views read, without importing the factory (no import cycle)."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask, current_app

from api.config.settings import Settings
from api.http.auth import KeyRing
from api.http.metrics import Metrics
from api.lifecycle.manager import Lifecycle
from api.log.groupcommit import GroupCommit
from api.log.store import DecisionStore, LogEntry
from engine.runtime.engine import Engine

__all__ = ["EXTENSION", "AppState", "state", "state_of"]

EXTENSION = "attendance_policy"


@dataclass
class AppState:
    """Everything a view needs, built once per app (the engine is prepared, never reloaded per request)."""

    settings: Settings
    engine: Engine
    store: DecisionStore
    keys: KeyRing
    metrics: Metrics
    lifecycle: Lifecycle
    committer: GroupCommit[LogEntry] = field(init=False)

    def __post_init__(self) -> None:
        self.committer = GroupCommit(self.store.append)

    def close(self) -> None:
        """Stop this process's policy threads and close its decision-log connection."""
        self.lifecycle.close()
        try:
            self.metrics.flush()  # a recycled worker's last counts reach the master
        except OSError:
            pass
        self.store.close()


def state() -> AppState:
    """The running app's state (views and request hooks read it here, never from the factory's module)."""
    return state_of(current_app)  # type: ignore[arg-type]


def state_of(app: Flask) -> AppState:
    """An app's state outside a request (the gunicorn hooks, tests)."""
    return app.extensions[EXTENSION]  # type: ignore[no-any-return]
