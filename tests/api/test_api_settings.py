"""The settings declaration: every setting sound, and docs/operations.md showing exactly what it declares."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from api.config.coerce import coerce
from api.config.settings import FIELDS, Field, markdown_table

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "settings_table.py"
REGENERATE = "regenerate it with `python scripts/settings_table.py --write`"


def _table(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_docs_table_matches_the_declaration() -> None:
    result = _table("--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_names_the_command_and_write_fixes_the_table(tmp_path: Path) -> None:
    docs = tmp_path / "operations.md"
    original = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    docs.write_text(original.replace("| TCP port |", "| the TCP port |"), encoding="utf-8")
    stale = _table("--check", "--docs", str(docs))
    assert stale.returncode == 1
    assert "-| `server.port` | `ATTENDANCE_POLICY_PORT` | integer | `8080` | 1 to 65535 | the TCP port |" in stale.stdout
    assert stale.stdout.endswith(f"{docs}: the settings table differs from the settings declared in "
                                 f"api/config/settings.py; {REGENERATE}\n")
    assert _table("--write", "--docs", str(docs)).returncode == 0
    assert docs.read_text(encoding="utf-8") == original.replace(_between_markers(original), markdown_table())


def test_docs_without_markers_are_refused(tmp_path: Path) -> None:
    docs = tmp_path / "operations.md"
    docs.write_text("# no table\n", encoding="utf-8")
    result = _table("--check", "--docs", str(docs))
    assert (result.returncode, result.stderr) == (1, "error: the docs lack the lines <!-- settings-table:start --> "
                                                     "and <!-- settings-table:end --> around the settings table\n")


def _between_markers(text: str) -> str:
    return text.split("<!-- settings-table:start -->\n", 1)[1].split("<!-- settings-table:end -->", 1)[0]


@pytest.mark.parametrize(("key", "row"), [
    ("server.port", "| `server.port` | `ATTENDANCE_POLICY_PORT` | integer | `8080` | 1 to 65535 | TCP port |"),
    ("server.metrics_dir", "| `server.metrics_dir` | `ATTENDANCE_POLICY_METRICS_DIR` | path | unset |  | "),
    ("policies.rules", "| `policies.rules` | `ATTENDANCE_POLICY_RULES` (`:`-separated) | list of paths | `[\"rules\"]` |  | "),
    ("decision_log.redact", "| `decision_log.redact` | `ATTENDANCE_POLICY_REDACT` (`,`-separated) | list of strings "
                            "| `[\"session.scheduled_start\"]` |  | "),
    ("keys", "| `keys` | `ATTENDANCE_POLICY_KEYS` (a JSON list) | list of `{id, sha256, roles}` | `[]` |  | "),
])
def test_table_rows(key: str, row: str) -> None:
    rows = {line.split(" | ")[0].strip("| `"): line for line in markdown_table().splitlines()[2:]}
    assert list(rows) == [f.key for f in FIELDS]
    assert rows[key].startswith(row)


def test_names_and_environment_variables_are_unique() -> None:
    assert len({f.key for f in FIELDS}) == len({f.env for f in FIELDS}) == len(FIELDS)
    assert all(f.env.startswith("ATTENDANCE_POLICY_") for f in FIELDS)


@pytest.mark.parametrize("spec", FIELDS, ids=lambda f: f.key)
def test_each_declaration_is_sound(spec: Field) -> None:
    assert (spec.minimum is not None and spec.maximum is not None) is (spec.kind == "int")
    written = list(spec.default) if isinstance(spec.default, tuple) else spec.default  # as a file writes it
    assert coerce(spec, written) == (spec.default, "")
    assert spec.help and "|" not in spec.help and "\n" not in spec.help
