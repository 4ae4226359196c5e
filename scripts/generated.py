"""One command shape for a file part generated from a declaration: print it, `--check` it (a diff), `--write` it."""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def run(argv: Sequence[str] | None, *, doc: str, target: Path, option: str, preview: Callable[[], str],
        rebuild: Callable[[str], str], labels: tuple[str, str], stale: str) -> int:
    """`rebuild(text)`: the target's text with the generated part as rendered now; `stale` ends a failed check."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1, with a diff, if the generated part is out of date")
    mode.add_argument("--write", action="store_true", help="replace the generated part")
    parser.add_argument(f"--{option}", dest="target", type=Path, default=target,
                        help=f"the file (default {target.name})")
    args = parser.parse_args(argv)
    if not (args.check or args.write):
        print(preview(), end="")
        return 0
    text = args.target.read_text(encoding="utf-8")
    new = rebuild(text)
    if args.write:
        args.target.write_text(new, encoding="utf-8")
        return 0
    if new == text:
        return 0
    sys.stdout.writelines(difflib.unified_diff(text.splitlines(keepends=True), new.splitlines(keepends=True),
                                               f"{args.target} ({labels[0]})", labels[1]))
    print(f"{args.target}: {stale}")
    return 1
