"""Fixtures of the reliability suite: one real gunicorn server for the whole session, an in-process app."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "api"), str(HERE.parent.parent / "scripts")]  # apihelpers, serve tests, scripts

from livehttp import start_server, stop_server  # noqa: E402
from test_api_serve import Server  # noqa: E402

from support.service import RULES  # noqa: E402


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The bundled rules served by gunicorn (2 workers, max_requests 0: worker pids only change on a crash)."""
    server = start_server(tmp_path_factory.mktemp("live"), rules=[RULES])
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
def same_workers(live: Server) -> Iterator[list[int]]:
    """The workers before the test; after it they must be exactly the same processes."""
    before = live.workers()
    assert len(before) == 2
    yield before
    assert live.workers() == before, "a worker died or was replaced"


@pytest.fixture(scope="session")
def rel_app(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An in-process app without keys (loopback callers are anonymous) on the session's engine."""
    from api import create_app

    directory = tmp_path_factory.mktemp("app")
    app = create_app({"policies": {"rules": [RULES]}, "decision_log": {"path": str(directory / "log.sqlite3")}},
                     engine=engine)
    yield app
    app.extensions["attendance_policy"].close()


@pytest.fixture
def app_client(rel_app: Flask) -> FlaskClient:
    return rel_app.test_client()
