"""Attendance policy engine: load, compile, evaluate."""

from __future__ import annotations

from .errors import (
    CompileError,
    EngineError,
    FactsError,
    NoActiveVersionError,
    PolicyError,
    PolicyLoadError,
    Problem,
    UnknownPolicyError,
)
from .evaluator import Engine, decide
from .loader import load_policy, load_policy_text, load_rules
from .model import Policy
from .rationale import Decision
from .registry import PolicySet

__all__ = [
    "CompileError", "Decision", "Engine", "EngineError", "FactsError", "NoActiveVersionError", "Policy",
    "PolicyError", "PolicyLoadError", "PolicySet", "Problem", "UnknownPolicyError", "decide", "load_policy",
    "load_policy_text", "load_rules",
]
