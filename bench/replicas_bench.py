"""Benchmark: one instance on SQLite vs on PostgreSQL vs two instances behind nginx on PostgreSQL.

Same load for each (realistic facts, POST /v1/decisions, wrk if installed else a Python
client), every server up at once and measured in interleaved rounds, in one session, so
the ratios are fair; the median round of each. Each instance: `attendance-policy serve`
with 2 sync workers (the defaults). PostgreSQL: a throwaway cluster on loopback
(tests/support/pg.py) with fsync and synchronous_commit on; "commits/s" is what the
database did (pg_stat_database.xact_commit over the round, read 1.2 s after it as
backends report at most once a second: decision appends plus pins reads, heartbeats).
`one_pg_nginx` (one instance behind the balancer) separates nginx's own cost from the
second instance's.
Run: python bench/replicas_bench.py [--seconds S] [--rounds R] [--connections C]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from common import realistic_facts, write_result
from loadgen import load

from support.balancer import running_nginx
from support.live import LiveServer
from support.pg import Cluster, running_cluster

RUNS = ("one_sqlite", "one_pg", "one_pg_nginx", "two_pg_nginx")


def _arg(name: str, default: int) -> int:
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def _service(stack: ExitStack, folder: Path, url: str | None) -> LiveServer:
    log = {"url": url} if url else {}
    server = LiveServer.create(folder, tokens={}, server={"max_requests": None}, decision_log=log)
    stack.callback(server.stop)
    return server.start(quiet=True)


def _commits(cluster: Cluster, db: str) -> int:
    return int(cluster.sql(f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{db}'")[0][0])


@contextmanager
def _servers(root: Path, cluster: Cluster) -> Iterator[dict[str, tuple[int, str | None]]]:
    """Every run's port, and the database whose commits it causes (None: SQLite)."""
    with ExitStack() as stack:
        urls = {name: cluster.fresh_database() for name in RUNS[1:]}
        one_sqlite = _service(stack, root / "one_sqlite", None)
        one_pg = _service(stack, root / "one_pg", urls["one_pg"])
        behind = _service(stack, root / "behind", urls["one_pg_nginx"])
        pair = [_service(stack, root / f"pair{i}", urls["two_pg_nginx"]) for i in range(2)]
        one_nginx = stack.enter_context(running_nginx(root / "nginx1", [behind.port]))
        two_nginx = stack.enter_context(running_nginx(root / "nginx2", [s.port for s in pair]))
        ports = {"one_sqlite": one_sqlite.port, "one_pg": one_pg.port, "one_pg_nginx": one_nginx,
                 "two_pg_nginx": two_nginx}
        yield {name: (ports[name], urls[name].rsplit("/", 1)[1] if name in urls else None) for name in RUNS}


def _measure(cluster: Cluster, port: int, db: str | None, run: Callable[[int], dict[str, Any]],
             seconds: int) -> dict[str, Any]:
    before = _commits(cluster, db) if db else 0
    result = run(port)
    if db:
        time.sleep(1.2)  # backends report their commits to pg_stat_database at most once a second
    result["commits_per_s"] = round((_commits(cluster, db) - before) / seconds, 1) if db else None
    return result


def _median(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median throughput (its latencies and commits with it); errors summed over all."""
    ordered = sorted(rounds, key=lambda x: x["rps"])
    return {**ordered[len(ordered) // 2], "errors": sum(x["errors"] for x in rounds),
            "rounds_rps": [round(x["rps"], 1) for x in rounds]}


def main() -> None:
    seconds, rounds, conns = _arg("--seconds", 5), _arg("--rounds", 3), _arg("--connections", 8)
    bodies = [{"facts": f} for f in realistic_facts(2000, seed=7)]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in RUNS}
    with running_cluster() as cluster, tempfile.TemporaryDirectory() as tmp, \
            _servers(Path(tmp), cluster) as servers:
        def go(port: int) -> dict[str, Any]:
            return load(port, "/v1/decisions", bodies, conns, seconds)

        for name in RUNS:
            load(servers[name][0], "/v1/decisions", bodies, conns, min(2, seconds))  # warm-up
        for _ in range(rounds):
            for name in RUNS:
                runs[name].append(_measure(cluster, *servers[name], go, seconds))
    results = {name: _median(r) for name, r in runs.items()}
    ratios = {name: round(results[name]["rps"] / results["one_sqlite"]["rps"], 2) for name in RUNS}
    for name in RUNS:
        r = results[name]
        commits = f"{r['commits_per_s']:7.1f} commits/s" if r["commits_per_s"] is not None else " " * 17
        print(f"{name:13s} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:7.2f} ms  {commits}  "
              f"errors {r['errors']}  x{ratios[name]:.2f} of one_sqlite")
    spread = {name: round(statistics.pstdev(results[name]["rounds_rps"]), 1) for name in RUNS}
    print(f"(median of {rounds} interleaved rounds of {seconds}s, {results['one_sqlite']['tool']}, {conns} "
          f"connections; spread of the rounds (stdev req/s): {spread})")
    path = write_result("replicas", {"connections": conns, "seconds": seconds, "rounds": rounds, "ratios": ratios,
                                      **results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
