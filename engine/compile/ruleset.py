"""Policy -> durable_rules ruleset `<policy>@<version>`. The only module that imports durable.

Guards for the failure modes in docs/engine-guards.md:
C1 a catch-all rule always fires, so `delete_state` never meets an empty session;
C2 the C extension is driven directly (no `Host`, no dispatcher threads);
C3 no arithmetic is ever compiled; C4 facts are schema-checked and projected to
the policy's own fact paths before they reach the engine; C5 fan-out is capped by
the loader and a new ruleset is first compiled in a child process with a timeout;
C6 every rule carries `$nex $s`, so the internal state fact never matches;
C7/C8 one live session per ruleset at a time, under a lock, with a fixed sid,
deleted in `finally`. Expressions come from `translate` (one key per object,
at most 15 `$and`/`$or` nodes per rule), and numbers are written without exponents.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import threading
from decimal import Decimal
from typing import Any

import durable_rules_engine as _dre

from engine.compile.translate import MAX_PATHS_PER_SHARD, NOT_STATE, path_expression
from engine.core.errors import CompileError, EngineError
from engine.policy.model import Policy
from engine.policy.paths import paths

__all__ = ["CompiledPolicy", "ruleset_definition", "shard_definitions", "check_compiles", "compile_in_child", "dumps",
           "CATCH_ALL"]

CATCH_ALL = "__always__"
_SID = "1"
COMPILE_TIMEOUT_S = 20.0


def _number(x: float) -> str:
    if math.isnan(x) or math.isinf(x):
        raise EngineError(f"number {x!r} cannot be sent to the engine")
    text = repr(x)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text


_EXPONENT = re.compile(r"[0-9][eE][-+]?[0-9]|NaN|Infinity")


def dumps(obj: Any) -> str:
    """JSON without exponent notation (durable_rules refuses `1e-05`, error 204).

    The C encoder does the common case; only a document that contains an
    exponent (or NaN/Infinity, which we refuse) is rewritten by hand.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    # Python writes exponents with a sign (1e-05, 1e+16): a cheap test before the exact one.
    suspect = "e-" in text or "e+" in text or "NaN" in text or "Infinity" in text
    return _slow_dumps(obj) if suspect and _EXPONENT.search(text) else text


def _slow_dumps(obj: Any) -> str:
    if isinstance(obj, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_slow_dumps(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(_slow_dumps(v) for v in obj) + "]"
    if isinstance(obj, float):
        return _number(obj)
    return json.dumps(obj, ensure_ascii=False)


def shard_definitions(policy: Policy) -> list[dict[str, Any]]:
    """The durable_rules rulesets of a policy: each rule's paths, at most MAX_PATHS_PER_SHARD per ruleset."""
    shards: list[dict[str, Any]] = [{}]
    for rule in policy.rules:
        rule_paths = paths(rule.when)
        if len(shards[-1]) + len(rule_paths) > MAX_PATHS_PER_SHARD:
            shards.append({})
        for n, path in enumerate(rule_paths):
            shards[-1][f"{rule.id}#{n}"] = {"all": [{"m": path_expression(path)}]}
    for shard in shards:
        shard[CATCH_ALL] = {"all": [{"m": {"$and": [NOT_STATE, {"$ex": {"id": 1}}]}}]}
    return shards


def ruleset_definition(policy: Policy) -> dict[str, Any]:
    """All rules of a policy in one mapping (for inspection; the engine loads the shards)."""
    out: dict[str, Any] = {}
    for shard in shard_definitions(policy):
        out.update(shard)
    return out


_CHILD = (
    "import json, sys, durable_rules_engine as d\n"
    "for i, shard in enumerate(json.loads(sys.stdin.read())):\n"
    "    d.delete_ruleset(d.create_ruleset(f'{sys.argv[1]}/{i}', json.dumps(shard)))\n"
    "print('ok')\n"
)


def check_compiles(policy: Policy, timeout: float = COMPILE_TIMEOUT_S) -> None:
    """Compile the rulesets in a child process first: C5 freezes the process that compiles."""
    compile_in_child(policy.key, dumps(shard_definitions(policy)), timeout, where=policy.file)


def compile_in_child(name: str, shards_json: str, timeout: float, where: str = "") -> None:
    """Create (and free) the given rulesets in a child process, which may freeze or crash instead of us."""
    prefix = f"{where}: " if where else ""
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, name], input=shards_json,
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise CompileError(f"{prefix}compiling {name} did not finish within {timeout:g}s "
                           "(the engine froze; reduce the number of conditions)", ruleset=name) from e
    if proc.returncode != 0 or proc.stdout.strip() != "ok":
        detail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise CompileError(f"{prefix}the engine rejected {name}: {detail}", ruleset=name)


class CompiledPolicy:
    """A policy version loaded into durable_rules, evaluated one session at a time."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.name = policy.key
        self._lock = threading.Lock()
        self._handles: list[Any] = []
        try:
            for i, shard in enumerate(shard_definitions(policy)):
                self._handles.append(_dre.create_ruleset(f"{self.name}/{i}", dumps(shard)))
        except _dre.error as e:
            self.close()
            raise CompileError(f"the engine rejected {self.name}: {e}", ruleset=self.name) from e

    @property
    def shards(self) -> int:
        return len(self._handles)

    def fired(self, projected: dict[str, Any]) -> list[str]:
        """Ids of the rules whose conditions hold for the (projected, valid) facts, each once."""
        fact = dumps({**projected, "sid": _SID, "id": "f"})
        names: dict[str, None] = {}
        with self._lock:
            if not self._handles:
                raise EngineError(f"{self.name} was freed; it can no longer decide", ruleset=self.name)
            for handle in self._handles:
                for name in self._run(handle, fact):
                    names[name.split("#", 1)[0]] = None
        return list(names)

    def _run(self, handle: Any, fact: str) -> list[str]:
        try:
            result = _dre.assert_fact(handle, fact)
        except _dre.error as e:
            # A failed assert leaves no session behind; deleting one would crash (C1).
            raise EngineError(f"the engine refused the facts for {self.name}: {e}", ruleset=self.name) from e
        try:
            return self._drain(handle, result[1])
        finally:
            _dre.delete_state(handle, _SID)

    def _drain(self, handle: Any, state_handle: int) -> list[str]:
        names: list[str] = []
        try:
            res = _dre.start_action_for_state(handle, state_handle)
            payload = res[1] if res else None
            while payload:
                names.append(payload[2:payload.index('"', 2)])
                payload = _dre.complete_and_start_action(handle, state_handle)
        except _dre.error as e:
            raise EngineError(f"the engine failed while evaluating {self.name}: {e}", ruleset=self.name) from e
        if CATCH_ALL not in names:
            raise EngineError(f"the engine lost the catch-all rule of {self.name}", ruleset=self.name)
        return [n for n in names if n != CATCH_ALL]

    def close(self) -> None:
        """Free the rulesets (only once no thread can still use them)."""
        with self._lock:
            for handle in self._handles:
                _dre.delete_ruleset(handle)
            self._handles = []


def compile_policy(policy: Policy, *, isolate: bool = True, timeout: float = COMPILE_TIMEOUT_S) -> CompiledPolicy:
    """Compile one version, first in a child process when `isolate` (C5), then here."""
    if isolate:
        check_compiles(policy, timeout)
    return CompiledPolicy(policy)
