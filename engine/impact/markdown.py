"""The impact report as Markdown for a pull-request comment: the summary first, details folded, under a size limit."""

from __future__ import annotations

from engine.impact.changes import PolicyChange
from engine.impact.outcome import ChangeGroup, RecState
from engine.impact.report import KIND_WORDS, ImpactReport
from engine.impact.traffic import TrafficDiff
from engine.impact.words import fact_rows

__all__ = ["to_markdown", "COMMENT_LIMIT"]

COMMENT_LIMIT = 60_000  # characters; a GitHub comment holds 65,536
_RESERVE = 400  # kept free for the closing note
Chunk = list[str]  # lines kept or dropped together


def _cell(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _side(state: RecState | None) -> str:
    return "—" if state is None else state.describe()


def _head(r: ImpactReport) -> Chunk:
    o, n = r.old, r.new
    lines = [f"## Policy impact: `{o.key}` → `{n.key}`", "", f"**{r.summary()}**", "",
             f"Old `{o.sha256[:12]}` ({o.file}, in effect from {o.effective_from}), new `{n.sha256[:12]}` "
             f"({n.file}, in effect from {n.effective_from}).", ""]
    if r.cases is not None:
        lines += [r.cases.sentence(), ""]
    if r.traffic is not None:
        lines += [r.traffic.sentence(), ""]
    return lines


def _what(c: PolicyChange) -> str:
    name = f"{c.section.replace('_', ' ')} `{c.subject}`" if c.section not in ("effective_from",) else "effective date"
    return f"{name} {c.action}" + (f": {c.field.replace('_', ' ')}" if c.action == "changed" and c.field
                                   and c.field not in ("value", c.subject) else "")


Parts = tuple[list[Chunk], list[Chunk]]  # (tables, folded details) of one section


def _policy_parts(r: ImpactReport) -> Parts:
    if not r.changes:
        return [["### Changes to the policy", "", "None: the two files say the same.", ""]], []
    tables: list[Chunk] = [[f"### Changes to the policy ({len(r.changes)})", "", "| where | what | before | after |",
                            "|---|---|---|---|"]]
    for c in r.changes:
        before, after = (c.old, c.new) if c.action == "changed" or c.section == "changelog" else \
            ("—", "see below") if c.action == "added" else ("see below", "—")
        tables.append([f"| {c.where} | {_what(c)} | {_cell(before) or '—'} | {_cell(after) or '—'} |"])
    tables.append([""])
    details = []
    for c in r.changes:
        if c.details and c.section != "changelog":
            rows = [f"| {k.replace('_', ' ')} | {_cell(v, 1000) or '—'} |" for k, v in c.details]
            details.append([f"<details><summary>Policy: {_what(c)} ({c.where})</summary>", "", "| field | value |",
                            "|---|---|", *rows, "", "</details>", ""])
    return tables, details


def _group_table(groups: list[ChangeGroup], count: str) -> list[Chunk]:
    out: list[Chunk] = [[f"| # | change | recommendation | before | after | {count} | caused by |",
                         "|---:|---|---|---|---|---:|---|"]]
    for i, g in enumerate(groups, 1):
        ch = g.change
        out.append([f"| {i} | {KIND_WORDS[ch.kind]} | `{ch.rec}` | {_side(ch.old)} | {_side(ch.new)} | {g.cases:,} "
                    f"| {', '.join(g.causes) or '—'} |"])
    return [*out, [""]]


def _wording(g: ChangeGroup) -> list[str]:
    if not g.wording:
        return []
    kind = g.change.kind
    return [f"- {kind} before: {_cell(g.wording[0], 2000)}", f"- {kind} after: {_cell(g.wording[1], 2000)}"]


def _case_detail(i: int, g: ChangeGroup) -> Chunk:
    ch = g.change
    rows = [f"| {k} | {_cell(v)} |" for k, v in fact_rows(g.example)] or ["| (every fact at its default) | |"]
    out = [f"<details><summary>Generated cases, {i}. {KIND_WORDS[ch.kind]}: <code>{ch.rec}</code>, {g.cases:,} "
           "cases</summary>", "",
           f"Example ({g.example_from}), the facts that differ from the defaults:", "", "| fact | value |",
           "|---|---|", *rows, "", f"- before: {', '.join(g.before) or 'no recommendation'}",
           f"- after: {', '.join(g.after) or 'no recommendation'}", *_wording(g)]
    if g.scenarios:
        more = f" and {len(g.scenarios) - 5} more" if len(g.scenarios) > 5 else ""
        out.append(f"- scenarios affected: {', '.join(g.scenarios[:5])}{more}")
    return [*out, "", "</details>", ""]


def _case_parts(r: ImpactReport) -> Parts:
    if r.cases is None:
        return [], []
    head = ["### Decisions that change on generated cases", ""]
    if not r.cases.groups:
        return [[*head, f"None of the {r.cases.cases:,} generated cases is decided differently.", ""]], []
    return [head, *_group_table(r.cases.groups, "cases")], [_case_detail(i, g) for i, g in enumerate(r.cases.groups, 1)]


def _traffic_detail(i: int, g: ChangeGroup) -> Chunk:
    ch = g.change
    ids = ", ".join(f"`{d}`" for d in g.decision_ids)
    more = f" (the first {len(g.decision_ids)})" if g.cases > len(g.decision_ids) else ""
    return [f"<details><summary>Logged traffic, {i}. {KIND_WORDS[ch.kind]}: <code>{ch.rec}</code>, {g.cases:,} "
            "decisions</summary>",
            "", f"Decision ids{more}: {ids}", "", *_wording(g), "", "</details>", ""]


def _traffic_parts(t: TrafficDiff | None) -> Parts:
    if t is None:
        return [], []
    tables: list[Chunk] = [["### Decisions that change on logged traffic", ""]]
    details = [_traffic_detail(i, g) for i, g in enumerate(t.groups, 1)]
    if t.groups:
        tables += _group_table(t.groups, "decisions")
    else:
        tables.append([f"None of the {t.replayed:,} replayed decisions would be decided differently.", ""])
    if t.unreplayable:
        tables.append([f"**Cannot be replayed: {t.not_replayed:,}**", "", "| reason | decisions | decision ids |",
                       "|---|---:|---|"])
        tables += [[f"| {_cell(u.reason)} | {u.count:,} | {', '.join(u.decision_ids[:5])}"
                    f"{' …' if u.count > 5 else ''} |"] for u in t.unreplayable]
        tables.append([""])
    return tables, details


def _footer(r: ImpactReport) -> Chunk:
    notes = []
    if r.cases is not None:
        c = r.cases
        notes.append(f"Enumeration: {c.enumerated:,} cases over {len(c.facts)} facts in {c.enum_seconds:.2f}s with the "
                     f"compiled engine (the full product of all facts would be {c.space_size:,}).")
        if c.skipped_scenarios:
            notes.append(f"Skipped {len(c.skipped_scenarios)} scenario(s) with invalid facts: "
                         f"{', '.join(c.skipped_scenarios)}.")
    if r.traffic is not None:
        notes.append(f"Traffic replay: {r.traffic.read:,} decisions in {r.traffic.seconds:.2f}s.")
    notes.append(f"Total {r.seconds:.2f}s.")
    return [f"_{n}_" for n in notes]


def to_markdown(r: ImpactReport, *, limit: int | None = COMMENT_LIMIT, full_report: str | None = None) -> str:
    """The report: summary, tables, then the folded details; over `limit` characters what does not fit is left
    out, with a note saying where the rest is (None: everything)."""
    parts = [_policy_parts(r), _case_parts(r), _traffic_parts(r.traffic)]
    chunks = [_head(r), *(c for tables, _ in parts for c in tables), *(c for _, details in parts for c in details)]
    footer = "\n".join(_footer(r)) + "\n"
    out: list[str] = []
    size = len(footer)
    for i, chunk in enumerate(chunks):
        text = "\n".join(chunk) + "\n"
        if limit is not None and i and size + len(text) > limit - _RESERVE:
            where = f"the full report is in `{full_report}`" if full_report else "the JSON report has everything"
            out.append(f"\n_This comment is shortened to stay under {limit:,} characters: {len(chunks) - i} more "
                       f"items are left out; {where}._\n\n")
            break
        out.append(text)
        size += len(text)
    return "".join(out) + footer
