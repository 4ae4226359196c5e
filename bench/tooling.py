"""Benchmark 7: `validate`, `lint` and `diff` on the default policy and on the largest policy the loader accepts.

Whole commands, as CI runs them; the baseline is the CLI's own start-up
(`attendance-policy --help`) measured in the same run. The 100x policy (2,100
rules) is refused by the loader (at most 250 rules per version): the time to
refuse it is reported too. Run: python bench/tooling.py [--repeat R]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from common import ROOT, write_result
from replicate import replicated, write_replicated

from engine.policy.semantics import MAX_RULES

CLI = str(Path(sys.executable).parent / "attendance-policy")


def timed(args: list[str], repeat: int, ok: tuple[int, ...] = (0,)) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run([CLI, *args], cwd=ROOT, capture_output=True, text=True, check=False)
        runs.append(time.perf_counter() - start)
        assert proc.returncode in ok, (args, proc.returncode, proc.stdout[-500:], proc.stderr[-500:])
    return statistics.median(runs)


def main() -> None:
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    rows: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        big = write_replicated(Path(tmp) / "big", MAX_RULES // 21)
        changed = Path(tmp) / "changed" / "scaled" / "1.0.1.yaml"
        changed.parent.mkdir(parents=True)
        data = yaml.safe_load(big.read_text())
        data["version"], data["changelog"][0]["version"] = "1.0.1", "1.0.1"
        data["parameters"]["discharge_planning_window_days_0"] = 21
        changed.write_text(yaml.safe_dump(data, sort_keys=False))
        huge = Path(tmp) / "huge" / "scaled" / "1.0.0.yaml"
        huge.parent.mkdir(parents=True)
        huge.write_text(yaml.safe_dump(replicated(100), sort_keys=False))
        default = str(ROOT / "rules" / "couples-attendance" / "1.0.0.yaml")
        rows["startup (--help)"] = timed(["--help"], repeat)
        rows["validate default"] = timed(["validate", default], repeat)
        rows["lint default"] = timed(["lint", "--strict", default], repeat)
        rows["diff default vs itself"] = timed(["diff", default, default], repeat)
        rows[f"validate x{MAX_RULES // 21} ({MAX_RULES // 21 * 21} rules)"] = timed(["validate", str(big)], repeat)
        rows[f"lint x{MAX_RULES // 21}"] = timed(["lint", str(big)], repeat, ok=(0, 1))
        rows[f"diff x{MAX_RULES // 21} (one threshold changed)"] = timed(["diff", str(big), str(changed)], repeat)
        rows["validate x100 (2,100 rules: refused)"] = timed(["validate", str(huge)], repeat, ok=(1,))
    base = rows["startup (--help)"]
    for name, s in rows.items():
        print(f"{name:45s} {s:7.2f} s  x{s / base:5.1f} CLI start-up")
    path = write_result("tooling", {"seconds": {k: round(v, 3) for k, v in rows.items()}})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
