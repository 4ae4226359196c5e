"""Semantic checks of a policy document; each problem carries its location.

The checks run on the document as written, even when the schema or the YAML
found problems, so that one run reports every mistake. A check reads only what
it needs, and leaves alone any value a schema problem is already about (one
mistake, one message).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.core.errors import Problem
from engine.core.suggest import did_you_mean
from engine.facts.prepare import FactSpec, fact_catalogue
from engine.policy.locate import Locator, get
from engine.policy.model import OPS, All, AnyOf, Condition, Leaf, Not, Policy, leaves
from engine.policy.paths import MAX_PATHS_PER_RULE, path_count, paths
from engine.policy.references import check_references
from engine.policy.template import PLACEHOLDER, TemplateError, parse_template
from engine.policy.yaml_source import Document, Path, json_path

__all__ = ["PLACEHOLDER", "SemanticChecker", "redaction_problems", "value_problem"]

MAX_DEPTH = 12
MAX_LEAVES_PER_RULE = 128  # after `in` expansion; durable_rules freezes past ~511 children (C5)
MAX_RULES = 250  # the schema's maxItems too
MAX_PATHS_PER_POLICY = 1200  # 20 durable rulesets of 60 paths: bounded memory and per-decision cost
# Comparisons the engine holds for one version (each path's conditions, summed): what compiling and
# linting cost grows with. At this cap the largest accepted version passes the gate in under 2 s on a
# 2-core machine (bench/gate_cost.py).
MAX_TERMS_PER_POLICY = 2_000
_NUMERIC_OPS = {"lt", "lte", "gt", "gte"}
_LIST_OPS = {"in", "not_in"}


class SemanticChecker:
    """Collects semantic problems while building the conditions (kept in `conditions` for the model)."""

    def __init__(self, doc: Document, loc: Locator, said: Iterable[Path] = ()) -> None:
        self.doc, self.loc = doc, loc
        self.data: dict[str, Any] = doc.data if isinstance(doc.data, dict) else {}
        self.said = set(said)  # paths an earlier stage reported a problem at
        self.tainted = {p[:i] for p in self.said for i in range(len(p) + 1)}
        params = self.data.get("parameters")
        self.params: dict[str, Any] = dict(params) if isinstance(params, dict) else {}
        self.facts = fact_catalogue()
        self.problems: list[Problem] = []
        self.conditions: dict[Path, Condition] = {}
        self.misfits: dict[str, list[tuple[str, Path]]] = {}  # parameter -> (why it does not fit, where used)

    def ok(self, path: Path) -> bool:
        """No earlier problem at `path` or inside it."""
        return path not in self.tainted

    def add(self, code: str, message: str, path: Path) -> None:
        self.problems.append(self.loc.at_value(code, message, path))

    def check(self, expected_version: str | None = None, expected_policy: str | None = None) -> None:
        """Every semantic check of the document."""
        self.check_identity(expected_version, expected_policy)
        rules = self.data.get("rules")
        rules = list(enumerate(rules)) if isinstance(rules, list) and ("rules",) not in self.said else []
        for i, rule in rules:
            if isinstance(rule, dict):
                self._check_rule(i, rule)
        for i, must in enumerate(self.data.get("must_decide") or ()):
            if isinstance(must, dict) and "when" in must:
                self.conditions[("must_decide", i, "when")] = self.condition(must["when"], ("must_decide", i, "when"))
        skipped = ("rules",) in self.said  # too many, or not a list: the schema said so
        self.problems += check_references(self.loc, {**self.data, "rules": []} if skipped else self.data, self.ok)
        self._check_total()
        self._report_misfits()

    def check_identity(self, expected_version: str | None, expected_policy: str | None) -> None:
        version, policy = self.data.get("version"), self.data.get("policy")
        if expected_version is not None and isinstance(version, str) and self.ok(("version",)) \
                and version != expected_version:
            self.add("version_mismatch", f"version {version!r} does not match the file name {expected_version!r}",
                     ("version",))
        if expected_policy not in (None, "", ".") and isinstance(policy, str) and self.ok(("policy",)) \
                and policy != expected_policy:
            self.add("policy_mismatch", f"policy {policy!r} does not match its folder {expected_policy!r}",
                     ("policy",))
        first = get(self.data, ("changelog", 0, "version"))
        if isinstance(first, str) and isinstance(version, str) and self.ok(("changelog", 0, "version")) \
                and self.ok(("version",)) and first != version:
            self.add("changelog", f"the first changelog entry must describe version {version}",
                     ("changelog", 0, "version"))

    # -- conditions -------------------------------------------------------

    def condition(self, node: Any, path: Path, depth: int = 1) -> Condition:
        if not isinstance(node, dict):
            return All((), json_path(path))  # the schema said what is wrong with it
        if depth > MAX_DEPTH:
            self.add("too_deep", f"conditions nest deeper than {MAX_DEPTH} levels", path)
            return All((), json_path(path))
        if "all" in node or "any" in node:
            key = "all" if "all" in node else "any"
            children = node[key] if isinstance(node[key], list) else []
            items = tuple(self.condition(c, path + (key, i), depth + 1) for i, c in enumerate(children))
            return All(items, json_path(path)) if key == "all" else AnyOf(items, json_path(path))
        if "not" in node:
            return Not(self.condition(node["not"], path + ("not",), depth + 1), json_path(path))
        return self.leaf(node, path)

    def leaf(self, node: dict[str, Any], path: Path) -> Leaf:
        fact, op = node.get("fact"), node.get("op")
        spec = self.facts.get(fact) if isinstance(fact, str) else None
        if spec is None and isinstance(fact, str) and self.ok(path + ("fact",)):
            self.add("unknown_fact", f"unknown fact {fact!r}{did_you_mean(fact, self.facts)}", path + ("fact",))
        value, param, other = node.get("value"), node.get("param"), node.get("other_fact")
        if isinstance(param, str):
            if param not in self.params and self.ok(path + ("param",)):
                self.add("unknown_parameter", f"unknown parameter {param!r}{did_you_mean(param, self.params)}",
                         path + ("param",))
            value = self.params.get(param)
        if isinstance(value, list):
            value = tuple(value)
        leaf = Leaf(str(fact), str(op), value, param, other, json_path(path), self.loc.line(path))
        if spec is not None and op in OPS and self.ok(path):
            self._check_leaf(leaf, spec, path)
        return leaf

    def _check_leaf(self, leaf: Leaf, spec: FactSpec, path: Path) -> None:
        vpath = path + (("param",) if leaf.param else ("other_fact",) if leaf.other_fact else ("value",))
        if leaf.op in _NUMERIC_OPS and not spec.numeric:
            self.add("operator_type", f"operator {leaf.op!r} needs a number, but {leaf.fact} is {_kind(spec)}",
                     path + ("op",))
            return
        if leaf.other_fact is not None:
            self._check_other_fact(leaf, spec, vpath)
            return
        if leaf.param is not None and (leaf.param not in self.params or not self.ok(("parameters", leaf.param))):
            return
        if (leaf.op in _LIST_OPS) != isinstance(leaf.value, tuple):
            need = "a list of values" if leaf.op in _LIST_OPS else "a single value"
            self.add("value_type", f"operator {leaf.op!r} needs {need}", vpath)
            return
        for v in leaf.value if isinstance(leaf.value, tuple) else (leaf.value,):
            msg = value_problem(spec, v)
            if msg and leaf.param is not None:
                self.misfits.setdefault(leaf.param, []).append((msg, path))
            elif msg:
                self.add("value_type", msg, vpath)

    def _check_other_fact(self, leaf: Leaf, spec: FactSpec, vpath: Path) -> None:
        other = self.facts.get(leaf.other_fact or "")
        if other is None:
            self.add("unknown_fact",
                     f"unknown fact {leaf.other_fact!r}{did_you_mean(leaf.other_fact or '', self.facts)}", vpath)
        elif leaf.op in _LIST_OPS:
            self.add("value_type", f"operator {leaf.op!r} cannot compare with another fact", vpath)
        elif other.numeric != spec.numeric or (not spec.numeric and other.kind != spec.kind):
            self.add("value_type", f"{leaf.fact} ({_kind(spec)}) cannot be compared with "
                                   f"{leaf.other_fact} ({_kind(other)})", vpath)

    def _report_misfits(self) -> None:
        """A parameter that does not fit a condition using it is one mistake, made where it is defined."""
        for name, uses in self.misfits.items():
            why = "; ".join(dict.fromkeys(msg for msg, _ in uses))
            where = "; ".join(dict.fromkeys(f"{self.loc.subject(p) or 'a condition'}, line {self.loc.line(p)}"
                                            for _, p in uses))
            hint = "; write it without quotes" if _numeric_text(self.params[name]) else ""
            self.add("value_type", f"parameter {name!r} is {self.params[name]!r}, which does not fit the conditions "
                                   f"that use it ({where}): {why}{hint}", ("parameters", name))

    # -- rules ------------------------------------------------------------

    def _check_rule(self, i: int, rule: dict[str, Any]) -> None:
        path = ("rules", i)
        if "when" in rule:
            when = self.conditions[path + ("when",)] = self.condition(rule["when"], path + ("when",))
            if self.ok(path + ("when",)):
                self._check_size(path, when)
        rationale = rule.get("rationale")
        if isinstance(rationale, str) and self.ok(path + ("rationale",)):
            try:
                parse_template(rationale, self.params, self.facts)
            except TemplateError as e:
                self.problems += [self.loc.at_text(x.code, x.message, path + ("rationale",), x.placeholder)
                                  for x in e.issues]

    def _check_size(self, path: Path, when: Condition) -> None:
        n = _expanded_leaves(when)
        if n > MAX_LEAVES_PER_RULE:
            self.add("too_many_conditions",
                     f"{n} conditions after expanding lists; a rule may have at most {MAX_LEAVES_PER_RULE}",
                     path + ("when",))
            return
        count = path_count(when)
        if count > MAX_PATHS_PER_RULE:
            self.add("too_complex",
                     f"the conditions expand to at least {count} alternative cases (each `any` or `in` inside an "
                     f"`all` multiplies them); at most {MAX_PATHS_PER_RULE}: split the rule", path + ("when",))

    def _check_total(self) -> None:
        whens = [c for p, c in self.conditions.items() if p[0] == "rules"]
        total = sum(min(path_count(c), MAX_PATHS_PER_RULE + 1) for c in whens)
        if total > MAX_PATHS_PER_POLICY:
            self.add("too_complex", f"the rules expand to {total} alternative cases in all; one policy version "
                                    f"may have at most {MAX_PATHS_PER_POLICY}", ("rules",))
            return
        fit = [c for c in whens if path_count(c) <= MAX_PATHS_PER_RULE]  # the others are refused already
        terms = sum(len(alternative) for c in fit for alternative in paths(c))
        if terms > MAX_TERMS_PER_POLICY:
            self.add("too_complex", f"the rules hold {terms:,} comparisons in all once each `any` and `in` is "
                                    f"expanded; one policy version may hold at most {MAX_TERMS_PER_POLICY:,}: "
                                    "split the policy, or simplify its longest rules", ("rules",))


def _numeric_text(v: Any) -> bool:
    try:
        return isinstance(v, str) and float(v) == float(v)
    except ValueError:
        return False


def _expanded_leaves(cond: Condition) -> int:
    return sum(len(x.value) if isinstance(x.value, tuple) else 1 for x in leaves(cond))


def _kind(spec: FactSpec) -> str:
    return {"enum": "a choice", "boolean": "a boolean", "integer": "an integer",
            "number": "a number", "string": "a string"}[spec.kind]


def value_problem(spec: FactSpec, v: Any) -> str | None:
    """Why `v` cannot be compared with the fact, or None when it fits."""
    if spec.kind == "boolean" and not isinstance(v, bool):
        return f"{spec.path} is a boolean; {v!r} is not true or false"
    if spec.numeric and (isinstance(v, bool) or not isinstance(v, (int, float))):
        return f"{spec.path} is a number; {v!r} is not"
    if spec.kind == "integer" and isinstance(v, float) and not v.is_integer():
        return f"{spec.path} is an integer; {v!r} is not"
    if spec.kind == "enum" and v not in spec.enum:
        hint = did_you_mean(str(v), spec.enum)
        return f"{v!r} is not a value of {spec.path} (one of: {', '.join(spec.enum)}){hint}"
    if spec.kind == "string" and not isinstance(v, str):
        return f"{spec.path} is a string; {v!r} is not"
    return None


def redaction_problems(policies: Iterable[Policy], redacted: Iterable[str]) -> list[Problem]:
    """Rules whose rationale would write a redacted fact's value into the decision log anyway.

    The log redacts facts and matched conditions, but a rationale is text: a fact it
    quotes (`{fact}`, or a condition on it rendered by `{matched}`) would be stored.
    """
    hidden = set(redacted)
    out = []
    for policy in policies:
        for i, rule in enumerate(policy.rules):
            template = parse_template(rule.rationale, policy.parameters, fact_catalogue())
            quoted = hidden & template.facts
            if template.quotes_matched:
                quoted |= hidden & {leaf.fact for leaf in leaves(rule.when)}
            for fact in sorted(quoted):
                out.append(Problem(
                    "redacted_fact_quoted",
                    f"rule {rule.id} quotes {fact} in its rationale, so the decision log would store the value "
                    "that decision_log.redact hides: remove the quote, or stop redacting the fact",
                    f"$.rules[{i}].rationale", policy.file, rule.line, 1))
    return out
