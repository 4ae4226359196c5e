"""Load generation: wrk (Debian package `wrk`) when present, else a small threaded Python client.

Each connection cycles through the given request bodies, so a benchmark can send
realistic traffic (many sessions, a few shapes) rather than one body over and over.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from typing import Any

_LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {%s}
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
"""


def _lua(bodies: list[dict[str, Any]]) -> str:
    texts = [json.dumps(b) for b in bodies]
    if any("]==]" in t for t in texts):
        raise ValueError("a body holds ]==], which would end its Lua string")
    return _LUA % ", ".join(f"[==[{t}]==]" for t in texts)


def _ms(text: str) -> float:
    found = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not found:
        raise ValueError(f"cannot read wrk latency {text!r}")
    value, unit = found.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(port: int, path: str, bodies: list[dict[str, Any]], connections: int, seconds: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(_lua(bodies))
    try:
        out = subprocess.run(["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "-s", fh.name,
                              "--latency", f"http://127.0.0.1:{port}{path}"],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(fh.name)
    if "requests in" not in out:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"tool": "wrk", "requests": total, "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "p50_ms": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
            "p99_ms": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
            "errors": (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, errors.groups())) if errors else 0)}


def run_python(port: int, path: str, bodies: list[dict[str, Any]], connections: int, seconds: float) -> dict[str, Any]:
    payloads = [json.dumps(b).encode() for b in bodies]
    latencies: list[float] = []
    errors = [0]
    stop = time.perf_counter() + seconds
    lock = threading.Lock()

    def client() -> None:
        i = 0
        while time.perf_counter() < stop:
            start = time.perf_counter()
            payload, i = payloads[i % len(payloads)], i + 1
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("POST", path, payload, {"Content-Type": "application/json"})
                ok = conn.getresponse().status == 200
                conn.close()
            except OSError:
                ok = False
            with lock:
                latencies.append((time.perf_counter() - start) * 1000)
                errors[0] += 0 if ok else 1

    threads = [threading.Thread(target=client) for _ in range(connections)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {"tool": "python", "requests": len(latencies), "rps": len(latencies) / elapsed, "p50_ms": q[49],
            "p99_ms": q[98], "errors": errors[0]}


def load(port: int, path: str, bodies: list[dict[str, Any]], connections: int, seconds: int) -> dict[str, Any]:
    """Throughput, p50, p99 and errors (non-2xx responses and socket errors) of POSTing `bodies` in turn."""
    if shutil.which("wrk"):
        return run_wrk(port, path, bodies, connections, seconds)
    return run_python(port, path, bodies, connections, seconds)
