"""Static analysis of a policy over the finite fact space, with a concrete case for every finding.

Each question (can this rule fire? can these two conflicting recommendations be
given together? can this must_decide situation get nothing?) is a goal searched
for over the facts that decide it, with three-valued pruning (see logic.py). The
case a search finds is then decided by the compiled engine, which both checks the
analysis and shows the reviewer what the case gets.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from engine.analysis.findings import Finding, LintReport, Severity, sort_findings
from engine.analysis.lint_static import static_findings
from engine.analysis.logic import Goal, PolicyLogic, Search, cond3, facts_of, order_facts, search, t_and, t_not
from engine.analysis.space import build_space, policy_leaves, prepared, to_facts
from engine.compile.ruleset import CompiledPolicy, compile_policy
from engine.core.errors import EngineError
from engine.decide.decider import decide
from engine.decide.rationale import Decision
from engine.decide.reference import evaluate_condition
from engine.policy.model import SYMBOL, Leaf, Policy, leaves, to_nnf
from engine.policy.yaml_source import Path, read_yaml

__all__ = ["lint_policies", "DEFAULT_BUDGET"]

DEFAULT_BUDGET = 200_000  # search nodes per question
_CLOSEST_LIMIT = 50_000  # combinations tried to show how close an unreachable rule comes
_CLOSEST_TIES = 200
CASE_ID = "lint-case"
Agrees = Callable[[Decision], bool]


class _Context:
    """One policy version under analysis: its logic, its fact space, where things are in its file."""

    def __init__(self, policy: Policy, compiled: CompiledPolicy, budget: int) -> None:
        self.policy = policy
        self.compiled = compiled
        self.budget = budget
        self.logic = PolicyLogic(policy)
        self.space = build_space([policy])
        doc = read_yaml(policy.source_text, policy.file)[0]
        self.positions = doc.position if doc else (lambda path: None)
        self.weight = Counter(f for leaf in policy_leaves(policy) for f in (leaf.fact, leaf.other_fact) if f)
        self.index = {r.id: i for i, r in enumerate(policy.rules)}
        self.nodes = 0
        self.findings: list[Finding] = []

    def find(self, facts: Iterable[str], goal: Goal, first: Iterable[str] = ()) -> Search:
        result = search(self.space, order_facts(facts, first, self.weight, self.space), goal, self.budget)
        self.nodes += result.nodes
        return result

    def add(self, code: str, severity: Severity, message: str, path: Path, rule: str | None = None,
            case: dict[str, Any] | None = None, agrees: Agrees | None = None) -> None:
        """Record a finding; its case (if any) is decided by the engine, which must agree with the analysis."""
        line, column = self.positions(path) or (None, None)
        facts = summary = None
        if case is not None:
            facts = to_facts(case, CASE_ID)
            decision = decide(self.compiled, prepared(case, CASE_ID))
            if agrees is not None and not agrees(decision):
                raise EngineError(f"lint and the compiled engine disagree on {code} in {self.policy.key} "
                                  f"for {facts}", ruleset=self.policy.key)
            summary = tuple([f"{r.id} ({r.rule})" for r in decision.recommendations]
                            + [f"{s.id} suppressed by {s.suppressed_by}" for s in decision.suppressed])
        self.findings.append(Finding(code, severity, message, self.policy.file, line, column, self.policy.key, rule,
                                     facts, summary))

    def inconclusive(self, what: str, path: Path, rule: str | None = None) -> None:
        self.add("lint_inconclusive", "warning",
                 f"{what}: not settled within {self.budget:,} combinations; simplify the conditions", path, rule)

    def rule_path(self, rule_id: str, key: str | None = None) -> Path:
        base: Path = ("rules", self.index[rule_id])
        return base + (key,) if key else base


def _fires(logic: PolicyLogic, rule_id: str) -> Goal:
    return lambda a: logic.fires(rule_id, a)


def _silenced(rule_id: str, then: Sequence[str]) -> Agrees:
    return lambda d: rule_id in d.fired and not {x.id for x in d.recommendations} & set(then)


def _both_fired(a: str, b: str) -> Agrees:
    return lambda d: {a, b} <= set(d.fired)


def _both_given(a: str, b: str) -> Agrees:
    return lambda d: {a, b} <= {x.id for x in d.recommendations}


def _check_reachable(ctx: _Context) -> dict[str, dict[str, Any]]:
    """Find a case for every rule; report the rules that can never fire."""
    reachable: dict[str, dict[str, Any]] = {}
    for rule in ctx.policy.rules:
        facts = ctx.logic.rule_facts([rule.id])
        result = ctx.find(facts, _fires(ctx.logic, rule.id))
        if not result.complete:
            ctx.inconclusive(f"whether rule {rule.id} can fire", ctx.rule_path(rule.id), rule.id)
        elif result.found is None:
            _report_unreachable(ctx, rule.id, sorted(facts))
        else:
            reachable[rule.id] = result.found
    return reachable


def _report_unreachable(ctx: _Context, rule_id: str, facts: list[str]) -> None:
    n = ctx.space.size(facts)
    message = (f"rule {rule_id} can never fire: no combination of {', '.join(facts)} satisfies all its "
               f"conditions ({n:,} checked)")
    closest = _closest(ctx, rule_id, facts) if n <= _CLOSEST_LIMIT else None
    if closest is not None:
        case, failed = closest
        message += f"; the closest case fails at {_describe(failed)} (line {failed.line})"
    ctx.add("unreachable_rule", "error", message, ctx.rule_path(rule_id, "when"), rule_id,
            closest[0] if closest else None, lambda d: rule_id not in d.fired)


def _closest(ctx: _Context, rule_id: str, facts: list[str]) -> tuple[dict[str, Any], Leaf] | None:
    """The case meeting most of the rule's conditions; among those, the one failing latest."""
    nnf_leaves = leaves(ctx.logic.nnf[rule_id])
    scored = [(sum(1 for x in nnf_leaves if cond3(x, a)), a) for a in ctx.space.assignments(facts)]
    if not scored:
        return None
    top = max(score for score, _ in scored)
    best: tuple[int, dict[str, Any], Leaf] | None = None
    for a in [a for score, a in scored if score == top][:_CLOSEST_TIES]:
        failed = evaluate_condition(ctx.policy.rule(rule_id).when, prepared(a, CASE_ID)).failed
        at = nnf_leaves.index(failed) if failed in nnf_leaves else -1
        if failed is not None and (best is None or at > best[0]):
            best = (at, a, failed)
    return (best[1], best[2]) if best else None


def _describe(leaf: Leaf) -> str:
    rhs = leaf.other_fact if leaf.other_fact else json.dumps(leaf.expected())
    return f"`{leaf.fact} {SYMBOL[leaf.op]} {rhs}`"


def _check_always_suppressed(ctx: _Context, reachable: dict[str, dict[str, Any]]) -> None:
    logic = ctx.logic
    for rule in ctx.policy.rules:
        suppressors = sorted({s for rec in rule.then for s in logic.suppressors.get(rec, ())} - {rule.id})
        if rule.id not in reachable or not suppressors:
            continue
        rules = [rule.id, *suppressors]

        def goal(a: Any, rule_id: str = rule.id, rules: list[str] = rules, then: Sequence[str] = rule.then) -> Any:
            fired = logic.fired(a, rules)
            return t_and((fired[rule_id], t_not(t_and(logic.suppressed(r, fired) for r in then))))

        result = ctx.find(logic.rule_facts(rules), goal)
        if not result.complete:
            ctx.inconclusive(f"whether rule {rule.id} is always suppressed", ctx.rule_path(rule.id), rule.id)
        elif result.found is None:
            ctx.add("always_suppressed", "warning",
                    f"rule {rule.id} can fire, but whenever it does, everything it gives "
                    f"({', '.join(rule.then)}) is suppressed (by {', '.join(suppressors)})",
                    ctx.rule_path(rule.id, "then"), rule.id, reachable[rule.id],
                    _silenced(rule.id, rule.then))


def _precedes(a: Any, b: Any) -> bool:
    return bool((a.priority, a.id) < (b.priority, b.id))


def _check_shadowed(ctx: _Context, reachable: dict[str, dict[str, Any]]) -> None:
    logic = ctx.logic
    for b in ctx.policy.rules:
        if b.id not in reachable:
            continue
        for a in ctx.policy.rules:
            if a.id == b.id or not _precedes(a, b) or not set(b.then) <= set(a.then):
                continue

            def goal(x: Any, a_id: str = a.id, b_id: str = b.id) -> Any:
                return t_and((logic.fires(b_id, x), t_not(logic.fires(a_id, x))))

            result = ctx.find(logic.rule_facts([a.id, b.id]), goal)
            if result.complete and result.found is None:
                ctx.add("shadowed_rule", "warning",
                        f"rule {b.id} is shadowed by {a.id}: whenever {b.id} fires, {a.id} fires too and gives "
                        f"{', '.join(b.then)} first, so {b.id} never changes a decision",
                        ctx.rule_path(b.id, "when"), b.id, reachable[b.id],
                        _both_fired(a.id, b.id))
                break


def _conflict_pairs(policy: Policy) -> list[tuple[str, str]]:
    pairs = {tuple(sorted((rid, other))) for rid, rec in policy.recommendations.items() for other in rec.conflicts_with}
    return sorted((p[0], p[1]) for p in pairs if p[0] != p[1])


def _check_conflicts(ctx: _Context) -> None:
    logic, recs = ctx.logic, ctx.policy.recommendations
    for r1, r2 in _conflict_pairs(ctx.policy):
        rules = sorted(set(logic.rec_rules(r1) + logic.rec_rules(r2)))

        def goal(a: Any, r1: str = r1, r2: str = r2, rules: list[str] = rules) -> Any:
            fired = logic.fired(a, rules)
            return t_and((logic.final(r1, fired), logic.final(r2, fired)))

        owner = r1 if r2 in recs[r1].conflicts_with else r2
        path: Path = ("recommendations", owner, "conflicts_with")
        result = ctx.find(logic.rule_facts(rules), goal)
        if not result.complete:
            ctx.inconclusive(f"whether {r1} and {r2} can be given together", path)
        elif result.found is not None:
            ctx.add("conflicting_recommendations", "error", _conflict_message(ctx, r1, r2, result.found), path,
                    case=result.found, agrees=_both_given(r1, r2))


def _conflict_message(ctx: _Context, r1: str, r2: str, case: dict[str, Any]) -> str:
    """Which rules give both, and the usual fix: the rule that should win suppresses the other's recommendation."""
    fired = ctx.logic.fired(case)
    g1, g2 = (min((r for r in ctx.policy.rules if rec in r.then and fired[r.id] is True),
                  key=lambda r: (r.priority, r.id)) for rec in (r1, r2))
    win, lose = (g1, r2) if _precedes(g1, g2) else (g2, r1)
    return (f"{r1} and {r2} are marked as conflicting, but this case gets both ({r1} from rule {g1.id}, {r2} from "
            f"rule {g2.id}) and no suppression decides between them; let the rule that should win suppress the "
            f"other's recommendation, e.g. `suppresses: [{lose}]` in rule {win.id}")


def _check_gaps(ctx: _Context) -> None:
    logic = ctx.logic
    recs = [r for r in ctx.policy.recommendations if logic.givers.get(r)]
    for i, must in enumerate(ctx.policy.must_decide):
        when = to_nnf(must.when)

        def goal(a: Any, when: Any = when) -> Any:
            inside = cond3(when, a)
            if inside is False:
                return False
            fired = logic.fired(a)
            return t_and([inside] + [t_not(logic.final(r, fired)) for r in recs])

        first = facts_of(must.when)
        result = ctx.find(set(ctx.space.paths) | first, goal, first)
        path: Path = ("must_decide", i)
        if not result.complete:
            ctx.inconclusive(f"must_decide {must.name!r}", path)
        elif result.found is not None:
            ctx.add("must_decide_gap", "error",
                    f"must_decide {must.name!r}: this case is one of those situations but gets no recommendation",
                    path, case=result.found, agrees=lambda d: not d.recommendations)


def lint_policy(policy: Policy, compiled: CompiledPolicy, budget: int = DEFAULT_BUDGET) -> tuple[list[Finding], int]:
    """Every finding for one policy version, and the combinations the searches visited."""
    ctx = _Context(policy, compiled, budget)
    reachable = _check_reachable(ctx)
    _check_always_suppressed(ctx, reachable)
    _check_shadowed(ctx, reachable)
    _check_conflicts(ctx)
    _check_gaps(ctx)
    return ctx.findings + static_findings(policy, ctx.positions), ctx.nodes


def lint_policies(policies: Sequence[Policy], *, isolate: bool = True, budget: int = DEFAULT_BUDGET) -> LintReport:
    """Lint every policy version (compiled first: the engine decides every counterexample shown)."""
    start = time.perf_counter()
    report = LintReport(policies=[p.key for p in policies])
    compiled: list[CompiledPolicy] = []
    try:
        for policy in policies:
            compiled.append(compile_policy(policy, isolate=isolate))
            found, nodes = lint_policy(policy, compiled[-1], budget)
            report.findings.extend(found)
            report.combinations += nodes
            report.space_size += build_space([policy]).size()
    finally:
        for c in compiled:
            c.close()
    report.findings = sort_findings(report.findings)
    report.seconds = time.perf_counter() - start
    return report
