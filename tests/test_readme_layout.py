"""The README's layout table names every package of the tree, and nothing that is not there."""

from __future__ import annotations

import re

from support.policies import ROOT


def _packages() -> set[str]:
    return {str(p.parent.relative_to(ROOT)) + "/" for top in ("engine", "api") for p in (ROOT / top).glob("*/__init__.py")}


def _table_paths() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("## Layout"):].split("\n## ", 1)[0]
    return {m for row in table.splitlines() if row.startswith("| `") for m in re.findall(r"`([^`]+)`", row.split("|")[1])}


def test_every_package_is_in_the_layout_table():
    assert len(_packages()) >= 14
    assert _packages() - _table_paths() == set()


def test_every_path_in_the_layout_table_exists():
    named = {p.split("<", 1)[0] for p in _table_paths()}
    assert named and all((ROOT / p).exists() for p in named), sorted(p for p in named if not (ROOT / p).exists())


def test_ci_runs_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    test_command = next(b for b in blocks if "pytest" in b)
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command.strip() in ci_lines
