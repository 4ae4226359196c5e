"""A short soak (scripts/soak.py) in CI: fixed clients on loopback, every answer a 200, every decision logged,
no worker replaced. The 5-minute run and its figures are in docs/reliability.md (no timing asserted here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.scripts import script_json

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads worker pids in /proc")


def test_short_soak_has_no_errors() -> None:
    status, result = script_json("soak.py", "--seconds", "4", "--clients", "4", "--window", "4", "--max-requests", "0")
    assert result["errors"] == 0, result["error_samples"]
    assert result["requests"] > 0 and result["decisions_logged"] > 0
    assert result["decisions_missing_from_log"] == 0
    assert result["same_workers"] is True and result["server_exit"] == 0
    assert result["memory"] and all(len(m["rss_mb"]) == 2 for m in result["memory"])  # both workers were measured
    assert (status, result["problems"]) == (0, [])
