#!/usr/bin/env python3
"""The settings table of docs/operations.md, rendered from the declaration in api/config/settings.py.

    .venv/bin/python scripts/settings_table.py            # print the table
    .venv/bin/python scripts/settings_table.py --check    # exit 1, with a diff, if the docs differ
    .venv/bin/python scripts/settings_table.py --write    # put the table into the docs
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from api.config.settings import markdown_table

DOCS = Path(__file__).resolve().parents[1] / "docs" / "operations.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"
REGENERATE = "python scripts/settings_table.py --write"


def split(text: str) -> tuple[str, str, str]:
    """(before the start marker line, the table between the markers, from the end marker on)."""
    head, sep, rest = text.partition(START + "\n")
    table, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise SystemExit(f"error: the docs lack the lines {START} and {END} around the settings table")
    return head + sep, table, sep2 + tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if the docs' table differs from the rendered one")
    mode.add_argument("--write", action="store_true", help="replace the docs' table with the rendered one")
    parser.add_argument("--docs", type=Path, default=DOCS, help=f"the Markdown file (default {DOCS.name})")
    args = parser.parse_args(argv)
    rendered = markdown_table()
    if not (args.check or args.write):
        print(rendered, end="")
        return 0
    head, documented, tail = split(args.docs.read_text(encoding="utf-8"))
    if args.write:
        args.docs.write_text(head + rendered + tail, encoding="utf-8")
        return 0
    if documented == rendered:
        return 0
    sys.stdout.writelines(difflib.unified_diff(documented.splitlines(keepends=True), rendered.splitlines(keepends=True),
                                               f"{args.docs} (documented)", "api.config.settings (declared)"))
    print(f"{args.docs}: the settings table differs from the settings declared in api/config/settings.py; "
          f"regenerate it with `{REGENERATE}`")
    return 1


if __name__ == "__main__":
    sys.exit(main())
