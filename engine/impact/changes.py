"""What changed between two policy versions, each change at its file:line, in words.

Parameters (old -> new), the effective date, title and owner, changelog entries
added, catalog entries (title, text, indicator, category, conflicts) and rules
added, removed or changed field by field (conditions as sentences, priority,
`then`, `suppresses`, indicator, rationale, title, source).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.impact.words import condition_sentence, show
from engine.policy.model import Policy, Recommendation, Rule, leaves
from engine.policy.yaml_source import Document, read_yaml

__all__ = ["PolicyChange", "policy_changes", "rule_parameters"]

_REC_FIELDS = ("title", "text", "indicator", "category", "conflicts_with")
_RULE_FIELDS = ("title", "when", "priority", "then", "suppresses", "indicator", "rationale", "source")


@dataclass(frozen=True)
class PolicyChange:
    """One change: `section` parameter | effective_from | policy | changelog | recommendation | rule."""

    section: str
    subject: str  # the parameter name, rule id, recommendation id, changelog version, or the field
    action: str  # changed | added | removed
    field: str = ""  # the field of a rule or recommendation that changed ("" for the whole item)
    old: str = ""
    new: str = ""
    file: str = ""
    line: int | None = None
    details: tuple[tuple[str, str], ...] = ()  # (field, value) of an added or removed item

    @property
    def ref(self) -> str:
        """`rule CA-060`, `parameter review_after_consecutive_missed`: how the decision groups name their cause."""
        return f"{self.section} {self.subject}"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def to_dict(self) -> dict[str, Any]:
        return {"section": self.section, "subject": self.subject, "action": self.action, "field": self.field,
                "old": self.old, "new": self.new, "file": self.file, "line": self.line,
                "details": [{"field": k, "value": v} for k, v in self.details]}


class _Doc:
    """Lines of paths in one version's file."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        doc, _ = read_yaml(policy.source_text, policy.file)
        self.doc: Document | None = doc

    def line(self, *path: Any) -> int | None:
        pos = self.doc.position(path) if self.doc else None
        return pos[0] if pos else None

    def rule_line(self, rule_id: str, fld: str = "") -> int | None:
        rules = self.doc.data.get("rules") if self.doc and isinstance(self.doc.data, dict) else None
        for i, item in enumerate(rules if isinstance(rules, list) else ()):
            if isinstance(item, dict) and item.get("id") == rule_id:
                return self.line("rules", i, *((fld,) if fld and fld in item else ()))
        return None


def rule_parameters(rule: Rule) -> set[str]:
    """The parameters a rule reads: in its conditions and in its rationale (`{param:name}`)."""
    found = {leaf.param for leaf in leaves(rule.when) if leaf.param}
    rest = rule.rationale
    while "{param:" in rest:
        rest = rest.split("{param:", 1)[1]
        found.add(rest.split("}", 1)[0])
    return found


def _rule_value(rule: Rule, fld: str, policy: Policy, *, with_values: bool = True) -> str:
    if fld == "when":
        return condition_sentence(rule.when, policy.parameters if with_values else None)
    value = getattr(rule, fld)
    if isinstance(value, tuple):
        return ", ".join(value) or "none"
    return "" if value is None else str(value)


def _rec_value(rec: Recommendation, fld: str) -> str:
    value = getattr(rec, fld)
    return ", ".join(value) or "none" if isinstance(value, tuple) else str(value)


def _parameters(old: Policy, new: Policy, a: _Doc, b: _Doc) -> list[PolicyChange]:
    out = []
    for name in sorted(set(old.parameters) | set(new.parameters)):
        before, after = old.parameters.get(name), new.parameters.get(name)
        if before == after and (name in old.parameters) == (name in new.parameters):
            continue
        action = "added" if name not in old.parameters else "removed" if name not in new.parameters else "changed"
        doc = a if action == "removed" else b
        out.append(PolicyChange("parameter", name, action, "value", show(before) if action != "added" else "",
                                show(after) if action != "removed" else "", doc.policy.file,
                                doc.line("parameters", name)))
    return out


def _metadata(old: Policy, new: Policy, b: _Doc) -> list[PolicyChange]:
    out = []
    if old.effective_from != new.effective_from:
        out.append(PolicyChange("effective_from", "effective_from", "changed", "", old.effective_from.isoformat(),
                                new.effective_from.isoformat(), new.file, b.line("effective_from")))
    for fld in ("title", "owner"):
        if getattr(old, fld) != getattr(new, fld):
            out.append(PolicyChange("policy", fld, "changed", fld, getattr(old, fld), getattr(new, fld), new.file,
                                    b.line(fld)))
    known = [dict(e) for e in old.changelog]
    for i, entry in enumerate(new.changelog):
        if dict(entry) not in known:
            out.append(PolicyChange("changelog", str(entry.get("version", i)), "added", "changes", "",
                                    str(entry.get("changes", "")), new.file, b.line("changelog", i),
                                    tuple((k, show(v)) for k, v in entry.items())))
    return out


def _items(old: dict[str, Any], new: dict[str, Any], section: str, fields: tuple[str, ...],
           value: Callable[[Any, str, bool], str], line: Callable[[bool, str, str], tuple[str, int | None]],
           ) -> list[PolicyChange]:
    out = []
    for key in sorted(set(old) | set(new)):
        if key not in old or key not in new:
            action, item, is_new = ("added", new[key], True) if key not in old else ("removed", old[key], False)
            file, at = line(is_new, key, "")
            details = tuple((f, value(item, f, is_new)) for f in fields)
            out.append(PolicyChange(section, key, action, "", file=file, line=at, details=details))
            continue
        for f in fields:
            if value(old[key], f, False) != value(new[key], f, True):
                file, at = line(True, key, f)
                out.append(PolicyChange(section, key, "changed", f, value(old[key], f, False),
                                        value(new[key], f, True), file, at))
    return out


def policy_changes(old: Policy, new: Policy) -> list[PolicyChange]:
    """Every change from `old` to `new`, in the order a reader goes through a file."""
    a, b = _Doc(old), _Doc(new)
    recs = _items(old.recommendations, new.recommendations, "recommendation", _REC_FIELDS,
                  lambda r, f, _new: _rec_value(r, f),
                  lambda is_new, k, _f: ((new if is_new else old).file,
                                         (b if is_new else a).line("recommendations", k, *((_f,) if _f else ()))))
    rules = _items({r.id: r for r in old.rules}, {r.id: r for r in new.rules}, "rule", _RULE_FIELDS,
                   # conditions compared without parameter values (a new value is a parameter change)
                   lambda r, f, is_new: _rule_value(r, f, new if is_new else old, with_values=f != "when"),
                   lambda is_new, k, f: ((new if is_new else old).file, (b if is_new else a).rule_line(k, f)))
    rules = [_with_values(c, old, new) for c in rules]
    return _metadata(old, new, b) + _parameters(old, new, a, b) + recs + rules


def _with_values(change: PolicyChange, old: Policy, new: Policy) -> PolicyChange:
    """Conditions are compared without parameter values but shown with them."""
    if change.field == "when":
        before = condition_sentence(old.rule(change.subject).when, old.parameters)
        after = condition_sentence(new.rule(change.subject).when, new.parameters)
        return PolicyChange(change.section, change.subject, change.action, "when", before, after, change.file,
                            change.line)
    if change.action in ("added", "removed"):
        policy = new if change.action == "added" else old
        details = tuple((f, condition_sentence(policy.rule(change.subject).when, policy.parameters))
                        if f == "when" else (f, v) for f, v in change.details)
        return PolicyChange(change.section, change.subject, change.action, "", file=change.file, line=change.line,
                            details=details)
    return change

