"""Benchmark 5: resident memory of a worker after 10,000 and after 200,000 decisions (goal: flat within 5%).

Runs the worker's code path in a fresh child process: the Flask app from
`api.create_app` with the SQLite decision log on, driven through Flask's test
client with realistic facts (unique session ids), reading VmRSS from /proc.
Also the engine alone (`Engine.evaluate`, memo on). Run: python bench/memory.py [--n N]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

from common import ROOT, arg_n, write_result

_CHILD = r"""
import json, os, sys, tempfile
sys.path.insert(0, %(bench)r)
from common import realistic_facts

def rss_kb():
    with open("/proc/self/status") as fh:
        return int(next(l for l in fh if l.startswith("VmRSS")).split()[1])

mode, checkpoints = sys.argv[1], [int(x) for x in sys.argv[2].split(",")]
facts = realistic_facts(5000)
marks = {}
if mode == "app":
    from api import create_app
    tmp = tempfile.mkdtemp()
    app = create_app({"decision_log": {"path": os.path.join(tmp, "d.sqlite3")}, "policies": {"rules": [%(rules)r]}})
    client = app.test_client()
    def step(i):
        f = dict(facts[i %% len(facts)], session={"id": f"s-{i}", "type": facts[i %% len(facts)]["session"]["type"]})
        assert client.post("/v1/decisions", json={"facts": f}).status_code == 200
else:
    from engine import Engine, PolicySet, load_rules
    engine = Engine(PolicySet.build(load_rules([%(rules)r]), isolate=False))
    def step(i):
        engine.evaluate(facts[i %% len(facts)])
done = 0
for mark in checkpoints:
    while done < mark:
        step(done)
        done += 1
    marks[mark] = rss_kb()
print(json.dumps(marks))
"""


def measure(mode: str, checkpoints: list[int]) -> dict[int, int]:
    code = _CHILD % {"bench": str(ROOT / "bench"), "rules": str(ROOT / "rules")}
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", code, mode, ",".join(map(str, checkpoints))], cwd=tmp,
                             capture_output=True, text=True, check=True).stdout
    return {int(k): v for k, v in json.loads(out).items()}


def main() -> None:
    n = arg_n(200_000)
    first = min(10_000, max(1, n // 20))
    rows = {}
    for mode in ("engine", "app"):
        marks = measure(mode, [first, n])
        growth = (marks[n] - marks[first]) / marks[first]
        rows[mode] = {"after_first_kb": marks[first], "after_all_kb": marks[n], "growth": round(growth, 4)}
        print(f"{mode:7s} RSS after {first:,} decisions {marks[first] / 1024:7.1f} MiB, after {n:,} "
              f"{marks[n] / 1024:7.1f} MiB: {growth:+.1%} (goal within 5%)")
    path = write_result("memory", {"first": first, "n": n, "results": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
