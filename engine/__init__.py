"""Attendance policy engine, by phase: core -> facts -> policy -> compile -> decide -> analysis -> runtime -> ci -> cli.

The names below are the public API for programs that embed the engine; they are
loaded on first use (PEP 562), so importing one phase never loads the others.
See docs/architecture.md for what each sub-package holds and may import.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CompileError": "engine.core.errors", "EngineError": "engine.core.errors", "FactsError": "engine.core.errors",
    "NoActiveVersionError": "engine.core.errors", "PolicyError": "engine.core.errors",
    "PolicyLoadError": "engine.core.errors", "Problem": "engine.core.errors",
    "UnknownPolicyError": "engine.core.errors",
    "load_policy": "engine.policy.loader", "load_policy_text": "engine.policy.loader",
    "load_rules": "engine.policy.loader", "Policy": "engine.policy.model",
    "Decision": "engine.decide.rationale", "decide": "engine.decide.decider",
    "Engine": "engine.runtime.engine", "load_engine": "engine.runtime.engine", "PolicySet": "engine.runtime.registry",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
