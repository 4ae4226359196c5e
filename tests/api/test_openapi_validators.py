"""The served /openapi.json, read from a live server's URL by three tools nobody here wrote.

openapi-spec-validator (Python), Redocly CLI and Spectral (npm, pinned in tools/api-lint/) find zero
errors and zero warnings, with keys configured and without; each warning that stays is turned off in
the linter's configuration file under tools/api-lint/ with its reason.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from support.live import LiveServer, serving

ROOT = Path(__file__).resolve().parents[2]
LINT = ROOT / "tools" / "api-lint"
BIN = LINT / "node_modules" / ".bin"
# No telemetry, no update check: the linters only ever talk to the loopback server.
QUIET = {"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "SCARF_ANALYTICS": "false",
         "DO_NOT_TRACK": "1", "NO_UPDATE_NOTIFIER": "1"}


@pytest.fixture(scope="module", params=["keys", "no keys"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tokens = None if request.param == "keys" else {}
    with serving(tmp_path_factory.mktemp("openapi-lint"), tokens=tokens) as live:
        yield live


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=LINT, env={**os.environ, **QUIET}, capture_output=True, text=True, timeout=300)


def test_openapi_spec_validator_accepts_the_served_document(server: LiveServer, tmp_path: Path) -> None:
    status, doc = server.call("GET", "/openapi.json")
    assert status == 200
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    spec, _ = read_from_filename(str(path))
    validate(spec)  # raises on the first error: an unresolvable $ref is PointerToNowhere


def test_redocly_finds_no_error_and_no_warning(server: LiveServer) -> None:
    result = _run(str(BIN / "redocly"), "lint", "--config", "redocly.yaml", "--format", "json",
                  f"{server.url}/openapi.json")
    report: dict[str, Any] = json.loads(result.stdout)
    problems = [(p["severity"], p["ruleId"], p["message"]) for p in report["problems"]]
    assert (report["totals"]["errors"], report["totals"]["warnings"], problems) == (0, 0, []), result.stderr[-2000:]
    assert result.returncode == 0


def test_spectral_finds_nothing(server: LiveServer, tmp_path: Path) -> None:
    out = tmp_path / "spectral.json"
    result = _run(str(BIN / "spectral"), "lint", "--ruleset", ".spectral.yaml", "--format", "json",
                  "--output", str(out), "--fail-severity", "hint", f"{server.url}/openapi.json")
    findings = [(f["severity"], f["code"], ".".join(map(str, f["path"]))) for f in json.loads(out.read_text())]
    assert findings == [], result.stderr[-2000:]
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_security_is_declared_as_configured(server: LiveServer) -> None:
    _, doc = server.call("GET", "/openapi.json")
    ops = {f"{m.upper()} {p}": op for p, item in doc["paths"].items() for m, op in item.items()}
    keyed = bool(server.tokens)
    assert ("securitySchemes" in doc["components"]) is keyed
    assert ops["POST /v1/decisions"]["security"] == ([{"bearer": []}] if keyed else [])
    assert ops["GET /healthz"]["security"] == []
    if keyed:
        assert "`evaluate` role" in ops["POST /v1/decisions"]["description"]
        assert "`admin` role" in ops["GET /metrics"]["description"]
    else:
        assert all(op["security"] == [] for op in ops.values())
        assert "only loopback clients are served" in doc["info"]["description"]
        assert "only loopback clients are served" in ops["POST /v1/decisions"]["description"]
