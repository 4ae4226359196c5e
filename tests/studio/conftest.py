"""Fixtures for the studio: an app over two versions of the bundled policy (with and without keys), a live server."""

from __future__ import annotations

import datetime as dt
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
from support.live import LiveServer, serving
from support.service import KEYS
from support.studio import two_versions


@pytest.fixture(scope="module")
def studio_rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_versions(tmp_path_factory.mktemp("studio"))


@pytest.fixture(scope="module")
def studio_engine(studio_rules: Path) -> Iterator[Engine]:
    """1.0.0 and 1.1.0 loaded; on 2026-06-01 1.1.0 (from February) is active."""
    policies = PolicySet.build(load_rules([studio_rules]), isolate=False)
    yield Engine(policies, clock=lambda: dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC))
    policies.close()


@pytest.fixture
def make_studio(tmp_path: Path, studio_rules: Path, studio_engine: Engine) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def make(*, keys: bool = False, **config: Any) -> Flask:
        base: dict[str, Any] = {"policies": {"rules": [str(studio_rules)]},
                                "decision_log": {"path": str(tmp_path / f"log{len(apps)}.sqlite3")}, **config}
        if keys:
            base["keys"] = KEYS
        app = create_app(base, engine=studio_engine)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["attendance_policy"].close()


@pytest.fixture
def studio(make_studio: Callable[..., Flask]) -> FlaskClient:
    """The studio without keys: open to loopback callers (the test client is 127.0.0.1)."""
    return make_studio().test_client()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, studio_rules: Path) -> Iterator[LiveServer]:
    """A real `attendance-policy serve` over the two versions, without keys (loopback)."""
    with serving(tmp_path_factory.mktemp("live"), tokens={}, workers=1, rules=[studio_rules]) as server:
        yield server


@pytest.fixture(scope="module")
def keyed_live(tmp_path_factory: pytest.TempPathFactory, studio_rules: Path) -> Iterator[LiveServer]:
    """The same with keys: one per role (support.live.make_tokens), so the studio asks for one."""
    with serving(tmp_path_factory.mktemp("keyed"), workers=1, rules=[studio_rules]) as server:
        yield server
