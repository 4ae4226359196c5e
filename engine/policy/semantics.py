"""Semantic checks of a schema-valid policy document; each problem carries its location."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from engine.core.errors import Problem
from engine.core.suggest import did_you_mean
from engine.facts.prepare import FactSpec, fact_catalogue
from engine.policy.model import All, AnyOf, Condition, Leaf, Not, Policy, Recommendation, Rule, leaves
from engine.policy.paths import MAX_PATHS_PER_RULE, path_count
from engine.policy.yaml_source import Document, Path, json_path

MAX_DEPTH = 12
MAX_LEAVES_PER_RULE = 128  # after `in` expansion; durable_rules freezes past ~511 children (C5)
MAX_RULES = 250  # the schema's maxItems too
MAX_PATHS_PER_POLICY = 1200  # 20 durable rulesets of 60 paths: bounded memory and per-decision cost
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_NUMERIC_OPS = {"lt", "lte", "gt", "gte"}
_LIST_OPS = {"in", "not_in"}


class SemanticChecker:
    """Collects semantic problems while building conditions and rules."""

    def __init__(self, doc: Document, filename: str) -> None:
        self.doc = doc
        self.filename = filename
        self.params: dict[str, Any] = dict(doc.data.get("parameters", {}))
        self.facts = fact_catalogue()
        self.problems: list[Problem] = []
        self.used_params: set[str] = set()

    def line(self, path: Path) -> int | None:
        pos = self.doc.position(path)
        return pos[0] if pos else None

    def add(self, code: str, message: str, path: Path) -> None:
        line, col = self.doc.position(path) or (1, 1)
        self.problems.append(Problem(code, message, json_path(path), self.filename, line, col))

    def check_identity(self, expected_version: str | None, expected_policy: str | None) -> None:
        data = self.doc.data
        if expected_version is not None and data["version"] != expected_version:
            self.add("version_mismatch",
                     f"version {data['version']!r} does not match the file name {expected_version!r}", ("version",))
        if expected_policy is not None and expected_policy not in ("", ".") and data["policy"] != expected_policy:
            self.add("policy_mismatch",
                     f"policy {data['policy']!r} does not match its folder {expected_policy!r}", ("policy",))
        if data["changelog"][0]["version"] != data["version"]:
            self.add("changelog", f"the first changelog entry must describe version {data['version']}",
                     ("changelog", 0, "version"))

    # -- conditions -------------------------------------------------------

    def condition(self, node: dict[str, Any], path: Path, depth: int = 1) -> Condition:
        if depth > MAX_DEPTH:
            self.add("too_deep", f"conditions nest deeper than {MAX_DEPTH} levels", path)
            return All((), json_path(path))
        if "all" in node or "any" in node:
            key = "all" if "all" in node else "any"
            items = tuple(self.condition(c, path + (key, i), depth + 1) for i, c in enumerate(node[key]))
            return All(items, json_path(path)) if key == "all" else AnyOf(items, json_path(path))
        if "not" in node:
            return Not(self.condition(node["not"], path + ("not",), depth + 1), json_path(path))
        return self.leaf(node, path)

    def leaf(self, node: dict[str, Any], path: Path) -> Leaf:
        fact, op = node["fact"], node["op"]
        spec = self.facts.get(fact)
        if spec is None:
            self.add("unknown_fact", f"unknown fact {fact!r}{did_you_mean(fact, self.facts)}", path + ("fact",))
        value, param, other = node.get("value"), node.get("param"), node.get("other_fact")
        if param is not None:
            self.used_params.add(param)
            if param not in self.params:
                self.add("unknown_parameter", f"unknown parameter {param!r}{did_you_mean(param, self.params)}",
                         path + ("param",))
            value = self.params.get(param)
        if isinstance(value, list):
            value = tuple(value)
        leaf = Leaf(fact, op, value, param, other, json_path(path), self.line(path))
        if spec is not None:
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
        if leaf.param is not None and leaf.param not in self.params:
            return
        if (leaf.op in _LIST_OPS) != isinstance(leaf.value, tuple):
            need = "a list of values" if leaf.op in _LIST_OPS else "a single value"
            self.add("value_type", f"operator {leaf.op!r} needs {need}", vpath)
            return
        for v in leaf.value if isinstance(leaf.value, tuple) else (leaf.value,):
            msg = value_problem(spec, v)
            if msg:
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

    # -- rules ------------------------------------------------------------

    def check_rules(self, rules: tuple[Rule, ...], recs: dict[str, Recommendation]) -> None:
        if len(rules) > MAX_RULES:
            self.add("too_many_rules", f"{len(rules)} rules; one policy version may have at most {MAX_RULES}",
                     ("rules",))
        seen: dict[str, int] = {}
        for i, rule in enumerate(rules):
            if rule.id in seen:
                self.add("duplicate_rule_id",
                         f"rule id {rule.id!r} is already used by rules[{seen[rule.id]}]", ("rules", i, "id"))
            seen.setdefault(rule.id, i)
            self._check_rule_refs(i, rule, recs)
            self._check_size(i, rule)
        for rid, rec in recs.items():
            for other in rec.conflicts_with:
                if other not in recs:
                    self.add("unknown_recommendation",
                             f"unknown recommendation {other!r}{did_you_mean(other, recs)}",
                             ("recommendations", rid, "conflicts_with"))
        self._check_cycles(rules)
        total = sum(min(path_count(r.when), MAX_PATHS_PER_RULE + 1) for r in rules)
        if total > MAX_PATHS_PER_POLICY:
            self.add("too_complex", f"the rules expand to {total} alternative cases in all; one policy version "
                                    f"may have at most {MAX_PATHS_PER_POLICY}", ("rules",))

    def _check_size(self, i: int, rule: Rule) -> None:
        n = _expanded_leaves(rule.when)
        if n > MAX_LEAVES_PER_RULE:
            self.add("too_many_conditions",
                     f"{n} conditions after expanding lists; a rule may have at most {MAX_LEAVES_PER_RULE}",
                     ("rules", i, "when"))
            return
        count = path_count(rule.when)
        if count > MAX_PATHS_PER_RULE:
            self.add("too_complex",
                     f"the conditions expand to at least {count} alternative cases (each `any` or `in` inside an "
                     f"`all` multiplies them); at most {MAX_PATHS_PER_RULE}: split the rule",
                     ("rules", i, "when"))

    def _check_rule_refs(self, i: int, rule: Rule, recs: dict[str, Recommendation]) -> None:
        for key, ids in (("then", rule.then), ("suppresses", rule.suppresses)):
            for rid in ids:
                if rid not in recs:
                    self.add("unknown_recommendation",
                             f"unknown recommendation {rid!r}{did_you_mean(rid, recs)}", ("rules", i, key))
        for rid in set(rule.then) & set(rule.suppresses):
            self.add("self_suppression", f"rule {rule.id} both gives and suppresses {rid!r}",
                     ("rules", i, "suppresses"))
        for name in PLACEHOLDER.findall(rule.rationale):
            self._check_placeholder(name, ("rules", i, "rationale"))

    def _check_placeholder(self, name: str, path: Path) -> None:
        if name == "matched":
            return
        if name.startswith("param:"):
            p = name[len("param:"):]
            self.used_params.add(p)
            if p not in self.params:
                self.add("unknown_parameter", f"rationale quotes unknown parameter {p!r}{did_you_mean(p, self.params)}",
                         path)
        elif name not in self.facts:
            self.add("unknown_fact", f"rationale quotes unknown fact {name!r}{did_you_mean(name, self.facts)}", path)

    def _check_cycles(self, rules: tuple[Rule, ...]) -> None:
        # Edge A -> B when rule A suppresses a recommendation that rule B gives.
        givers: dict[str, list[str]] = {}
        for r in rules:
            for rid in r.then:
                givers.setdefault(rid, []).append(r.id)
        edges = {r.id: sorted({g for s in r.suppresses for g in givers.get(s, ()) if g != r.id}) for r in rules}
        cycle = _find_cycle(edges)
        if cycle:
            index = {r.id: i for i, r in enumerate(rules)}
            self.add("suppression_cycle", "suppression cycle: " + " -> ".join(cycle),
                     ("rules", index[cycle[0]], "suppresses"))


def _find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in edges.get(n, ()):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(edges):
        if n not in state and (found := visit(n)):
            return found
    return None


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
            names = set(PLACEHOLDER.findall(rule.rationale))
            quoted = hidden & names
            if "matched" in names:
                quoted |= hidden & {leaf.fact for leaf in leaves(rule.when)}
            for fact in sorted(quoted):
                out.append(Problem(
                    "redacted_fact_quoted",
                    f"rule {rule.id} quotes {fact} in its rationale, so the decision log would store the value "
                    "that decision_log.redact hides: remove the quote, or stop redacting the fact",
                    f"$.rules[{i}].rationale", policy.file, rule.line, 1))
    return out
