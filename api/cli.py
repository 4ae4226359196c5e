"""`attendance-policy serve`, `keys {new,hash}`, `replay`, and `diff --log` (the decision log as traffic)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from api.config.coerce import parse_keys
from api.config.loader import ConfigError, load_settings
from api.config.settings import ROLES, Settings, is_loopback
from api.http.auth import MIN_TOKEN_CHARS, hash_token, new_token
from engine.core.errors import PolicyError, print_error, print_problems

__all__ = ["register"]

_EPILOG_SERVE = """examples:
  attendance-policy serve                      # 127.0.0.1:8080, ./rules, ./var/decisions.sqlite3
  attendance-policy serve --config /etc/attendance-policy/service.toml
  ATTENDANCE_POLICY_PORT=9000 attendance-policy serve --workers 4

A non-loopback --host needs API keys in the configuration (see `keys new`), or
--allow-unauthenticated when a proxy in front authenticates every caller.
SIGTERM stops gracefully: in-flight requests finish, then the workers exit.

exit status: 0 stopped, 2 invalid configuration or policies (every problem listed)"""

_EPILOG_KEYS = """examples:
  attendance-policy keys new --id scheduler --role evaluate
  printf '%s' "$KEY" | attendance-policy keys hash

The key itself is shown once and never stored; the configuration holds its sha256."""


def cmd_serve(args: argparse.Namespace) -> int:
    from api.gunicorn.server import serve

    overrides: dict[str, Any] = {"host": args.host, "port": args.port, "workers": args.workers,
                                 "rules": tuple(args.rules) if args.rules else None, "path": args.database}
    if args.allow_unauthenticated:
        overrides["allow_unauthenticated"] = True
    if args.strict:
        overrides["strict"] = True
    try:
        settings = load_settings(args.config, overrides=overrides)
        if not settings.keys and not is_loopback(settings.host):
            print(f"warning: serving {settings.host} WITHOUT authentication (--allow-unauthenticated)",
                  file=sys.stderr)
        return serve(settings)
    except PolicyError as e:  # ConfigError and PolicyLoadError carry their problems
        print_error(e)
    return 2


_EPILOG_REPLAY = """examples:
  attendance-policy replay 5f0c2a1e-0d1b-4c0e-9a51-3f0f0f4b7c2d          # the service's configuration
  attendance-policy replay 5f0c2a1e-... --config /etc/attendance-policy/service.toml
  attendance-policy replay 5f0c2a1e-... --database var/decisions.sqlite3 --rules rules/

Re-decides a logged decision on the policy version that made it (that version's
file must be in the rules with the same sha256) and compares the result.

exit status: 0 same result, 1 different (a diff is printed), 2 not replayable (the reason is printed)"""


def cmd_replay(args: argparse.Namespace) -> int:
    from api.log.backends import open_backend, where
    from api.log.replay import load_version, replay
    from engine.core.errors import StoreError

    overrides: dict[str, Any] = {"path": args.database, "url": args.url, "rules": (args.rules,) if args.rules else None}
    try:
        settings = load_settings(args.config, overrides=overrides)
    except ConfigError as e:
        print_problems(e.problems)
        return 2
    if not settings.url and not Path(settings.database).is_file():
        print(f"error: no decision log at {settings.database}", file=sys.stderr)
        return 2
    store = open_backend(settings)
    try:
        record = store.get(args.decision_id)
    except StoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        store.close()
    if record is None:
        print(f"error: no decision {args.decision_id!r} in {where(settings)}", file=sys.stderr)
        return 2
    entry = record.entry
    policy, problems = load_version(settings.rules, f"{entry.policy_id}@{entry.policy_version}")
    result = replay(record, policy, problems=problems)
    print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) if args.json else result.text())
    return result.exit_code


def cmd_keys_new(args: argparse.Namespace) -> int:
    token = new_token()
    entry = {"id": args.id, "sha256": hash_token(token), "roles": sorted(set(args.roles or ["evaluate"]))}
    _, problem = parse_keys([entry])
    if problem:
        print(f"error: {problem.removeprefix('[0]: ')}", file=sys.stderr)
        return 2
    print(f"key (give it to the caller; it is not stored anywhere): {token}")
    print("\nTOML:")
    print(f'[[keys]]\nid = "{entry["id"]}"\nsha256 = "{entry["sha256"]}"\nroles = {json.dumps(entry["roles"])}')
    print("\nYAML:")
    print(f'keys:\n  - id: {entry["id"]}\n    sha256: "{entry["sha256"]}"\n    roles: {json.dumps(entry["roles"])}')
    print(f"\nenvironment:\nATTENDANCE_POLICY_KEYS='{json.dumps([entry])}'")
    return 0


def cmd_keys_hash(args: argparse.Namespace) -> int:
    # Read from stdin, never argv: a key on the command line ends up in shell history and `ps`.
    token = sys.stdin.readline().strip()
    if len(token) < MIN_TOKEN_CHARS:
        print(f"error: a key must be at least {MIN_TOKEN_CHARS} characters of random text "
              "(use `attendance-policy keys new`); a short key is guessable from its sha256", file=sys.stderr)
        return 2
    print(hash_token(token))
    return 0


def _serve_parser(sub: Any) -> None:
    s = sub.add_parser("serve", help="run the decision service (gunicorn)",
                       description="Run the HTTP decision service with gunicorn workers.",
                       epilog=_EPILOG_SERVE, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--host", help=f"address to bind (default {Settings.host})")
    s.add_argument("--port", type=int, help=f"TCP port (default {Settings.port})")
    s.add_argument("--workers", type=int, help=f"worker processes (default {Settings.workers})")
    s.add_argument("--config", metavar="FILE", help="YAML or TOML configuration (default: $ATTENDANCE_POLICY_CONFIG)")
    s.add_argument("--rules", action="append", metavar="DIR",
                   help=f"rules directory or policy file, repeatable (default: {', '.join(Settings.rules)})")
    s.add_argument("--database", metavar="PATH", help=f"the SQLite decision log (default: {Settings.path})")
    s.add_argument("--strict", action="store_true",
                   help="exit 2 if any policy version file is refused (otherwise the others serve)")
    s.add_argument("--allow-unauthenticated", action="store_true",
                   help="allow a non-loopback --host without API keys")
    s.set_defaults(func=cmd_serve)


def _keys_parser(sub: Any) -> None:
    k = sub.add_parser("keys", help="make API keys and their hashes",
                       description="Make API keys; the configuration stores only their sha256.",
                       epilog=_EPILOG_KEYS, formatter_class=argparse.RawDescriptionHelpFormatter)
    ksub = k.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    new = ksub.add_parser("new", help="make a random key and print it with its configuration entry")
    new.add_argument("--id", required=True, help="a short name for the caller, logged as key_id")
    new.add_argument("--role", dest="roles", action="append", choices=ROLES,
                     help="a role to grant (repeat for several; default evaluate)")
    new.set_defaults(func=cmd_keys_new)
    h = ksub.add_parser("hash", help="print the sha256 of a key read from standard input")
    h.set_defaults(func=cmd_keys_hash)


def _replay_parser(sub: Any) -> None:
    r = sub.add_parser("replay", help="re-decide a logged decision on its recorded version and compare",
                       description="Replay a decision from the decision log on the policy version (and sha256) "
                                   "that made it, and report whether the result is the same.",
                       epilog=_EPILOG_REPLAY, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("decision_id", metavar="DECISION_ID", help="the decision's id")
    r.add_argument("--config", metavar="FILE", help="the service's configuration (default: $ATTENDANCE_POLICY_CONFIG)")
    r.add_argument("--database", metavar="PATH", help="the SQLite decision log (overrides the configuration)")
    r.add_argument("--url", metavar="URL", help="a PostgreSQL decision log (overrides the configuration)")
    r.add_argument("--rules", metavar="DIR", help="the rules directory (overrides the configuration)")
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    r.set_defaults(func=cmd_replay)


def _diff_log_options(sub: Any) -> None:
    """`diff OLD NEW --log DB [--since] [--until]`: the engine's diff, fed the decision log read here."""
    from api.log.traffic import open_log

    diff = sub.choices.get("diff")
    if diff is None:
        return
    diff.add_argument("--log", metavar="DB", help="also re-decide the decisions in this decision log (an SQLite "
                      "file, or a postgresql:// URL)")
    diff.add_argument("--since", metavar="DATE", help="with --log: decisions evaluated at or after (YYYY-MM-DD or "
                                                      "RFC 3339)")
    diff.add_argument("--until", metavar="DATE", help="with --log: decisions evaluated before")
    diff.set_defaults(open_log=open_log)


def register(sub: Any) -> None:
    """Add `serve`, `keys`, `replay` and `db` to the `attendance-policy` command, and `--log` to `diff`."""
    from api.db_commands import register as register_db

    _serve_parser(sub)
    _keys_parser(sub)
    _replay_parser(sub)
    register_db(sub)
    _diff_log_options(sub)


def read_pins(database: str | None) -> dict[str, Any]:
    """The admin pins in a decision log (`validate`'s pin source): `database`, else the configured log.

    Read only: a log that does not exist yet has no pins, and nothing is created or migrated."""
    from api.log.backends import open_backend, where
    from engine.core.errors import StoreError
    from engine.runtime.pins import PinnedTo

    if database is not None:
        settings = Settings(path=database)
    else:
        try:
            settings = load_settings(None)
        except ConfigError:  # no usable service configuration here: no configured log to read
            return {}
    if not settings.url and not Path(settings.database).is_file():
        return {}
    store = open_backend(settings)
    try:
        _, pins = store.pins()
    except StoreError as e:
        raise StoreError(f"{where(settings)}: {e.message}") from e
    finally:
        store.close()
    return {pid: PinnedTo(p.version, p.pinned_by, p.pinned_at) for pid, p in pins.items()}
