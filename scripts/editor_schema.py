#!/usr/bin/env python3
"""The editor part of schemas/policy.schema.json (`$defs.editor`), generated from schemas/session-facts.schema.json.

    .venv/bin/python scripts/editor_schema.py            # print the generated part
    .venv/bin/python scripts/editor_schema.py --check    # exit 1, with a diff, if the schema's copy is out of date
    .venv/bin/python scripts/editor_schema.py --write    # put the generated part into the schema

Run --write after changing the facts schema (a new fact, a new allowed value).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from generated import run

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
    return run(argv, doc=__doc__ or "", target=SCHEMA, option="schema", preview=lambda: render_editor_defs() + "\n",
               rebuild=rendered, labels=("written", "session-facts.schema.json (generated)"),
               stale=f"the editor schema ($defs.{EDITOR_KEY}) is out of date with the facts schema; "
                     f"regenerate it with `{REGENERATE}`")


if __name__ == "__main__":
    sys.exit(main())
