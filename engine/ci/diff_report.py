"""Render a DiffReport: Markdown for a pull-request comment, or JSON for machines."""

from __future__ import annotations

import json
from typing import Any

from engine.ci.diff import ChangeGroup, DiffReport, RecState

__all__ = ["to_markdown", "to_dict", "KIND_TITLES"]

KIND_TITLES = {
    "removed": "removed",
    "suppressed": "now suppressed",
    "added": "added",
    "unsuppressed": "no longer suppressed",
    "indicator": "indicator changed",
    "rule": "given by another rule",
}
MAX_DETAILED = 25  # groups shown with their example; the table lists them all
MAX_SCENARIOS = 5


def _side(state: RecState | None) -> str:
    return "—" if state is None else state.describe()


def _enumeration_line(r: DiffReport) -> str:
    return (f"Enumeration: {r.enumerated:,} cases over the {len(r.facts)} facts the two versions read, in "
            f"{r.enum_seconds:.2f}s with the compiled engine (every combination of the facts that decide each "
            f"recommendation; the full product of all facts would be {r.space_size:,}); plus "
            f"{r.scenario_cases} scenario cases. Total {r.seconds:.2f}s.")


def to_markdown(r: DiffReport) -> str:
    """A summary table, then the smallest case of each change, not every case."""
    head = f"## Policy impact: `{r.old.key}` → `{r.new.key}`"
    if not r.groups:
        body = [f"No change: the two versions decide all {r.cases:,} cases alike."]
    else:
        body = [f"**{len(r.groups)} kind{'s' if len(r.groups) != 1 else ''} of change** in "
                f"{r.changed_cases:,} of {r.cases:,} cases.", "", *_table(r)]
        for i, g in enumerate(r.groups[:MAX_DETAILED], 1):
            body += ["", *_detail(i, g)]
        if len(r.groups) > MAX_DETAILED:
            body += ["", f"… and {len(r.groups) - MAX_DETAILED} more (see `--format json`)."]
    notes = [_enumeration_line(r)]
    if r.skipped_scenarios:
        notes.append(f"Skipped {len(r.skipped_scenarios)} scenario(s) with invalid facts: "
                     f"{', '.join(r.skipped_scenarios)}.")
    return "\n".join([head, "", f"Old `{r.old.sha256[:12]}` ({r.old.file}), new `{r.new.sha256[:12]}` "
                                f"({r.new.file}).", "", *body, "", *(f"_{n}_" for n in notes)]) + "\n"


def _table(r: DiffReport) -> list[str]:
    rows = ["| # | change | recommendation | before | after | cases | scenarios |",
            "|---:|---|---|---|---|---:|---:|"]
    for i, g in enumerate(r.groups, 1):
        ch = g.change
        rows.append(f"| {i} | {KIND_TITLES[ch.kind]} | `{ch.rec}` | {_side(ch.old)} | {_side(ch.new)} "
                    f"| {g.cases:,} | {len(g.scenarios)} |")
    return rows


def _detail(i: int, g: ChangeGroup) -> list[str]:
    ch = g.change
    out = [f"### {i}. {KIND_TITLES[ch.kind]}: `{ch.rec}`", "",
           f"Smallest case ({g.example_from}):", "", "```json", json.dumps(g.example), "```", "",
           f"- before: {', '.join(g.before) or 'no recommendation'}",
           f"- after: {', '.join(g.after) or 'no recommendation'}"]
    if g.scenarios:
        shown = ", ".join(g.scenarios[:MAX_SCENARIOS])
        more = f" and {len(g.scenarios) - MAX_SCENARIOS} more" if len(g.scenarios) > MAX_SCENARIOS else ""
        out.append(f"- scenarios affected: {shown}{more}")
    return out


def _state(s: RecState | None) -> dict[str, Any] | None:
    if s is None:
        return None
    if s.given:
        return {"given": True, "rule": s.rule, "indicator": s.indicator}
    return {"given": False, "rule": s.rule, "suppressed_by": s.suppressed_by}


def to_dict(r: DiffReport) -> dict[str, Any]:
    return {
        "old": {"policy": r.old.key, "sha256": r.old.sha256, "file": r.old.file},
        "new": {"policy": r.new.key, "sha256": r.new.sha256, "file": r.new.file},
        "changed": bool(r.groups),
        "cases": r.cases, "changed_cases": r.changed_cases,
        "enumeration": {"cases": r.enumerated, "facts": r.facts, "seconds": round(r.enum_seconds, 3),
                        "full_product": r.space_size},
        "scenarios": {"cases": r.scenario_cases, "skipped": r.skipped_scenarios},
        "seconds": round(r.seconds, 3),
        "changes": [{"kind": g.change.kind, "recommendation": g.change.rec, "old": _state(g.change.old),
                     "new": _state(g.change.new), "cases": g.cases, "scenarios": g.scenarios,
                     "example": g.example, "example_from": g.example_from,
                     "before": list(g.before), "after": list(g.after)} for g in r.groups],
    }
