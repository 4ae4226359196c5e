"""Fixtures of the reliability suite: one real gunicorn server for the whole session (and more like it), an
in-process app."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from support.live import LiveServer, serving
from support.service import RULES, TOKENS

# gunicorn's silent-worker timeout on the live server, short so that a slow client meets the request deadline
# (half of it: 2 s, api/gunicorn/worker.py) within a test's patience.
LIVE_TIMEOUT_S = 4


@pytest.fixture(scope="session")
def serve_like_live() -> Callable[..., AbstractContextManager[LiveServer]]:
    """`serving(directory, rules=..., ...)` with the options of `live`: the test keys, the short worker timeout."""
    return functools.partial(serving, tokens=TOKENS, server={"timeout": LIVE_TIMEOUT_S})


@pytest.fixture(scope="session")
def live(serve_like_live: Callable[..., AbstractContextManager[LiveServer]],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The bundled rules served by gunicorn (2 workers, max_requests 0: worker pids only change on a crash).

    Shared by the whole session, so no test may leave it changed: each test that uses it checks what
    it did itself (decision counts before and after, its own session ids), and `same_workers` sees that
    no worker died.
    """
    with serve_like_live(tmp_path_factory.mktemp("live"), rules=[RULES]) as server:
        yield server


@pytest.fixture
def same_workers(live: LiveServer) -> Iterator[list[int]]:
    """The workers before the test; after it they must be exactly the same processes."""
    before = live.worker_pids()
    assert len(before) == 2
    yield before
    assert live.worker_pids() == before, "a worker died or was replaced"


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
