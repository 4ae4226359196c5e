"""`attendance-policy db {upgrade,status,copy,purge}`: the decision log's schema, moves and retention."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from typing import Any

from api.config.loader import ConfigError, load_settings
from api.config.settings import Settings
from api.log.backends import open_backend, where
from api.log.store import to_micros
from engine.core.errors import StoreError, print_problems

__all__ = ["register"]

_EPILOG = """examples:
  attendance-policy db status --config /etc/attendance-policy/service.toml
  attendance-policy db upgrade --url postgresql://attendance@db.internal/attendance
  attendance-policy db copy --from var/decisions.sqlite3 --to postgresql://attendance@db.internal/attendance
  attendance-policy db purge --before 2020-01-01 --config /etc/attendance-policy/service.toml

The log is the configuration's (`decision_log.url`, else `decision_log.path`), or --url / --database.

exit status: 0 done, 1 a copy that does not verify, 2 cannot (the reason is printed)"""


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config, overrides={"url": args.url, "path": args.database})


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _guard(fn: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return int(fn(args))
        except ConfigError as e:
            print_problems(e.problems)
            return 2
        except StoreError as e:
            return _fail(e.message)

    return run


@_guard
def cmd_upgrade(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings.url:
        from api.log.postgres_admin import upgrade_database

        ran, version = upgrade_database(settings.url)
        print(f"{where(settings)}: " + (f"applied {', '.join(ran)}" if ran else "nothing to apply")
              + f"; schema version {version}")
        return 0
    store = open_backend(settings)
    try:
        store.migrate()
    finally:
        store.close()
    print(f"{settings.database}: schema up to date")
    return 0


def _sqlite_status(path: str) -> dict[str, Any]:
    from api.log.sqlite_schema import SCHEMA_VERSION

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            count = conn.execute("SELECT count(*) FROM decisions").fetchone()[0] if version else None
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise StoreError(f"cannot read {path}: {e}") from e
    return {"backend": "sqlite", "where": path, "schema_version": version, "known_version": SCHEMA_VERSION,
            "pending": list(range(version + 1, SCHEMA_VERSION + 1)), "decisions": count}


@_guard
def cmd_status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings.url:
        from api.log.postgres_admin import status

        info = status(settings.url)
    else:
        info = _sqlite_status(settings.database)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key}: {value}")
    return 0 if info["schema_version"] <= info["known_version"] else 2


@_guard
def cmd_copy(args: argparse.Namespace) -> int:
    from api.log.postgres_admin import copy_sqlite

    result = copy_sqlite(args.source, args.target)
    for table, (rows, digest) in result.source.items():
        back = result.target.get(table)
        verdict = "verified" if back == (rows, digest) else f"DIFFERS: the target has {back}"
        print(f"{table}: {rows} rows, sha256 {digest[:16]}… {verdict}")
    if not result.same:
        print("error: the copy does not match its source", file=sys.stderr)
        return 1
    return 0


@_guard
def cmd_purge(args: argparse.Namespace) -> int:
    text = args.before if "T" in args.before else f"{args.before}T00:00:00Z"
    try:
        before = to_micros(text)
    except ValueError:
        return _fail(f"--before {args.before!r}: give a date (2020-01-01) or an RFC 3339 time")
    settings = _settings(args)
    store = open_backend(settings)
    try:
        store.migrate()
        gone = store.purge(before)
    finally:
        store.close()
    print(f"{where(settings)}: deleted {gone} decisions evaluated before {text}")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="the service's configuration (default: $ATTENDANCE_POLICY_CONFIG)")
    p.add_argument("--url", metavar="URL", help="a PostgreSQL decision log (overrides the configuration)")
    p.add_argument("--database", metavar="PATH", help="an SQLite decision log (overrides the configuration)")


def register(sub: Any) -> None:
    """Add `db` and its actions to the `attendance-policy` command."""
    d = sub.add_parser("db", help="the decision log: schema migrations, status, copy from SQLite, retention",
                       description="Manage the decision log (SQLite or PostgreSQL).", epilog=_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    dsub = d.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = dsub.add_parser("upgrade", help="apply the pending schema migrations")
    _common(up)
    up.set_defaults(func=cmd_upgrade)
    st = dsub.add_parser("status", help="schema version, pending migrations, durability settings, rows")
    _common(st)
    st.add_argument("--json", action="store_true", help="print it as JSON")
    st.set_defaults(func=cmd_status)
    cp = dsub.add_parser("copy", help="copy an SQLite log into an empty PostgreSQL database, verified")
    cp.add_argument("--from", dest="source", required=True, metavar="SQLITE", help="the SQLite decision log")
    cp.add_argument("--to", dest="target", required=True, metavar="URL", help="the PostgreSQL database")
    cp.set_defaults(func=cmd_copy)
    pu = dsub.add_parser("purge", help="delete decisions evaluated before a date (retention)")
    _common(pu)
    pu.add_argument("--before", required=True, metavar="DATE", help="YYYY-MM-DD (UTC midnight) or RFC 3339")
    pu.set_defaults(func=cmd_purge)
