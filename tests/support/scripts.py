"""The scripts in scripts/, run as a user runs them (a child process of this interpreter), for their short CI runs."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from support.service import ROOT

SCRIPTS = ROOT / "scripts"


def run_script(name: str, *args: str, timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
    """`python scripts/<name> args...`, its output captured."""
    return subprocess.run([sys.executable, str(SCRIPTS / name), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


def script_json(name: str, *args: str, timeout: float = 600.0) -> tuple[int, Any]:
    """(exit status, the JSON it printed) of a script run with `--json`."""
    proc = run_script(name, *args, "--json", timeout=timeout)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except ValueError as e:
        raise AssertionError(f"{name} printed no JSON (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n"
                             f"{proc.stderr[-4000:]}") from e
