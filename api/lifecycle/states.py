"""The lifecycle's contracts as types: reload outcomes, a worker's published state, the newest good set.

Workers exchange these through the board's JSON files (api.lifecycle.board); each
type writes itself with `to_dict()` and reads itself back with `from_dict()`,
which refuses (ValueError) anything that is not a complete record of its kind
(fields it does not know, from a newer worker, are ignored).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypeVar, get_args

from engine.core.errors import Problem
from engine.runtime.registry import PolicySet

__all__ = ["OUTCOMES", "TRIGGERS", "Outcome", "ReloadOutcome", "TargetSet", "Trigger", "VersionInfo", "WorkerState",
           "versions_of"]

Outcome = Literal["reloaded", "unchanged", "failed"]
Trigger = Literal["poll", "sighup", "api", "adopt", "start"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
TRIGGERS: tuple[Trigger, ...] = get_args(Trigger)
T = TypeVar("T")


def _from(cls: type[T], data: Any, **convert: Any) -> T:
    """An instance of the dataclass `cls` from a JSON object holding all its fields (others are ignored)."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    if not isinstance(data, dict) or not set(names) <= set(data):
        raise ValueError(f"not a {cls.__name__} record")
    return cls(**{k: convert[k](data[k]) if k in convert else data[k] for k in names})


@dataclass(frozen=True)
class VersionInfo:
    """One loaded policy version, as a worker reports it."""

    policy: str
    version: str
    sha256: str
    effective_from: str
    file: str

    def to_dict(self) -> dict[str, str]:
        return {"policy": self.policy, "version": self.version, "sha256": self.sha256,
                "effective_from": self.effective_from, "file": self.file}


def versions_of(policies: PolicySet) -> list[VersionInfo]:
    """Every version of a set, by policy id then semver."""
    ordered = sorted(policies.compiled.values(), key=lambda c: (c.policy.id, c.policy.version_tuple))
    return [VersionInfo(c.policy.id, c.policy.version, c.policy.sha256, c.policy.effective_from.isoformat(),
                        c.policy.file) for c in ordered]


def _versions(items: Any) -> list[VersionInfo]:
    return [_from(VersionInfo, v) for v in items]


@dataclass
class ReloadOutcome:
    """What one reload attempt did, and why it was made; a failed one lists every problem."""

    outcome: Outcome
    trigger: Trigger
    at: str
    seconds: float
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"outcome": self.outcome, "trigger": self.trigger, "at": self.at,
                               "seconds": round(self.seconds, 4), "added": self.added, "changed": self.changed,
                               "removed": self.removed}
        if self.problems:
            out["problems"] = [p.to_dict() for p in self.problems]
        return out

    @classmethod
    def from_dict(cls, data: Any) -> ReloadOutcome:
        if not isinstance(data, dict):
            raise ValueError("not a ReloadOutcome record")
        problems = [Problem(**p) for p in data.get("problems", [])]
        outcome = _from(cls, {**data, "problems": problems} if "problems" in data else {**data, "problems": []})
        if outcome.outcome not in OUTCOMES or outcome.trigger not in TRIGGERS:
            raise ValueError("not a ReloadOutcome record")
        return outcome


def _outcome_or_none(data: Any) -> ReloadOutcome | None:
    return None if data is None else ReloadOutcome.from_dict(data)


@dataclass(frozen=True)
class WorkerState:
    """What one worker serves and how its reloads went: published on the board after every change."""

    pid: int
    generation: int
    fingerprint: str
    loaded_at: str
    heartbeat_at: str
    versions: list[VersionInfo]
    active: dict[str, str | None]
    pins: dict[str, str]
    pin_problems: list[str]
    last_reload: ReloadOutcome | None
    last_error: ReloadOutcome | None
    reloads: dict[str, int]
    retired_not_freed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid, "generation": self.generation, "fingerprint": self.fingerprint,
            "loaded_at": self.loaded_at, "heartbeat_at": self.heartbeat_at,
            "versions": [v.to_dict() for v in self.versions], "active": dict(self.active), "pins": dict(self.pins),
            "pin_problems": list(self.pin_problems),
            "last_reload": self.last_reload.to_dict() if self.last_reload else None,
            "last_error": self.last_error.to_dict() if self.last_error else None,
            "reloads": dict(self.reloads), "retired_not_freed": self.retired_not_freed,
        }

    @classmethod
    def from_dict(cls, data: Any) -> WorkerState:
        return _from(cls, data, versions=_versions, last_reload=_outcome_or_none, last_error=_outcome_or_none)


@dataclass(frozen=True)
class TargetSet:
    """The newest policy set any worker loaded successfully, with its sources, for the others to converge to."""

    fingerprint: str
    seen_at_ns: int
    published_at: str
    published_by: int
    versions: list[VersionInfo]
    disk: dict[str, tuple[int, int, str]]  # path -> (mtime_ns, size, sha256) when it was read
    sources: dict[str, str]  # file name -> YAML text

    def to_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "seen_at_ns": self.seen_at_ns, "published_at": self.published_at,
                "published_by": self.published_by, "versions": [v.to_dict() for v in self.versions],
                "disk": {k: list(v) for k, v in self.disk.items()}, "sources": dict(self.sources)}

    def summary(self) -> dict[str, Any]:
        """What /v1/status shows of it (no sources)."""
        return {"fingerprint": self.fingerprint, "published_at": self.published_at,
                "published_by": self.published_by, "versions": [v.to_dict() for v in self.versions]}

    @classmethod
    def from_dict(cls, data: Any) -> TargetSet:
        def disk(d: dict[str, list[Any]]) -> dict[str, tuple[int, int, str]]:
            return {k: (int(v[0]), int(v[1]), str(v[2])) for k, v in d.items()}

        return _from(cls, data, versions=_versions, disk=disk)
