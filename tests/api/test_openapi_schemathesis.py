"""Schemathesis, run as an integrator would: its command line on the served /openapi.json of a live server.

Every check on (the configuration's `[checks] enabled`), every phase, every operation of the document tested; the only
exceptions are in tests/api/schemathesis.toml, each with its reason. A few examples per operation
keep it short: scripts/fuzz_api.py is the long run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.live import LiveServer, serving

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES = 15


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving(tmp_path_factory.mktemp("schemathesis")) as live:
        yield live


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_schemathesis_finds_no_failure_on_any_operation(server: LiveServer, tmp_path: Path) -> None:
    report = tmp_path / "events.ndjson"
    env = {**os.environ, "ATTENDANCE_POLICY_FUZZ_KEY": server.tokens["all"], "SCHEMATHESIS_TELEMETRY": "false"}
    result = subprocess.run(
        [str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", f"{server.url}/openapi.json",
         "--include-path-regex", "^/",  # every operation: without a filter, the document's own URL is left out
         "--max-examples", str(EXAMPLES), "--seed", "14", "--workers", "1", "--no-color", "--report", "ndjson",
         "--report-ndjson-path", str(report), "--generation-database", "none"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    _, doc = server.call("GET", "/openapi.json")
    documented = {f"{m.upper()} {p}" for p, item in doc["paths"].items() for m in item}
    tested = {e["ScenarioFinished"]["recorder"]["label"] for e in _events(report) if "ScenarioFinished" in e
              and e["ScenarioFinished"]["status"] == "success"}
    assert documented - tested == set(), result.stdout[-3000:]
