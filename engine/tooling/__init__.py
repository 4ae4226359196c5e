"""Policy CI tooling: fact-space enumeration, scenario coverage, lint, impact diff, version lock."""

from __future__ import annotations

from .space import ABSENT, FactSpace, build_space

__all__ = ["ABSENT", "FactSpace", "build_space"]
