"""Fixtures for the decision service tests: one engine, apps built on it, keys per role."""

from __future__ import annotations

import copy
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
