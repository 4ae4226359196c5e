"""bench/replay_bench.py still runs (tiny N) and reports both sides; the figures themselves are never asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.policies import ROOT


def test_replay_bench_smoke(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "replay_bench.py"), "--n", "300"], cwd=ROOT / "bench",
                          capture_output=True, text=True, check=False, timeout=600,
                          env=dict(os.environ, BENCH_RESULTS=str(tmp_path)))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads((tmp_path / "replay_bench.json").read_text())["results"]
    assert set(result["records_per_second"]) == {"baseline", "memory", "log"}
    assert result["replayed"] == 300 and 0 < result["changed"] < 300
