"""The policy lifecycle through the Flask test client: hot reload, the poller, removed files, convergence, status.

Pins and scheduled activation are in test_api_lifecycle_pins.py; the fixtures (`rules`, `clock`,
`make`) are in conftest.py, the helpers in support/lifecycle.py.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from support.lifecycle import activate, lifecycle, reload, status, version_of, write_version
from support.live import wait_for
from support.metrics import sample
from support.openapi import response_errors
from support.service import auth, decide, facts


def test_reload_while_requests_flow(make: Callable[..., Flask], rules: Path) -> None:
    app = make()
    results: list[tuple[bool, int, str | None]] = []  # (sent after the swap, status, version)
    swapped, stop = threading.Event(), threading.Event()

    def flow(n: int) -> None:
        client = app.test_client()
        i = 0
        while not stop.is_set():
            after = swapped.is_set()
            resp = client.post("/v1/decisions", json={"facts": facts(f"flow-{n}-{i}")}, headers=auth("evaluate"))
            body = resp.get_json() or {}
            results.append((after, resp.status_code, body.get("policy", {}).get("version")))
            i += 1

    threads = [threading.Thread(target=flow, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(results) >= 60, "decisions before the reload")
        write_version(rules, "1.1.0")
        outcome = reload(app.test_client())
        swapped.set()
        wait_for(lambda: sum(1 for a, _, _ in results if a) >= 60, "decisions after the reload")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert (outcome["outcome"], outcome["added"], outcome["active"]) == (
        "reloaded", ["couples-attendance@1.1.0"], {"couples-attendance": "1.1.0"})
    assert {s for _, s, _ in results} == {200}  # zero failed requests
    assert {v for _, _, v in results} == {"1.0.0", "1.1.0"}  # each from exactly one version
    assert {v for a, _, v in results if a} == {"1.1.0"}  # after the swap only the new one
    assert lifecycle(app).live.pending() == 0


def test_a_broken_file_dropped_in_changes_nothing_and_shows_in_status(make: Callable[..., Flask],
                                                                     rules: Path) -> None:
    app = make()
    client = app.test_client()
    before = decide(client)
    lifecycle(app).poller.start()  # the poller, every 50 ms
    bad = write_version(rules, "1.1.0", broken=True)
    error = wait_for(lambda: status(client)["workers"][0]["last_error"], "the poller to refuse the file")
    (problem,) = error["problems"]
    assert (problem["code"], problem["file"], error["trigger"]) == ("unknown_fact", str(bad), "poll")
    assert problem["line"] > 100 and "did you mean 'clinical.safety_concern'" in problem["message"]
    after = decide(client)
    assert after["policy"] == before["policy"] and after["recommendations"] == before["recommendations"]
    assert client.get("/readyz").status_code == 200  # the good set still serves: ready
    for _ in range(3):
        lifecycle(app).tick()  # a refused file is not retried until the files change again
    assert status(client)["workers"][0]["reloads"]["failed"] == 1
    metrics = client.get("/metrics", headers=auth("admin")).get_data(as_text=True)
    assert sample(metrics, "attendance_policy_reloads_total", outcome="failed", trigger="poll") == 1
    write_version(rules, "1.1.0")  # fixed: the poller loads it
    wait_for(lambda: version_of(client) == "1.1.0", "the fixed file to be loaded")
    assert status(client)["workers"][0]["last_error"] is None
    lifecycle(app).poller.stop()


def test_removing_the_active_or_the_pinned_file_is_refused(make: Callable[..., Flask], rules: Path) -> None:
    newer = write_version(rules, "1.1.0")
    older = rules / "couples-attendance" / "1.0.0.yaml"
    client = make().test_client()
    newer.unlink()
    problem = reload(client, 422)
    assert problem["code"] == "reload_failed"
    assert [(p["code"], p["file"]) for p in problem["problems"]] == [("active_version_removed", str(newer))]
    assert version_of(client) == "1.1.0"  # still loaded, still served
    write_version(rules, "1.1.0")
    activate(client, "1.0.0")
    saved = older.read_bytes()
    older.unlink()
    assert [p["code"] for p in reload(client, 422)["problems"]] == ["pinned_version_removed"]
    older.write_bytes(saved)
    newer.unlink()  # 1.0.0 is pinned, so 1.1.0 is not active: it may go
    assert reload(client)["removed"] == ["couples-attendance@1.1.0"]
    assert [v["version"] for v in status(client)["workers"][0]["versions"]] == ["1.0.0"]


def test_a_worker_that_has_not_converged_makes_readyz_fail(make: Callable[..., Flask], rules: Path,
                                                           tmp_path: Path) -> None:
    board = tmp_path / "shared"
    app = make({"server": {"metrics_dir": str(board)}, "policies": {"stale_after_ms": 1000}})
    client = app.test_client()
    old = status(client)["workers"][0]
    write_version(rules, "1.1.0")
    reload(client)
    laggard = {**old, "pid": 424242, "heartbeat_at": dt.datetime.now(dt.UTC).isoformat()}
    (board / "lifecycle" / "424242.json").write_text(json.dumps(laggard))
    seen = status(client)
    assert [(w["pid"], w["converged"]) for w in seen["workers"]][-1] == (424242, False)
    assert client.get("/readyz").status_code == 200  # not stale yet
    lifecycle(app).wall = lambda: time.time() + 5  # later than stale_after
    ready = client.get("/readyz").get_json()
    assert ready["status"] == 503 and "worker 424242 serves policy set" in ready["checks"]["policies"]
    assert "424242" in " ".join(status(client)["problems"])


def test_a_new_worker_adopts_the_newest_good_set_even_when_the_files_broke_since(
        make: Callable[..., Flask], rules: Path, tmp_path: Path) -> None:
    board = {"server": {"metrics_dir": str(tmp_path / "shared")}}
    first, late = make(board), make(board)  # `late` stands for a worker forked from the master's old set
    write_version(rules, "1.1.0")
    reload(first.test_client())
    write_version(rules, "1.1.0", broken=True)  # then a bad edit lands
    lifecycle(late).tick("start")  # adopts the newest good set; sees the edit
    lifecycle(late).tick()  # the edit has held still for a poll: tried now, and refused
    client = late.test_client()
    assert version_of(client) == "1.1.0"
    worker = status(client)["workers"][0]
    assert worker["fingerprint"] == status(first.test_client())["newest_good_set"]["fingerprint"]
    assert [p["code"] for p in worker["last_error"]["problems"]] == ["unknown_fact"]
    metrics = client.get("/metrics", headers=auth("admin")).get_data(as_text=True)
    assert sample(metrics, "attendance_policy_reloads_total", outcome="reloaded", trigger="adopt") == 1


def test_responses_match_the_openapi_document(make: Callable[..., Flask], rules: Path) -> None:
    client = make().test_client()
    write_version(rules, "1.1.0", broken=True)
    responses = [("/v1/admin/reload", "post", client.post("/v1/admin/reload", headers=auth("admin")))]
    write_version(rules, "1.1.0")
    responses.append(("/v1/admin/reload", "post", client.post("/v1/admin/reload", headers=auth("admin"))))
    for body in ({"version": "1.0.0"}, {"version": "9.0.0"}, {"version": 1}):
        responses.append(("/v1/admin/policies/{policy_id}/activate", "post",
                          client.post("/v1/admin/policies/couples-attendance/activate", json=body,
                                      headers=auth("admin"))))
    responses += [("/v1/status", "get", client.get("/v1/status", headers=auth("audit"))),
                  ("/v1/policies/{policy_id}", "get", client.get("/v1/policies/couples-attendance", headers=auth("audit")))]
    assert [r.status_code for _, _, r in responses] == [422, 200, 200, 404, 400, 200, 200]
    doc = client.get("/openapi.json").get_json()
    for template, method, resp in responses:
        assert response_errors(doc, template, method, resp.status_code, resp.mimetype, resp.get_json()) == [], template
