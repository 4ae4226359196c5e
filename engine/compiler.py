"""Policy -> durable_rules ruleset `<policy>@<version>`. The only module that imports durable.

Guards for the failure modes in shared/domain/durable-rules-notes.md:
C1 a catch-all rule always fires, so `delete_state` never meets an empty session;
C2 the C extension is driven directly (no `Host`, no dispatcher threads);
C3 no arithmetic is ever compiled; C4 facts are schema-checked and projected to
the policy's own fact paths before they reach the engine; C5 fan-out is capped by
the loader and a new ruleset is first compiled in a child process with a timeout;
C6 every rule carries `$nex $s`, so the internal state fact never matches;
C7/C8 one live session per ruleset at a time, under a lock, with a fixed sid,
deleted in `finally`. `{"a": 1, "b": 2}` is never emitted (always `$and`), and
numbers are written without exponents.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
from decimal import Decimal
from typing import Any

import durable_rules_engine as _dre

from .errors import CompileError, EngineError
from .model import All, AnyOf, Condition, Leaf, Policy, to_nnf

__all__ = ["CompiledPolicy", "ruleset_definition", "check_compiles", "dumps", "CATCH_ALL"]

CATCH_ALL = "__always__"
_SID = "1"
_NOT_STATE = {"$nex": {"$s": 1}}
_CMP = {"lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte", "ne": "$neq"}
COMPILE_TIMEOUT_S = 20.0


def _number(x: float) -> str:
    if math.isnan(x) or math.isinf(x):
        raise EngineError(f"number {x!r} cannot be sent to the engine")
    text = repr(x)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text


def dumps(obj: Any) -> str:
    """JSON without exponent notation (durable_rules refuses `1e-05`, error 204)."""
    if isinstance(obj, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in obj) + "]"
    if isinstance(obj, float):
        return _number(obj)
    return json.dumps(obj, ensure_ascii=False)


def _leaf(leaf: Leaf) -> dict[str, Any]:
    if leaf.other_fact:
        rhs: Any = {"$m": leaf.other_fact}
        return {leaf.fact: rhs} if leaf.op == "eq" else {_CMP[leaf.op]: {leaf.fact: rhs}}
    if leaf.op == "in":
        return {"$or": [{"$and": [{leaf.fact: v}]} for v in leaf.value]}
    if leaf.op == "not_in":
        return {"$and": [{"$neq": {leaf.fact: v}} for v in leaf.value]}
    if leaf.op == "eq":
        return {"$and": [{leaf.fact: leaf.value}]}
    return {_CMP[leaf.op]: {leaf.fact: leaf.value}}


def _expr(cond: Condition) -> dict[str, Any]:
    if isinstance(cond, Leaf):
        return _leaf(cond)
    if isinstance(cond, All):
        return {"$and": [_expr(c) for c in cond.items]}
    if isinstance(cond, AnyOf):
        return {"$or": [_expr(c) for c in cond.items]}
    raise CompileError(f"unexpected condition {cond!r} after normalisation")


def ruleset_definition(policy: Policy) -> dict[str, Any]:
    """The durable_rules JSON for a policy (negations pushed to the leaves)."""
    rules: dict[str, Any] = {}
    for rule in policy.rules:
        expr = {"$and": [_NOT_STATE, _expr(to_nnf(rule.when))]}
        rules[rule.id] = {"all": [{"m": expr}]}
    rules[CATCH_ALL] = {"all": [{"m": {"$and": [_NOT_STATE, {"$ex": {"id": 1}}]}}]}
    return rules


_CHILD = (
    "import sys, durable_rules_engine as d\n"
    "name = sys.argv[1]\n"
    "h = d.create_ruleset(name, sys.stdin.read())\n"
    "d.delete_ruleset(h)\n"
    "print('ok')\n"
)


def check_compiles(policy: Policy, timeout: float = COMPILE_TIMEOUT_S) -> None:
    """Compile the ruleset in a child process first: C5 freezes the process that compiles."""
    definition = dumps(ruleset_definition(policy))
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, policy.key], input=definition,
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise CompileError(f"{policy.file}: compiling {policy.key} did not finish within {timeout:g}s "
                           "(the engine froze; reduce the number of conditions)", ruleset=policy.key) from e
    if proc.returncode != 0 or proc.stdout.strip() != "ok":
        detail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise CompileError(f"{policy.file}: the engine rejected {policy.key}: {detail}", ruleset=policy.key)


class CompiledPolicy:
    """A policy version loaded into durable_rules, evaluated one session at a time."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.name = policy.key
        self._definition = dumps(ruleset_definition(policy))
        self._lock = threading.Lock()
        self._handle = self._create()

    def _create(self) -> Any:
        try:
            return _dre.create_ruleset(self.name, self._definition)
        except _dre.error as e:
            raise CompileError(f"the engine rejected {self.name}: {e}", ruleset=self.name) from e

    def fired(self, projected: dict[str, Any]) -> list[str]:
        """Ids of the rules whose conditions hold for the (projected, valid) facts."""
        fact = dumps({**projected, "sid": _SID, "id": "f"})
        with self._lock:
            try:
                result = _dre.assert_fact(self._handle, fact)
            except _dre.error as e:
                # A failed assert leaves no session behind; deleting one would crash (C1).
                raise EngineError(f"the engine refused the facts for {self.name}: {e}", ruleset=self.name) from e
            try:
                return self._drain(result[1])
            finally:
                _dre.delete_state(self._handle, _SID)

    def _drain(self, state_handle: int) -> list[str]:
        names: list[str] = []
        try:
            res = _dre.start_action_for_state(self._handle, state_handle)
            payload = res[1] if res else None
            while payload:
                names.append(payload[2:payload.index('"', 2)])
                payload = _dre.complete_and_start_action(self._handle, state_handle)
        except _dre.error as e:
            raise EngineError(f"the engine failed while evaluating {self.name}: {e}", ruleset=self.name) from e
        if CATCH_ALL not in names:
            raise EngineError(f"the engine lost the catch-all rule of {self.name}", ruleset=self.name)
        return [n for n in names if n != CATCH_ALL]

    def close(self) -> None:
        """Free the ruleset (only once no thread can still use it)."""
        with self._lock:
            if self._handle is not None:
                _dre.delete_ruleset(self._handle)
                self._handle = None
