"""`attendance-policy serve` and `attendance-policy keys {new,hash}`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine.cli import print_problems
from engine.errors import PolicyError, PolicyLoadError, Problem

from .auth import MIN_TOKEN_CHARS, hash_token, new_token
from .config import ConfigError, load_settings
from .configcheck import parse_keys
from .settings import ROLES, is_loopback

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
    from .server import serve

    overrides: dict[str, Any] = {"host": args.host, "port": args.port, "workers": args.workers}
    if args.allow_unauthenticated:
        overrides["allow_unauthenticated"] = True
    try:
        settings = load_settings(args.config, overrides=overrides)
        if not settings.keys and not is_loopback(settings.host):
            print(f"warning: serving {settings.host} WITHOUT authentication (--allow-unauthenticated)",
                  file=sys.stderr)
        return serve(settings)
    except PolicyLoadError as e:
        print_problems(e.problems)
    except ConfigError as e:
        print_problems(e.problems)
    except PolicyError as e:
        print_problems([Problem(e.code, e.message, "")])
    return 2


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
    s.add_argument("--host", help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", type=int, help="TCP port (default 8080)")
    s.add_argument("--workers", type=int, help="worker processes (default 2)")
    s.add_argument("--config", metavar="FILE", help="YAML or TOML configuration (default: $ATTENDANCE_POLICY_CONFIG)")
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


def register(sub: Any) -> None:
    """Add `serve` and `keys` to the `attendance-policy` command."""
    _serve_parser(sub)
    _keys_parser(sub)
