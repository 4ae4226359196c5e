"""A set of compiled policy versions, and which one is active when."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from engine.compile.ruleset import CompiledPolicy, compile_policy
from engine.core.errors import (
    NoActiveVersionError,
    PinnedVersionUnavailableError,
    UnknownPolicyError,
    UnknownPolicyVersionError,
)
from engine.core.suggest import closest
from engine.decide.decider import MEMO_SIZE, Decider
from engine.policy.model import Policy

__all__ = ["PolicySet"]



@dataclass(frozen=True)
class PolicySet:
    """Immutable: a reload builds a new set and swaps it in whole."""

    compiled: dict[str, CompiledPolicy] = field(default_factory=dict)
    deciders: dict[str, Decider] = field(default_factory=dict)
    _active: dict[tuple[str, _dt.date], Policy] = field(default_factory=dict, compare=False, repr=False)
    # policy id -> version an admin pinned (rollback / roll forward); it overrides `effective_from`.
    pins: Mapping[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def build(cls, policies: Iterable[Policy], *, isolate: bool = True, memo_size: int = MEMO_SIZE) -> PolicySet:
        """Compile every version (first in a child process when `isolate`, see compiler C5)."""
        return cls.of({policy.key: compile_policy(policy, isolate=isolate) for policy in policies}, memo_size)

    @classmethod
    def of(cls, compiled: Mapping[str, CompiledPolicy], memo_size: int = MEMO_SIZE) -> PolicySet:
        """A set over compiled versions (e.g. those the gate admitted), each with its own Decider."""
        return cls(dict(compiled), {key: Decider(c, memo_size) for key, c in compiled.items()})

    def with_pins(self, pins: Mapping[str, str]) -> PolicySet:
        """The same compiled versions (nothing recompiled, memos kept) under other admin pins."""
        return PolicySet(self.compiled, self.deciders, pins=dict(pins))

    def decider(self, key: str) -> Decider:
        """The prepared decider (with its memo) of a compiled version."""
        return self.deciders[key]

    def policy_ids(self) -> list[str]:
        return list(self._ids)

    @cached_property
    def _ids(self) -> tuple[str, ...]:
        return tuple(sorted({c.policy.id for c in self.compiled.values()}))

    def versions(self, policy_id: str) -> list[Policy]:
        """Loaded versions of a policy, oldest first (semver order)."""
        found = [c.policy for c in self.compiled.values() if c.policy.id == policy_id]
        return sorted(found, key=lambda p: p.version_tuple)

    def active(self, policy_id: str, today: _dt.date) -> Policy:
        """The pinned version if an admin pinned one, else the scheduled one."""
        pinned = self.pins.get(policy_id)
        if pinned is None:
            return self.scheduled(policy_id, today)
        found = self.compiled.get(f"{self.known(policy_id)}@{pinned}")
        if found is None:
            raise PinnedVersionUnavailableError(f"{policy_id!r} is pinned to version {pinned}, which is not loaded "
                                                "here (yet); restore its file or unpin it")
        return found.policy

    def scheduled(self, policy_id: str, today: _dt.date) -> Policy:
        """The highest version whose `effective_from` is not in the future."""
        cached = self._active.get((policy_id, today))
        if cached is not None:
            return cached
        versions = self.versions(self.known(policy_id))
        live = [p for p in versions if p.effective_from <= today]
        if not live:
            first = min(p.effective_from for p in versions)
            raise NoActiveVersionError(f"no version of {policy_id!r} is in effect on {today} (first from {first})")
        found = max(live, key=lambda p: p.version_tuple)
        if len(self._active) > 64:
            self._active.clear()
        self._active[(policy_id, today)] = found
        return found

    def resolve(self, policy_id: str | None, version: str | None, today: _dt.date) -> CompiledPolicy:
        """The compiled version a request asks for (pinned or active)."""
        if policy_id is None:
            ids = self.policy_ids()
            if len(ids) != 1:
                raise UnknownPolicyError(f"several policies are loaded ({', '.join(ids)}); name one")
            policy_id = ids[0]
        policy_id = self.known(policy_id)
        if version is None:
            return self.compiled[self.active(policy_id, today).key]
        key = f"{policy_id}@{version}"
        if key not in self.compiled:
            known = [p.version for p in self.versions(policy_id)]
            raise UnknownPolicyVersionError(f"policy {policy_id!r} has no version {version!r}",
                                            suggestion=closest(version, known))
        return self.compiled[key]

    def known(self, policy_id: str) -> str:
        """`policy_id` if it is loaded, else UnknownPolicyError with the closest loaded id."""
        if policy_id not in self.policy_ids():
            raise UnknownPolicyError(f"unknown policy {policy_id!r}", suggestion=closest(policy_id, self.policy_ids()))
        return policy_id

    def close(self) -> None:
        for c in self.compiled.values():
            c.close()
