"""POST /v1/admin/reload never compiles on the request's thread: the answer comes within policies.reload_wait_ms."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from support.lifecycle import lifecycle, status, write_version
from support.openapi import response_errors
from support.service import auth


def test_a_reload_that_takes_longer_than_the_wait_answers_202_and_goes_on(make: Callable[..., Flask],
                                                                         rules: Path) -> None:
    app = make({"policies": {"reload_wait_ms": 50}})
    client = app.test_client()
    write_version(rules, "1.1.0")
    busy = lifecycle(app)._reload_lock  # another reload (e.g. the poller's) holds the lock meanwhile
    busy.acquire()
    try:
        answer = client.post("/v1/admin/reload", headers=auth("admin"))
        assert answer.status_code == 202 and answer.headers["Location"] == "/v1/status"
        body = answer.get_json()
        assert body["status"] == "pending" and body["watch"] == "/v1/status"
        doc = client.get("/openapi.json").get_json()
        assert response_errors(doc, "/v1/admin/reload", "post", 202, "application/json", body) == []
        assert status(client)["workers"][0]["last_reload"] is None  # not done yet, and the request is over
    finally:
        busy.release()
    done = threading.Event()
    for _ in range(400):
        last = status(client)["workers"][0]["last_reload"]
        if last is not None:
            done.set()
            break
        done.wait(0.025)
    assert done.is_set() and last["trigger"] == "api" and last["added"] == ["couples-attendance@1.1.0"]


def test_a_quick_reload_answers_with_its_result(make: Callable[..., Flask], rules: Path) -> None:
    client = make().test_client()
    write_version(rules, "1.1.0")
    answer = client.post("/v1/admin/reload", headers=auth("admin"))
    assert answer.status_code == 200 and answer.get_json()["added"] == ["couples-attendance@1.1.0"]


def test_the_reload_runs_on_the_reload_thread_not_the_request_thread(make: Callable[..., Flask], rules: Path,
                                                                      monkeypatch) -> None:
    app = make()
    seen: list[str] = []
    real = lifecycle(app).reload

    def spy(*args, **kwargs):
        seen.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(lifecycle(app), "reload", spy)
    write_version(rules, "1.1.0")
    assert app.test_client().post("/v1/admin/reload", headers=auth("admin")).status_code == 200
    assert len(seen) == 1 and seen[0].startswith("policy-reload") and seen[0] != threading.current_thread().name
