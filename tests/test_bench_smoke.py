"""Every benchmark script still runs (tiny N); the figures themselves are never asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from support.policies import ROOT

BENCH = ROOT / "bench"
RESULTS = Path(tempfile.mkdtemp(prefix="bench-smoke-"))  # never overwrite the real figures


def _run(*args: str) -> str:
    proc = subprocess.run([sys.executable, str(BENCH / args[0]), *args[1:]], cwd=BENCH, capture_output=True,
                          text=True, check=False, timeout=600, env=dict(os.environ, BENCH_RESULTS=str(RESULTS)))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


def _result(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def test_engine_overhead_smoke():
    assert "raw" in _run("engine_overhead.py", "--n", "200")
    assert set(_result("engine_overhead")["results"]) == {"generated", "realistic"}


def test_scaling_smoke():
    _run("scaling.py", "--n", "30")
    rows = _result("scaling")["rows"]
    assert [r["copies"] for r in rows] == [1, 2, 5, 10, 11] and rows[-1]["rules"] == 231


def test_http_smoke():
    out = _run("http_bench.py", "--seconds", "1", "--rounds", "2", "--items", "20", "--connections", "2")
    result = _result("http")
    runs = ("bare", "service", "bare_threads", "bare_buffered", "service_one_thread", "service_threads",
            "service_log_in_ram", "lean", "lean_log_in_ram", "app_sync", "lean_sync")
    assert all(result[name]["errors"] == 0 and result[name]["requests"] > 0 for name in runs)
    assert set(result["ratios"]) == set(runs) - {"bare"}
    assert result["batch"]["items"] == 20 and "goal: service >= 0.6" in out
    assert all(len(result[name]["rounds_rps"]) == 2 for name in runs)


def test_idle_cost_smoke():
    out = _run("idle_cost.py", "--n", "50", "--rounds", "1")
    results = _result("idle_cost")["results"]
    assert set(results) == {"back to back", "after an fsync", "after a 150 µs sleep"} and "x1.00" in out
    assert results["back to back"]["wall_ratio"] == 1.0 and all(r["cpu_us"] > 0 for r in results.values())


def test_memory_smoke():
    _run("memory.py", "--n", "300")
    assert set(_result("memory")["results"]) == {"engine", "app"}


def test_peers_smoke():
    # peers.py asserts each peer's fired rules equal ours on every case before it times anything
    out = _run("peers.py", "--n", "150", "--rounds", "1")
    assert "identical fired rules on 150 generated facts" in out
    result = _result("peers")
    assert set(result["us_per_decision"]) == {"attendance_policy_engine", "attendance_policy_evaluate", "plain_python",
                                              "zen_engine", "rule_engine", "cedarpy", "regopy"}
    assert result["fastest_general_peer"] in {"zen_engine", "rule_engine", "cedarpy", "regopy"}


def test_tooling_smoke():
    _run("tooling.py", "--repeat", "1")
    assert "validate x100 (2,100 rules: refused)" in _result("tooling")["seconds"]


def test_load_generators_cycle_through_the_bodies(monkeypatch):
    # Both generators, whichever this machine has: every body is sent, in turn, and counted.
    import http.server
    import shutil
    import threading

    monkeypatch.syspath_prepend(str(BENCH))  # for this test only
    import loadgen

    seen: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            seen.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200 if b'"s-2"' not in seen[-1] else 500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    bodies = [{"facts": {"session": {"id": f"s-{i}"}}} for i in range(3)]
    try:
        runs = [loadgen.run_python] + ([loadgen.run_wrk] if shutil.which("wrk") else [])
        for run in runs:
            seen.clear()
            result = run(server.server_address[1], "/", bodies, 1, 1)
            sent = {json.loads(b)["facts"]["session"]["id"] for b in seen}
            assert sent == {"s-0", "s-1", "s-2"} and result["requests"] >= 3
            assert 0 < result["errors"] < result["requests"]  # every third answer is a 500
    finally:
        server.shutdown()
        server.server_close()
    assert "[==[" in loadgen._lua(bodies) and loadgen._lua(bodies).count("s-") == 3


def test_worker_start_smoke():
    out = _run("worker_start.py", "--repeat", "1", "--smoke")
    rows = _result("worker_start")["rows"]
    assert set(rows) == {"bundled policy (baseline)", "bundled + the 3 largest accepted"}
    assert all(r["cold_start_s"] > 0 and r["replaced_worker_s"] > 0 for r in rows.values())
    assert "a replaced worker serves after" in out


def test_gate_cost_smoke():
    out = _run("gate_cost.py", "--repeat", "1", "--smoke")
    result = _result("gate_cost")
    assert len(result["rows"]) == 4 and result["worst_s"] > 0
    assert "largest accepted version:" in out


def test_replicas_bench_smoke():
    out = _run("replicas_bench.py", "--seconds", "1", "--rounds", "1", "--connections", "2")
    result = _result("replicas")
    runs = ("one_sqlite", "one_pg", "one_pg_nginx", "two_pg_nginx")
    assert all(result[name]["errors"] == 0 and result[name]["requests"] > 0 for name in runs)
    assert result["one_sqlite"]["commits_per_s"] is None and result["two_pg_nginx"]["commits_per_s"] > 0
    assert set(result["ratios"]) == set(runs) and "of one_sqlite" in out


def test_facts_check_smoke():
    assert "same answer on 300 documents" in _run("peer_facts_check.py", "--n", "150")
    assert set(_result("facts_check")["ratio_jsonschema"]) == {"realistic", "generated"}


def test_engine_overhead_in_cpu_time_smoke():
    assert "raw" in _run("peer_overhead.py", "--n", "100")
    assert set(_result("engine_overhead_cpu")["results"]) == {"generated", "realistic"}
