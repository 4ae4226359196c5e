"""The policy lifecycle through the Flask test client: hot reload, the poller, pins, scheduled activation, status."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from test_api_openapi import response_validator

from api import create_app
from api.lifecycle.manager import Lifecycle
from engine.policy.loader import load_rules
from engine.runtime.engine import Engine
from engine.runtime.registry import PolicySet
from support.service import KEYS, RULES, auth, decide, facts

SOURCE = Path(RULES, "couples-attendance", "1.0.0.yaml").read_text(encoding="utf-8")
POLICY = "/v1/policies/couples-attendance"


def version_text(version: str, effective: str = "2026-01-01", *, broken: bool = False) -> str:
    """The bundled policy as another version (with its changelog entry); `broken` names an unknown fact."""
    text = SOURCE.replace("version: 1.0.0\n", f"version: {version}\n", 1)
    text = text.replace('effective_from: "2026-01-01"', f'effective_from: "{effective}"', 1)
    text = text.replace("changelog:\n", f'changelog:\n  - version: {version}\n    date: "{effective}"\n'
                                        f"    changes: Test version {version}.\n", 1)
    return text.replace("fact: clinical.safety_concern,", "fact: clinical.safety_concerns,", 1) if broken else text


def write_version(rules: Path, version: str, effective: str = "2026-01-01", *, broken: bool = False) -> Path:
    path = rules / "couples-attendance" / f"{version}.yaml"
    path.write_text(version_text(version, effective, broken=broken), encoding="utf-8")
    return path


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll until `condition()` is truthy (no timing assertion: only a generous deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


class Clock:
    """A settable clock (UTC)."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


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


def lifecycle(app: Flask) -> Lifecycle:
    return app.extensions["attendance_policy"].lifecycle  # type: ignore[no-any-return]


def version_of(client: FlaskClient, **body: Any) -> str:
    return str(decide(client, {"facts": facts(), **body})["policy"]["version"])


def status(client: FlaskClient) -> dict[str, Any]:
    resp = client.get("/v1/status", headers=auth("evaluate"))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def reload(client: FlaskClient, expect: int = 200) -> dict[str, Any]:
    resp = client.post("/v1/admin/reload", headers=auth("admin"))
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def activate(client: FlaskClient, version: str | None, expect: int = 200, policy: str = "couples-attendance",
             role: str = "admin") -> dict[str, Any]:
    resp = client.post(f"/v1/admin/policies/{policy}/activate", json={"version": version}, headers=auth(role))
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


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
    assert 'attendance_policy_reloads_total{outcome="failed",trigger="poll"} 1' in metrics.splitlines()
    write_version(rules, "1.1.0")  # fixed: the poller loads it
    wait_for(lambda: version_of(client) == "1.1.0", "the fixed file to be loaded")
    assert status(client)["workers"][0]["last_error"] is None
    lifecycle(app).poller.stop()


def test_a_scheduled_version_becomes_active_at_its_date(make: Callable[..., Flask], rules: Path,
                                                       clock: Clock) -> None:
    write_version(rules, "1.1.0", effective="2026-07-01")
    client = make().test_client()
    clock.now = dt.datetime(2026, 6, 30, 23, 59, 59, tzinfo=dt.UTC)
    assert version_of(client) == "1.0.0"
    policy = client.get(POLICY, headers=auth("evaluate")).get_json()
    assert (policy["active_version"], policy["scheduled_version"], policy["pin"]) == ("1.0.0", "1.0.0", None)
    clock.now = dt.datetime(2026, 7, 1, 0, 0, tzinfo=dt.UTC)
    assert version_of(client) == "1.1.0"  # no reload: the date passed
    assert client.get(POLICY, headers=auth("evaluate")).get_json()["active_version"] == "1.1.0"
    worker = status(client)["workers"][0]
    assert (worker["generation"], worker["active"]) == (0, {"couples-attendance": "1.1.0"})


def test_pin_and_unpin(make: Callable[..., Flask], rules: Path) -> None:
    write_version(rules, "1.1.0")
    client = make().test_client()
    assert version_of(client) == "1.1.0"
    pinned = activate(client, "1.0.0")
    assert (pinned["active_version"], pinned["scheduled_version"], pinned["pin"]["version"],
            pinned["pin"]["pinned_by"]) == ("1.0.0", "1.1.0", "1.0.0", "admin")
    assert version_of(client) == "1.0.0"  # rolled back
    assert version_of(client, version="1.1.0") == "1.1.0"  # a request that names a version still gets it
    policy = client.get(POLICY, headers=auth("audit")).get_json()
    assert (policy["active_version"], policy["pin"]["version"]) == ("1.0.0", "1.0.0")
    assert [v["active"] for v in policy["versions"]] == [True, False]
    assert activate(client, None)["pin"] is None
    assert version_of(client) == "1.1.0"
    history = status(client)["policies"][0]["activations"]
    assert [(a["version"], a["key_id"]) for a in history] == [(None, "admin"), ("1.0.0", "admin")]


@pytest.mark.parametrize(("policy", "body", "role", "status_code", "code"), [
    ("couples-attendance", {"version": "1.0.1"}, "admin", 404, "unknown_policy_version"),
    ("couple-attendance", {"version": "1.0.0"}, "admin", 404, "unknown_policy"),
    ("couples-attendance", {}, "admin", 400, "invalid_request"),
    ("couples-attendance", {"version": "latest"}, "admin", 400, "invalid_request"),
    ("couples-attendance", {"version": "1.0.0"}, "evaluate", 403, "forbidden"),
])
def test_activate_refuses(make: Callable[..., Flask], policy: str, body: dict[str, Any], role: str,
                          status_code: int, code: str) -> None:
    client = make().test_client()
    resp = client.post(f"/v1/admin/policies/{policy}/activate", json=body, headers=auth(role))
    assert (resp.status_code, resp.get_json()["code"]) == (status_code, code)
    assert status(client)["policies"][0]["pin"] is None


def test_a_pin_holds_in_every_worker_and_after_a_restart(make: Callable[..., Flask], rules: Path,
                                                         tmp_path: Path) -> None:
    write_version(rules, "1.1.0")
    db = tmp_path / "shared.sqlite3"
    one, two = make(db=db).test_client(), make(db=db).test_client()
    assert version_of(two) == "1.1.0"
    activate(one, "1.0.0")
    assert version_of(two) == "1.0.0"  # the other worker's very next request
    restarted = make(db=db).test_client()
    assert version_of(restarted) == "1.0.0"
    assert restarted.get(POLICY, headers=auth("evaluate")).get_json()["pin"]["pinned_by"] == "admin"
    activate(two, None)
    assert version_of(one) == version_of(restarted) == "1.1.0"


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


def test_a_pin_whose_file_went_missing_refuses_decisions_until_unpinned(make: Callable[..., Flask], rules: Path,
                                                                         tmp_path: Path) -> None:
    newer = write_version(rules, "1.1.0")
    db = tmp_path / "shared.sqlite3"
    activate(make(db=db).test_client(), "1.1.0")
    newer.unlink()  # while the service was stopped
    client = make(db=db).test_client()
    resp = client.post("/v1/decisions", json={"facts": facts()}, headers=auth("evaluate"))
    assert (resp.status_code, resp.get_json()["code"]) == (503, "pinned_version_unavailable")
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "pinned to 1.1.0" in ready.get_json()["checks"]["policies"]
    assert status(client)["converged"] is False
    activate(client, None)
    assert version_of(client) == "1.0.0" and client.get("/readyz").status_code == 200


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
    lifecycle(late).tick("start")
    client = late.test_client()
    assert version_of(client) == "1.1.0"
    worker = status(client)["workers"][0]
    assert worker["fingerprint"] == status(first.test_client())["newest_good_set"]["fingerprint"]
    assert [p["code"] for p in worker["last_error"]["problems"]] == ["unknown_fact"]
    metrics = client.get("/metrics", headers=auth("admin")).get_data(as_text=True).splitlines()
    assert 'attendance_policy_reloads_total{outcome="reloaded",trigger="adopt"} 1' in metrics


def _valid(client: FlaskClient, template: str, method: str, resp: Any) -> list[str]:
    doc = client.get("/openapi.json").get_json()
    validator = response_validator(doc, template, method, resp.status_code, resp.mimetype)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(resp.get_json())]


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
                  ("/v1/policies/{policy_id}", "get", client.get(POLICY, headers=auth("audit")))]
    assert [r.status_code for _, _, r in responses] == [422, 200, 200, 404, 400, 200, 200]
    for template, method, resp in responses:
        assert _valid(client, template, method, resp) == [], template
