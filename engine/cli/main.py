"""The `attendance-policy` command line: every sub-command comes from the `attendance_policy.commands` group.

Each entry point names a `register(subparsers)` function; the engine's own
commands are registered the same way as the service's (`serve`, `keys`,
`replay`), so this module never names a package above it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

__all__ = ["COMMAND_GROUP", "build_parser", "main"]

COMMAND_GROUP = "attendance_policy.commands"
_ORDER = ("policy", "authoring", "ci", "service")  # how --help lists them; any other group member follows, by name


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attendance-policy",
        description="Validate, test and evaluate couples-therapy attendance policies.",
        epilog="example:\n  attendance-policy validate rules/\n  attendance-policy eval facts.json --explain",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    found = sorted(entry_points(group=COMMAND_GROUP),
                   key=lambda ep: (_ORDER.index(ep.name) if ep.name in _ORDER else len(_ORDER), ep.name))
    for ep in found:
        ep.load()(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # e.g. `| head`: not an error of ours
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
