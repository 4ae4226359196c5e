"""`attendance-policy replay DECISION_ID`: same (0), different (1), not replayable (2)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from engine.cli.main import main
from support.lifecycle import write_version
from support.service import decide, facts

# The fixtures `rules` (a rules directory) and `make` (apps over it) are the lifecycle tests', in conftest.py.

Replay = Callable[..., tuple[int, str, str]]


@pytest.fixture
def replay(capsys: pytest.CaptureFixture[str], rules: Path) -> Replay:
    def run(decision_id: str, db: Path, *extra: str) -> tuple[int, str, str]:
        code = main(["replay", decision_id, "--database", str(db), "--rules", str(rules), *extra])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _logged(make: Callable[..., Flask], db: Path, body: dict[str, Any], config: dict[str, Any] | None = None) -> str:
    return str(decide(make(config, db=db).test_client(), body)["decision_id"])


def _edit(db: Path, decision_id: str, change: Callable[[dict[str, Any]], None]) -> None:
    conn = sqlite3.connect(db)
    try:
        decision = json.loads(conn.execute("SELECT decision FROM decisions WHERE decision_id = ?",
                                           (decision_id,)).fetchone()[0])
        change(decision)
        conn.execute("UPDATE decisions SET decision = ? WHERE decision_id = ?", (json.dumps(decision), decision_id))
        conn.commit()
    finally:
        conn.close()


@pytest.mark.parametrize("body", [
    {"facts": facts("r-1")},  # session.scheduled_start is redacted, but the policy does not read it
    {"facts": facts("r-2", clinical={"safety_concern": True}), "explain": True},
    {"facts": facts("r-3", plan={"discharge_in_days": 7}), "version": "1.0.0"},
])
def test_a_logged_decision_replays_the_same(make: Callable[..., Flask], replay: Replay, tmp_path: Path,
                                            body: dict[str, Any]) -> None:
    db = tmp_path / "log.sqlite3"
    decision_id = _logged(make, db, body)
    code, out, _ = replay(decision_id, db)
    assert (code, out.splitlines()[0].endswith(": same")) == (0, True)
    code, out, _ = replay(decision_id, db, "--json")
    assert (code, json.loads(out)["outcome"], json.loads(out)["diff"]) == (0, "same", [])


def test_a_different_result_is_shown_as_a_diff(make: Callable[..., Flask], replay: Replay,
                                               tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite3"
    decision_id = _logged(make, db, {"facts": facts("r-4")})

    def tamper(decision: dict[str, Any]) -> None:
        decision["recommendations"].pop()
        decision["recommendations"][0]["indicator"] = "critical"

    _edit(db, decision_id, tamper)
    code, out, _ = replay(decision_id, db)
    assert code == 1 and out.splitlines()[0].endswith(": different")
    assert '.indicator: logged "critical", replayed "info"' in out
    assert "only in the replay" in out


def test_not_replayable(make: Callable[..., Flask], replay: Replay, rules: Path, tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite3"
    write_version(rules, "1.1.0")
    decision_id = _logged(make, db, {"facts": facts("r-5")})
    newer = rules / "couples-attendance" / "1.1.0.yaml"
    newer.write_text(newer.read_text().replace("Test version 1.1.0.", "Edited after the decision."))
    code, out, _ = replay(decision_id, db)
    assert code == 2 and "the file changed since" in out
    newer.unlink()
    code, out, _ = replay(decision_id, db)
    assert code == 2 and "version 1.1.0 of 'couples-attendance' is not in the rules" in out
    code, _, err = replay("no-such-decision", db)
    assert code == 2 and "no decision 'no-such-decision'" in err
    code, _, err = replay(decision_id, tmp_path / "missing.sqlite3")
    assert code == 2 and "no decision log at" in err


def test_a_redacted_fact_the_policy_reads_cannot_be_replayed(make: Callable[..., Flask], replay: Replay,
                                                            tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite3"
    decision_id = _logged(make, db, {"facts": facts("r-6")}, {"decision_log": {"redact": ["attendance.absence_reason"]}})
    code, out, _ = replay(decision_id, db)
    assert code == 2
    assert "redacted attendance.absence_reason, which couples-attendance@1.0.0 reads" in out
    assert "cannot be replayed exactly" in out


def test_replay_reads_the_service_configuration(make: Callable[..., Flask], rules: Path,
                                                tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "log.sqlite3"
    decision_id = _logged(make, db, {"facts": facts("r-7")})
    config = tmp_path / "service.toml"
    config.write_text(f'[policies]\nrules = ["{rules}"]\n[decision_log]\npath = "{db.name}"\n')
    assert main(["replay", decision_id, "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith(f"decision {decision_id} (couples-attendance@1.0.0, sha256 ")
