#!/usr/bin/env python3
"""The settings table of docs/operations.md, rendered from the declaration in api/config/settings.py.

    .venv/bin/python scripts/settings_table.py            # print the table
    .venv/bin/python scripts/settings_table.py --check    # exit 1, with a diff, if the docs differ
    .venv/bin/python scripts/settings_table.py --write    # put the table into the docs
"""

from __future__ import annotations

import sys
from pathlib import Path

from generated import run

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
    def rebuild(text: str) -> str:
        head, _, tail = split(text)
        return head + markdown_table() + tail

    return run(argv, doc=__doc__ or "", target=DOCS, option="docs", preview=markdown_table, rebuild=rebuild,
               labels=("documented", "api.config.settings (declared)"),
               stale="the settings table differs from the settings declared in api/config/settings.py; "
                     f"regenerate it with `{REGENERATE}`")


if __name__ == "__main__":
    sys.exit(main())
