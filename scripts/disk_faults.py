#!/usr/bin/env python3
"""A full disk and a read-only decision log under a real server: 503s, no lost decision, no crash.

As root (the default when mounting works), the decision log lives on its own small tmpfs:
  1. decisions succeed; 2. the tmpfs is filled to ENOSPC: every decision gets 503 and the
  workers stay up; 3. space is freed: decisions succeed again, with the same workers;
  4. the server stops, the tmpfs is remounted read-only (the kernel refuses that while the
  workers hold the log open for writing, which the report shows), and a server started on
  the read-only log refuses to start with a clear error (exit 2); 5. remounted read-write,
  the server starts and decides again; 6. stopped, the tmpfs filled, started again: it starts,
  answers 503 with the reason (`/readyz` too), and once the filler is deleted becomes ready by
  itself and decides; the log passes `PRAGMA integrity_check` and holds every acknowledged
  decision.
Without root (`--mode rlimit`), steps 1-3 use RLIMIT_FSIZE on the running workers (every
write past byte 1 fails with EFBIG), which needs no privilege; then 4. the server is stopped
and started again under that limit (master and workers: the whole server on a "full disk"):
it starts, `/readyz` and every decision answer 503 with the reason; 5. the limit is lifted on
the running processes and the server becomes ready by itself, same workers, and decides.
In every phase `/readyz` is asked after each decision: while writes fail it must never say
ready. A log that turns read-only under running workers is covered in process
(tests/reliability/test_durability.py).

    sudo .venv/bin/python scripts/disk_faults.py            # tmpfs (root)
    .venv/bin/python scripts/disk_faults.py --mode rlimit   # any user
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the project, and tests/support
from support.live import LiveServer, serve_command, wait_for  # noqa: E402
from support.logdb import integrity_check, logged_ids  # noqa: E402

FACTS = {"session": {"id": "disk", "type": "couples"}, "attendance": {"partners_present": 1, "absence_reason": "work"}}


def _decide(server: LiveServer, n: int) -> tuple[list[str], dict[str, int]]:
    """n decisions; (ids acknowledged, status counts)."""
    ids: list[str] = []
    statuses: dict[str, int] = {}
    for i in range(n):
        body = {"facts": {**FACTS, "session": {"id": f"disk-{i}", "type": "couples"}}, "explain": True}
        reply = server.request("POST", "/v1/decisions", body, role="evaluate")
        statuses[str(reply.status)] = statuses.get(str(reply.status), 0) + 1
        if reply.status == 200:
            ids.append(reply.json()["decision_id"])
        elif reply.status == 503:
            assert reply.json()["code"] == "decision_log_unavailable" and reply.headers.get("retry-after") == "5"
    return ids, statuses


def _readyz(server: LiveServer) -> tuple[int, str]:
    """/readyz's status, and the reason it gives when not ready."""
    reply = server.request("GET", "/readyz")
    return reply.status, "" if reply.status == 200 else str(reply.json().get("detail", ""))


def _phase(server: LiveServer, name: str, n: int, acknowledged: list[str]) -> dict[str, Any]:
    """n decisions, /readyz asked after each one: the statuses of both, and the last reason it was not ready."""
    readyz: dict[str, int] = {}
    reason = ""
    ids: list[str] = []
    statuses: dict[str, int] = {}
    for _ in range(n):
        done, counts = _decide(server, 1)
        ids += done
        for k, v in counts.items():
            statuses[k] = statuses.get(k, 0) + v
        status, why = _readyz(server)
        readyz[str(status)] = readyz.get(str(status), 0) + 1
        reason = why or reason
    acknowledged += ids
    return {"phase": name, "statuses": statuses, "readyz": readyz, "not_ready_reason": reason[:300],
            "workers": len(server.worker_pids())}


def _limit(pids: list[int], limit: int) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    for pid in pids:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard if limit < 0 else limit, hard))


def _restart_full(server: LiveServer, n: int, acknowledged: list[str]) -> tuple[list[dict[str, Any]], bool]:
    """Stop, start again with every write of the server refused, then lift the limit on the running server."""
    server.stop()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1, hard))  # inherited by the server started now, and only by it
    try:
        server.start(quiet=True, ready=False)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    phases = [_phase(server, "started on a full disk", n, acknowledged)]
    pids = server.worker_pids()
    _limit([server.master.pid, *pids], -1)
    wait_for(lambda: _readyz(server)[0] == 200, "readiness once writes are allowed again", timeout=30)
    phases.append(_phase(server, "room again after a start on a full disk", n, acknowledged))
    return phases, server.worker_pids() == pids


def _fill(directory: Path) -> Path:
    filler = directory / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass  # ENOSPC: the disk is full
    return filler


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _remount(where: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(where)], check=True)


def run_tmpfs(tmp: Path, n: int) -> dict[str, Any]:
    acknowledged: list[str] = []
    with tmpfs(tmp / "log", "8m") as logdir:
        database = logdir / "decisions.sqlite3"
        server = LiveServer.create(tmp, database=str(database)).start()
        pids = server.worker_pids()
        phases = [_phase(server, "normal", n, acknowledged)]
        filler = _fill(logdir)
        phases.append(_phase(server, "disk full (ENOSPC)", n, acknowledged))
        filler.unlink()
        phases.append(_phase(server, "space freed", n, acknowledged))
        same_workers = server.worker_pids() == pids
        # The kernel refuses to remount a file system read-only while a process has a file open for
        # writing (the workers do): a log made read-only is met at (re)start instead.
        busy = subprocess.run(["mount", "-o", "remount,ro", str(logdir)], capture_output=True, text=True)
        status = server.stop()
        _remount(logdir, "ro")
        refused = subprocess.run([*serve_command(), "serve", "--port", "1", "--config", str(tmp / "service.toml")],
                                 cwd=tmp, capture_output=True, text=True, timeout=120)
        _remount(logdir, "rw")
        server.start()
        phases.append(_phase(server, "restarted read-write", n, acknowledged))
        server.stop()
        filler = _fill(logdir)
        server.start(ready=False)
        phases.append(_phase(server, "started on a full disk", n, acknowledged))
        pids = server.worker_pids()
        filler.unlink()
        wait_for(lambda: _readyz(server)[0] == 200, "readiness once the disk has room", timeout=30)
        phases.append(_phase(server, "room again after a start on a full disk", n, acknowledged))
        same_workers = same_workers and server.worker_pids() == pids
        final = server.stop()
        return {"mode": "tmpfs", "phases": phases, "same_workers": same_workers, "server_exit": status,
                "final_exit": final, "remount_ro_while_serving": busy.stderr.strip().splitlines()[0] if busy.returncode
                else "succeeded", "start_on_read_only_log": {"exit": refused.returncode,
                                                             "stderr": refused.stderr.strip()[-300:]},
                "acknowledged": len(acknowledged),
                "missing_from_log": len(set(acknowledged) - logged_ids(database)),
                "integrity": integrity_check(database)}


def run_rlimit(tmp: Path, n: int) -> dict[str, Any]:
    acknowledged: list[str] = []
    server = LiveServer.create(tmp).start()
    pids = server.worker_pids()
    phases = [_phase(server, "normal", n, acknowledged)]
    _limit(pids, 1)
    phases.append(_phase(server, "writes refused (EFBIG)", n, acknowledged))
    _limit(pids, -1)
    phases.append(_phase(server, "writes allowed again", n, acknowledged))
    same_workers = server.worker_pids() == pids
    restarted, same_after_restart = _restart_full(server, n, acknowledged)
    phases += restarted
    same_workers = same_workers and same_after_restart
    status = server.stop()
    return {"mode": "rlimit", "phases": phases, "same_workers": same_workers, "server_exit": status,
            "acknowledged": len(acknowledged),
            "missing_from_log": len(set(acknowledged) - logged_ids(server.database)),
            "integrity": integrity_check(server.database)}


HEALTHY = ("normal", "space freed", "restarted read-write", "writes allowed again",
           "room again after a start on a full disk")


def _passed(result: dict[str, Any]) -> bool:
    faulty = [p for p in result["phases"] if p["phase"] not in HEALTHY]
    healthy = [p for p in result["phases"] if p not in faulty]
    ok = (all(set(p["statuses"]) == {"503"} and set(p["readyz"]) == {"503"} and p["not_ready_reason"]
              for p in faulty)
          and all(set(p["statuses"]) == {"200"} and set(p["readyz"]) == {"200"} for p in healthy)
          and result["same_workers"] and result["server_exit"] == 0
          and result["missing_from_log"] == 0 and result["integrity"] == "ok")
    if "start_on_read_only_log" in result:
        ok = ok and result["start_on_read_only_log"]["exit"] == 2 and result["final_exit"] == 0
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["tmpfs", "rlimit"], default="tmpfs" if os.geteuid() == 0 else "rlimit")
    parser.add_argument("--requests", type=int, default=20, help="decisions per phase (default 20)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="disk-faults-") as tmp:
        run = run_tmpfs if args.mode == "tmpfs" else run_rlimit
        result = run(Path(tmp), args.requests)
    result["ok"] = _passed(result)
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
