"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb + pg_ctl in a temporary folder, on loopback.

Nothing assumes a server is running. The binaries come from `pg_config --bindir`, else the
newest /usr/lib/postgresql/*/bin (PostgreSQL 15 on the Debian image, `postgresql-15` in
scripts/setup-tests). PostgreSQL refuses to run as root, so as root the cluster belongs to
the unprivileged `postgres` user (else `nobody`) and its folder lives where that user can
reach it. Trust authentication on 127.0.0.1 only; fsync and synchronous_commit stay on
(the service's durability promise is what the tests check). Each test gets a database of
its own (`fresh_database`): advisory locks and LISTEN channels are per database.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from support.live import HOST, free_port, wait_for

__all__ = ["Cluster", "pg_bindir", "pg_cluster", "pg_url", "running_cluster"]

SUPERUSER = "attendance"


def pg_bindir() -> Path:
    """Where initdb and pg_ctl are."""
    explicit = os.environ.get("PG_BINDIR")
    if explicit:
        return Path(explicit)
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if out and (Path(out) / "initdb").exists():
            return Path(out)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found (install postgresql-15: scripts/setup-tests)")
    return found[-1].parent


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged owner of the cluster when running as root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) to own the cluster")


@dataclass
class Cluster:
    """One cluster in its own folder; `start`, `stop` (any mode), `start` again; `remove` at the end."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="attendance-pg-", dir="/tmp")))
    port: int = field(default_factory=free_port)
    owner: pwd.struct_passwd | None = field(default_factory=_run_as)
    _names: Iterator[int] = field(default_factory=itertools.count)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def _cmd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        user: dict[str, Any] = {}
        if self.owner is not None:
            user = {"user": self.owner.pw_uid, "group": self.owner.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
               "HOME": str(self.root)}
        return subprocess.run([str(pg_bindir() / args[0]), *args[1:]], capture_output=True, text=True,
                              check=check, env=env, cwd=self.root, timeout=120, **user)

    def init(self) -> Cluster:
        if self.owner is not None:
            os.chown(self.root, self.owner.pw_uid, self.owner.pw_gid)
        self._cmd("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync",
                  "--locale=C.UTF-8")
        return self

    def start(self) -> Cluster:
        options = (f"-c port={self.port} -c listen_addresses={HOST} -c unix_socket_directories='{self.root}' "
                   "-c max_connections=200 -c fsync=on -c synchronous_commit=on")
        done = self._cmd("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options,
                         "start", check=False)
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}\n{self.log_text()[-3000:]}")
        wait_for(lambda: self.accepts(), "PostgreSQL to accept connections", timeout=60)
        return self

    def stop(self, mode: str = "fast") -> None:
        """`fast`: a clean shutdown; `immediate`: as if the server crashed (recovery on the next start)."""
        self._cmd("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def accepts(self) -> bool:
        done = self._cmd("pg_isready", "-h", HOST, "-p", str(self.port), "-t", "2", check=False)
        return done.returncode == 0

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{dbname}"

    def sql(self, statement: str, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement in autocommit mode and return its rows (psycopg, as the service uses)."""
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            cur = conn.execute(statement)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def fresh_database(self) -> str:
        """A new empty database; its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        self.sql(f"CREATE DATABASE {name}")
        return self.url(name)

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def running_cluster() -> Iterator[Cluster]:
    """A started cluster, stopped and removed on leaving."""
    cluster = Cluster()
    try:
        yield cluster.init().start()
    finally:
        cluster.remove()


# ---- pytest fixtures (tests/conftest.py loads this module as a plugin) ---------------------------------------

@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL cluster for the whole session, started on first use."""
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    """A new empty database on the session's cluster."""
    return pg_cluster.fresh_database()
