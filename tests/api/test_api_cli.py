"""`attendance-policy keys new|hash` and the checks `serve` makes before it listens."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import pytest

from api.config.coerce import parse_keys
from engine.cli.main import main
from support.service import RULES


def test_keys_new_prints_a_key_and_a_matching_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "new", "--id", "scheduler", "--role", "evaluate", "--role", "audit"]) == 0
    out = capsys.readouterr().out
    token = re.search(r"(apk_\S+)", out).group(1)  # type: ignore[union-attr]
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert f'sha256 = "{digest}"' in out and 'roles = ["audit", "evaluate"]' in out
    assert len(token) >= 40
    env = out.split("ATTENDANCE_POLICY_KEYS='")[1].rstrip().rstrip("'")
    keys, problem = parse_keys(env, from_env=True)
    assert problem == "" and keys[0].sha256 == digest


def test_keys_new_refuses_a_bad_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "new", "--id", "no spaces"]) == 2
    assert "id must be 1-64 letters" in capsys.readouterr().err


@pytest.mark.parametrize(("stdin", "status", "out"), [
    ("apk_" + "a" * 40 + "\n", 0, hashlib.sha256(("apk_" + "a" * 40).encode()).hexdigest() + "\n"),
    ("short\n", 2, ""),
    ("", 2, ""),
])
def test_keys_hash_reads_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str,
                               status: int, out: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(["keys", "hash"]) == status
    captured = capsys.readouterr()
    assert captured.out == out
    if status:
        assert "at least 32 characters" in captured.err


def test_serve_refuses_a_public_address_without_keys(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ATTENDANCE_POLICY_RULES", RULES)
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "refusing to serve 0.0.0.0 without API keys" in err and "--allow-unauthenticated" in err
    assert err.rstrip().endswith("1 error occurred")


def test_serve_lists_every_configuration_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[server]\nworkers = 0\nprot = 1\n[decision_log]\nredact = ["nope.x"]\n')
    assert main(["serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "0 is less than the minimum of 1 (at server.workers)" in err
    assert "did you mean 'port'? (at server.prot)" in err
    assert "unknown fact 'nope.x'" in err
    assert "3 errors occurred" in err


def test_serve_reports_a_broken_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules" / "p"
    rules.mkdir(parents=True)
    (rules / "1.0.0.yaml").write_text("policy: p\nversion: 1.0.0\n")
    config = tmp_path / "c.yaml"
    config.write_text(f"policies:\n  rules: [{tmp_path / 'rules'}]\ndecision_log:\n  path: {tmp_path / 'l.db'}\n")
    assert main(["serve", "--config", str(config)]) == 2
    assert "1.0.0.yaml" in capsys.readouterr().err
