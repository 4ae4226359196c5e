"""`eval` reads no more than one request body's worth of facts, from a file or standard input."""

from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from api.config.settings import Settings
from engine.cli.main import main
from engine.facts.strict_json import MAX_FACTS_BYTES
from support.policies import ROOT

CLI = Path(sys.executable).with_name("attendance-policy")
RULES = str(ROOT / "rules")
TOO_LARGE = (f"the facts are larger than the limit of {MAX_FACTS_BYTES} bytes (the service's "
             "limits.max_body_bytes default); give the facts of one session\n")
FACTS = {"session": {"id": "s-1", "type": "couples"}, "attendance": {"partners_present": 1}}


def _padded(size: int) -> bytes:
    """Valid facts JSON of exactly `size` bytes (whitespace after the object)."""
    body = json.dumps(FACTS).encode()
    return body + b" " * (size - len(body))


class _CountingStdin(io.BytesIO):
    """Standard input that remembers how much was asked of it."""

    asked = 0

    def read(self, n: int | None = -1) -> bytes:
        self.asked += (n if n is not None and n >= 0 else 1 << 62)
        return super().read(n)


def test_the_service_default_is_the_engine_limit() -> None:
    assert MAX_FACTS_BYTES == 64 * 1024
    assert Settings().max_body_bytes == MAX_FACTS_BYTES


def _no_memory_hog() -> None:
    # Without the limit, reading /dev/zero would take memory until this cap stops it (MemoryError, status 1).
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def test_dev_zero_is_refused_at_once() -> None:
    proc = subprocess.run([str(CLI), "eval", "/dev/zero", "--rules", RULES], capture_output=True, text=True,
                          timeout=120, preexec_fn=_no_memory_hog)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", f"/dev/zero: {TOO_LARGE}")


def test_a_10_mb_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(_padded(10 * 1024 * 1024))
    assert main(["eval", str(big), "--rules", RULES]) == 2
    assert capsys.readouterr() == ("", f"{big}: {TOO_LARGE}")


def test_stdin_is_read_no_further_than_the_limit(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    stdin = _CountingStdin(_padded(10 * 1024 * 1024))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(stdin))  # type: ignore[arg-type]
    assert main(["eval", "-", "--rules", RULES]) == 2
    assert capsys.readouterr() == ("", f"-: {TOO_LARGE}")
    assert stdin.asked == MAX_FACTS_BYTES + 1


@pytest.mark.parametrize(("size", "code"), [(MAX_FACTS_BYTES, 0), (MAX_FACTS_BYTES + 1, 2)])
def test_the_limit_is_inclusive(tmp_path: Path, capsys: pytest.CaptureFixture[str], size: int, code: int) -> None:
    facts = tmp_path / "facts.json"
    facts.write_bytes(_padded(size))
    assert main(["eval", str(facts), "--rules", RULES]) == code
    out, err = capsys.readouterr()
    if code == 0:
        assert (json.loads(out)["session_id"], err) == ("s-1", "")
    else:
        assert (out, err) == ("", f"{facts}: {TOO_LARGE}")
