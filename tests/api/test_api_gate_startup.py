"""Start-up goes through the same gate as a reload: a refused file costs its own version, the others serve."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from flask import Flask

from api.app import create_app
from api.state import state_of
from engine.core.errors import PolicyLoadError
from engine.policy.loader import load_rules
from engine.runtime.reload import FileMoving, scan
from support.lifecycle import activate, status, version_text, write_version
from support.metrics import sample
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
    assert sample(metrics, "attendance_policy_reloads_total", outcome="failed", trigger="start") == 1
    state_of(app).close()


def test_a_refused_file_is_not_retried_until_it_changes_and_then_it_serves(tmp_path, rules):
    app = _app(tmp_path, rules)
    lifecycle = state_of(app).lifecycle
    assert lifecycle.reload("poll", force=False) is None  # the poller: nothing changed since start-up
    write_version(rules, "1.1.0", "2026-02-01")  # fixed
    assert lifecycle.reload("poll", force=False) is None  # changed since the last poll: wait until it holds still
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


def test_a_version_written_in_two_parts_is_served_only_once_complete(tmp_path):
    folder = tmp_path / "rules" / "couples-attendance"
    folder.mkdir(parents=True)
    shutil.copy(DEFAULT_POLICY, folder / "1.0.0.yaml")
    app = _app(tmp_path, tmp_path / "rules")
    lifecycle = state_of(app).lifecycle
    full = version_text("1.1.0", "2026-02-01")
    cut = full.rindex("\n  - id: ")  # the first part ends before the last rule: valid, but a rule short
    target = folder / "1.1.0.yaml"
    target.write_text(full[:cut] + "\n")
    assert lifecycle.reload("poll", force=False) is None  # just changed: wait
    target.write_text(full)  # the second part lands before the next poll
    assert lifecycle.reload("poll", force=False) is None  # changed again: wait again
    assert lifecycle.live.current.policy_ids() and "couples-attendance@1.1.0" not in lifecycle.live.current.compiled
    outcome = lifecycle.reload("poll", force=False)  # held still for a poll: used
    assert outcome is not None and outcome.outcome == "reloaded"
    served = lifecycle.live.current.compiled["couples-attendance@1.1.0"].policy
    assert served.sha256 == hashlib.sha256(full.encode()).hexdigest()
    assert len(served.rules) == len(lifecycle.live.current.compiled["couples-attendance@1.0.0"].policy.rules)
    state_of(app).close()


def test_a_file_that_changes_while_it_is_read_is_not_used(tmp_path):
    folder = tmp_path / "rules" / "couples-attendance"
    folder.mkdir(parents=True)
    shutil.copy(DEFAULT_POLICY, folder / "1.0.0.yaml")
    disk = scan([tmp_path / "rules"])
    (folder / "1.0.0.yaml").write_text(DEFAULT_POLICY.read_text() + "# a later write\n")
    with pytest.raises(FileMoving) as info:
        disk.refuse_moved(load_rules([tmp_path / "rules"]))
    assert info.value.problems[0].file.endswith("1.0.0.yaml")
    assert "rename it into place" in info.value.problems[0].message


def test_status_shows_a_pin_that_holds_back_a_version_whose_date_has_come(make, rules):
    write_version(rules, "1.1.0", "2026-02-01")  # in effect: the test clock reads 2026-06-01
    client = make().test_client()
    assert status(client)["policies"][0]["held_back"] is None
    activate(client, "1.0.0")
    held = status(client)["policies"][0]["held_back"]
    assert held == ("the pin to 1.0.0 holds back 1.1.0, in effect since 2026-02-01: unpin when the new version "
                    "may serve")
    activate(client, None)
    assert status(client)["policies"][0]["held_back"] is None


def test_validate_warns_of_a_pin_in_the_decision_log_that_holds_back_a_version(make, rules, capsys):
    from engine.cli.main import main

    write_version(rules, "1.1.0", "2026-02-01")  # its date has come, by the test clock and by today's
    app = make()
    database = state_of(app).settings.database
    assert main(["validate", str(rules), "--database", database]) == 0
    assert "holds back" not in capsys.readouterr().err  # no pin yet
    activate(app.test_client(), "1.0.0")
    assert main(["validate", str(rules), "--database", database]) == 0  # a pin is deliberate: a warning
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and warnings[0].startswith(
        "warning: couples-attendance: the pin to 1.0.0 holds back 1.1.0, in effect since 2026-02-01: unpin when the "
        "new version may serve (pinned by ")
    assert main(["validate", str(rules), "--database", str(Path(database).with_name("absent.sqlite3"))]) == 0
    assert "warning:" not in capsys.readouterr().err  # no log there: no pins, and nothing created
    assert not Path(database).with_name("absent.sqlite3").exists()


@pytest.mark.parametrize("content, expected", [
    (b"not a database at all" * 100, "file is not a database"),
    (None, "no such table: policy_activations"),  # a SQLite file that is not a decision log
])
def test_validate_says_when_the_pins_cannot_be_read_and_still_validates(tmp_path, capsys, content, expected):
    import sqlite3

    from engine.cli.main import main

    database = tmp_path / "other.sqlite3"
    if content is None:
        with sqlite3.connect(database) as conn:
            conn.execute("CREATE TABLE unrelated (a)")
    else:
        database.write_bytes(content)
    assert main(["validate", str(DEFAULT_POLICY), "--database", str(database)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: the pins cannot be read (decision-log): {database}: ")
    assert expected in warnings[0]
