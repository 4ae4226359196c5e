#!/usr/bin/env python3
"""The editor part of schemas/policy.schema.json (`$defs.editor`), generated from schemas/session-facts.schema.json.

    .venv/bin/python scripts/editor_schema.py            # print the generated part
    .venv/bin/python scripts/editor_schema.py --check    # exit 1, with a diff, if the schema's copy is out of date
    .venv/bin/python scripts/editor_schema.py --write    # put the generated part into the schema

Run --write after changing the facts schema (a new fact, a new allowed value).
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path

from engine.policy.editor_schema import EDITOR_KEY, editor_defs, render_editor_defs

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "policy.schema.json"
REGENERATE = "python scripts/editor_schema.py --write"
_CLOSE = "\n  }\n}\n"  # the end of `$defs` and of the schema: the generated entry is the last of `$defs`
_START = f',\n    "{EDITOR_KEY}": {{\n'


def rendered(text: str) -> str:
    """The schema text with its generated part (added or replaced) as the scripts renders it now."""
    if not text.endswith(_CLOSE):
        raise SystemExit("error: the schema must end with the closing braces of `$defs` and of the schema, "
                         "each on its own line")
    head = text.partition(_START)[0] if _START in text else text[: -len(_CLOSE)]
    out = head + ",\n" + render_editor_defs() + _CLOSE
    if json.loads(out)["$defs"][EDITOR_KEY] != editor_defs():  # the text says what the generator means
        raise SystemExit("error: the rendered editor schema does not parse back to the generated one")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if the schema's generated part is out of date")
    mode.add_argument("--write", action="store_true", help="replace the schema's generated part")
    parser.add_argument("--schema", type=Path, default=SCHEMA, help=f"the policy schema (default {SCHEMA.name})")
    args = parser.parse_args(argv)
    if not (args.check or args.write):
        print(render_editor_defs())
        return 0
    text = args.schema.read_text(encoding="utf-8")
    new = rendered(text)
    if args.write:
        args.schema.write_text(new, encoding="utf-8")
        return 0
    if new == text:
        return 0
    sys.stdout.writelines(difflib.unified_diff(text.splitlines(keepends=True), new.splitlines(keepends=True),
                                               f"{args.schema} (written)", "session-facts.schema.json (generated)"))
    print(f"{args.schema}: the editor schema ($defs.{EDITOR_KEY}) is out of date with the facts schema; "
          f"regenerate it with `{REGENERATE}`")
    return 1


if __name__ == "__main__":
    sys.exit(main())
