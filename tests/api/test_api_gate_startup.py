"""Start-up goes through the same gate as a reload: a refused file costs its own version, the others serve."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask import Flask

from api.app import create_app
from api.state import state_of
from engine.core.errors import PolicyLoadError
from support.lifecycle import write_version
from support.policies import DEFAULT_POLICY
from support.service import KEYS, TOKENS, facts


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules" / "couples-attendance"
    folder.mkdir(parents=True)
    shutil.copy(DEFAULT_POLICY, folder / "1.0.0.yaml")
    write_version(tmp_path / "rules", "1.1.0", "2026-02-01", broken=True)  # names an unknown fact
    return tmp_path / "rules"


def _app(tmp_path: Path, rules: Path, **policies: object) -> Flask:
    return create_app({"policies": {"rules": [str(rules)], "poll_interval_ms": 0, **policies},
                       "decision_log": {"path": str(tmp_path / "d.sqlite3")}, "keys": KEYS})


def test_a_refused_file_does_not_stop_the_start_and_the_good_versions_serve(tmp_path, rules):
    app = _app(tmp_path, rules)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {TOKENS['all']}"}
    decided = client.post("/v1/decisions", json={"facts": facts()}, headers=auth)
    assert decided.status_code == 200 and decided.get_json()["policy"]["version"] == "1.0.0"
    status = client.get("/v1/status", headers=auth).get_json()
    refused = status["refused"]
    assert [p["code"] for p in refused] == ["unknown_fact"]
    assert refused[0]["file"].endswith("couples-attendance/1.1.0.yaml") and refused[0]["line"] > 1
    assert status["workers"][0]["last_error"]["trigger"] == "start"
    assert client.get("/readyz").status_code == 200  # the admitted versions serve: ready
    metrics = client.get("/metrics", headers=auth).get_data(as_text=True)
    assert 'attendance_policy_reloads_total{outcome="failed",trigger="start"} 1' in metrics
    state_of(app).close()


def test_a_refused_file_is_not_retried_until_it_changes_and_then_it_serves(tmp_path, rules):
    app = _app(tmp_path, rules)
    lifecycle = state_of(app).lifecycle
    assert lifecycle.reload("poll", force=False) is None  # the poller: nothing changed since start-up
    write_version(rules, "1.1.0", "2026-02-01")  # fixed
    outcome = lifecycle.reload("poll", force=False)
    assert outcome is not None and outcome.outcome == "reloaded" and outcome.added == ["couples-attendance@1.1.0"]
    assert lifecycle.last_error is None
    state_of(app).close()


def test_strict_refuses_to_start_with_every_problem(tmp_path, rules):
    with pytest.raises(PolicyLoadError) as info:
        _app(tmp_path, rules, strict=True)
    assert [p.code for p in info.value.problems] == ["unknown_fact"]


def test_nothing_admitted_is_a_start_failure_that_lists_the_refusals(tmp_path, rules):
    (rules / "couples-attendance" / "1.0.0.yaml").unlink()
    with pytest.raises(PolicyLoadError) as info:
        _app(tmp_path, rules)
    assert info.value.problems[0].file.endswith("1.1.0.yaml")
