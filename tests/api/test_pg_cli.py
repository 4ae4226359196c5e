"""`attendance-policy db upgrade|status|copy|purge` and `replay` on a PostgreSQL log (and the SQLite file)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from api.log.postgres import PostgresStore
from api.log.postgres_schema import MIGRATIONS, SCHEMA_VERSION
from api.log.sqlite import SQLiteStore
from api.log.store import LogEntry, Query
from engine.cli.main import main
from support.pg import Cluster
from support.service import decide, facts


def _entry(i: int) -> LogEntry:
    return LogEntry(f"d-{i}", f"2026-0{1 + i % 6}-01T12:00:00.{i:06d}Z", "p", "1.0.0", "0" * 64, f"s-{i % 4}", "k",
                    f"r-{i}", {"session": {"id": f"s-{i % 4}"}, "note": "é ✓"}, {"decision_id": f"d-{i}", "n": i})


@pytest.fixture
def sqlite_log(tmp_path: Path) -> Path:
    """An SQLite log with decisions (one batch failed, leaving a gap in seq), a pin and its history."""
    path = tmp_path / "log.sqlite3"
    store = SQLiteStore(str(path))
    store.migrate()
    store.append([_entry(i) for i in range(30)])
    with pytest.raises(Exception):  # noqa: B017 - any store error: a duplicate fails the whole batch
        store.append([_entry(99), _entry(1)])
    store.append([_entry(i) for i in range(30, 45)])
    store.set_pin("p", "1.0.0", "admin", "r-pin")
    store.set_pin("q", "2.0.0", "admin", "r-pin2")
    store.set_pin("q", None, "admin", "r-unpin")
    store.close()
    return path


def _records(store: SQLiteStore | PostgresStore) -> list[dict[str, object]]:
    return [r.to_dict() for r in store.query(Query(limit=1000)).records]


def test_copy_moves_every_row_unchanged_and_verifies(sqlite_log: Path, pg_url: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "copy", "--from", str(sqlite_log), "--to", pg_url]) == 0
    out = capsys.readouterr().out
    assert "decisions: 45 rows" in out and "policy_activations: 3 rows" in out and out.count("verified") == 6
    source, target = SQLiteStore(str(sqlite_log)), PostgresStore(pg_url)
    try:
        assert _records(target) == _records(source)
        assert target.pins() == source.pins() and target.activations("q") == source.activations("q")
        target.append([_entry(100)])  # new rows carry on after the copied seqs
        assert target.get("d-100").seq == source.get("d-44").seq + 1  # type: ignore[union-attr]
    finally:
        source.close()
        target.close()
    assert main(["db", "copy", "--from", str(sqlite_log), "--to", pg_url]) == 2  # never into a database with rows
    assert "already holds 46 rows in decisions" in capsys.readouterr().err


def test_status_and_upgrade(pg_url: str, pg_cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "status", "--url", pg_url, "--json"]) == 0
    fresh = json.loads(capsys.readouterr().out)
    assert fresh["schema_version"] == 0 and len(fresh["pending"]) == SCHEMA_VERSION and fresh["fsync"] == "on"
    assert main(["db", "upgrade", "--url", pg_url]) == 0
    names = ", ".join(f"{m.version:04d}_{m.name}" for m in MIGRATIONS)
    assert names.startswith("0001_decisions, 0002_pins, 0003_replicas")
    assert capsys.readouterr().out.endswith(f"applied {names}; schema version {SCHEMA_VERSION}\n")
    assert main(["db", "upgrade", "--url", pg_url]) == 0
    assert "nothing to apply" in capsys.readouterr().out
    assert main(["db", "status", "--url", pg_url, "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert (done["schema_version"], done["pending"], done["decisions"]) == (SCHEMA_VERSION, [], 0)
    assert "@" in done["where"] and ":" not in done["where"].split("@")[0].removeprefix("postgresql://")
    pg_cluster.sql(f"INSERT INTO schema_migrations VALUES ({SCHEMA_VERSION + 1}, 'later', 'x')",
                   pg_url.rsplit("/", 1)[1])
    assert main(["db", "upgrade", "--url", pg_url]) == 2
    assert "upgrade the service, do not downgrade the log" in capsys.readouterr().err


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_purge_deletes_what_is_older_than_the_date(backend: str, sqlite_log: Path, pg_url: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--database", str(sqlite_log)]
    if backend == "postgres":
        assert main(["db", "copy", "--from", str(sqlite_log), "--to", pg_url]) == 0
        where = ["--url", pg_url]
    capsys.readouterr()
    assert main(["db", "purge", "--before", "2026-03-01", *where]) == 0
    assert "deleted 16 decisions evaluated before 2026-03-01T00:00:00Z" in capsys.readouterr().out
    assert main(["db", "purge", "--before", "March", *where]) == 2
    assert "give a date" in capsys.readouterr().err


def test_replay_reads_a_postgres_log(make: Callable[..., Flask], rules: Path, pg_url: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    client = make({"decision_log": {"url": pg_url}}).test_client()
    decision_id = decide(client, {"facts": facts("r-pg")})["decision_id"]
    assert main(["replay", decision_id, "--url", pg_url, "--rules", str(rules)]) == 0
    assert capsys.readouterr().out.startswith(f"decision {decision_id} (couples-attendance@1.0.0, sha256 ")
    assert main(["replay", "nope", "--url", pg_url, "--rules", str(rules)]) == 2
    assert "no decision 'nope' in postgresql://" in capsys.readouterr().err


def test_diff_log_re_decides_a_postgres_log(make: Callable[..., Flask], rules: Path, pg_url: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`diff --log postgresql://...`: the replicas' shared log is traffic like an SQLite file."""
    from support.lifecycle import version_text

    client = make({"decision_log": {"url": pg_url}}).test_client()
    ids = [decide(client, {"facts": {"session": {"id": f"dl-{missed}", "type": "couples"},
                                     "attendance": {"partners_present": 1},
                                     "history": {"consecutive_joint_sessions_missed": missed}}})["decision_id"]
           for missed in (0, 2)]
    lowered = version_text("1.1.0").replace("review_after_consecutive_missed: 3", "review_after_consecutive_missed: 2")
    (rules / "couples-attendance" / "1.1.0.yaml").write_text(lowered, encoding="utf-8")
    code = main(["diff", "couples-attendance@1.0.0", "couples-attendance@1.1.0", "--rules", str(rules),
                 "--log", pg_url, "--format", "json"])
    traffic = json.loads(capsys.readouterr().out)["traffic"]
    assert code == 0 and (traffic["read"], traffic["replayed"], traffic["changed"]) == (2, 2, 1)
    assert [g["decision_ids"] for g in traffic["groups"] if g["kind"] == "added"] == [[ids[1]]]
