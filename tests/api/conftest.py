"""Fixtures for the decision service tests: one engine, apps built on it, keys per role; for the lifecycle tests,
a rules directory of their own, a settable clock and apps that each stand for one worker."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from engine.policy.loader import load_rules
from engine.runtime.engine import Engine
from engine.runtime.registry import PolicySet
from support.lifecycle import Clock, lifecycle
from support.service import KEYS, RULES, StepClock


@pytest.fixture(scope="session")
def api_engine() -> Iterator[Engine]:
    policies = PolicySet.build(load_rules([RULES]), isolate=False)
    yield Engine(policies, clock=StepClock())
    policies.close()


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@pytest.fixture
def make_app(tmp_path: Path, api_engine: Engine) -> Iterator[Callable[..., Flask]]:
    """Build apps on the shared engine, each with its own decision log; closed afterwards."""
    apps: list[Flask] = []

    def make(config: dict[str, Any] | None = None, *, keys: bool = True) -> Flask:
        base: dict[str, Any] = {"policies": {"rules": [RULES]},
                                "decision_log": {"path": str(tmp_path / f"log{len(apps)}.sqlite3")}}
        if keys:
            base["keys"] = KEYS
        app = create_app(_merge(base, config or {}), engine=api_engine)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["attendance_policy"].close()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def open_client(make_app: Callable[..., Flask]) -> FlaskClient:
    """A server without keys (authentication off, loopback only)."""
    return make_app(keys=False).test_client()


# -- the policy lifecycle ---------------------------------------------------------------------------


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    """A rules directory with the bundled 1.0.0 (no version lock, so files may come and go)."""
    folder = tmp_path / "rules" / "couples-attendance"
    folder.mkdir(parents=True)
    shutil.copy(Path(RULES, "couples-attendance", "1.0.0.yaml"), folder)
    return tmp_path / "rules"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make(tmp_path: Path, rules: Path, clock: Clock) -> Iterator[Callable[..., Flask]]:
    """Apps (each like one worker, with its own engine) over `rules`; a shared database when `db` is given."""
    apps: list[Flask] = []

    def build(config: dict[str, Any] | None = None, *, db: Path | None = None) -> Flask:
        engine = Engine(PolicySet.build(load_rules([rules]), isolate=False), clock=clock)
        base: dict[str, Any] = {"policies": {"rules": [str(rules)], "poll_interval_ms": 50},
                                "decision_log": {"path": str(db or tmp_path / f"log{len(apps)}.sqlite3")},
                                "keys": KEYS}
        for section, values in (config or {}).items():
            base.setdefault(section, {}).update(values)
        app = create_app(base, engine=engine)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["attendance_policy"].close()
        lifecycle(app).live.close()
