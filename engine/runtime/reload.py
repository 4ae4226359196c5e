"""Prepare a new PolicySet from the rules on disk, checked completely before anything changes.

Every version is judged at the one gate (`engine.runtime.gate`: load, locks,
redaction, compile in a child process first, lint errors); a reload also refuses
to drop a version that is pinned or active. Only a plan with no problem at all
can be swapped in (see `engine.runtime.live`); unchanged versions keep their
compiled rulesets and memos. Every problem is collected with its file and line,
then raised once.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.compile.ruleset import COMPILE_TIMEOUT_S, CompiledPolicy
from engine.core.errors import NoActiveVersionError, PolicyError, PolicyLoadError, Problem
from engine.decide.decider import Decider
from engine.policy.loader import load_policy_text, policy_files
from engine.policy.lock import LOCK_NAME
from engine.policy.model import Policy
from engine.runtime.gate import judge
from engine.runtime.registry import PolicySet

__all__ = ["DiskState", "FileMoving", "ReloadError", "ReloadPlan", "fingerprint", "load_sources", "prepare", "scan"]

_RECENT_NS = 2_000_000_000  # a file modified this recently is re-hashed even if its mtime and size match


class ReloadError(PolicyError):
    """The new rules cannot be served; nothing changed. `problems` lists every issue with its file:line."""

    code, title = "reload_failed", "Reload refused"

    def __init__(self, problems: list[Problem]) -> None:
        n = len(problems)
        super().__init__(f"reload refused ({n} problem{'s' if n != 1 else ''}); the policies in service are "
                         "unchanged: " + "; ".join(p.format() for p in problems[:5]), problems=problems)


class FileMoving(PolicyError):
    """A rules file changed between the moment it was hashed and the moment it was read."""

    code, title = "file_changed_while_reading", "Policy file changed while it was read"


@dataclass(frozen=True)
class DiskState:
    """The watched files as seen at one moment: path -> (mtime_ns, size, sha256)."""

    files: Mapping[str, tuple[int, int, str]] = field(default_factory=dict)
    seen_at_ns: int = 0

    def digests(self) -> dict[str, str]:
        return {path: sha for path, (_, _, sha) in self.files.items()}

    def same(self, other: DiskState | None) -> bool:
        """Same contents (times alone do not count: a `touch` is no change)."""
        return other is not None and self.digests() == other.digests()

    def identical(self, other: DiskState | None) -> bool:
        """Same files with the same size, mtime and sha256: nothing moved in between."""
        return other is not None and dict(self.files) == dict(other.files)

    def refuse_moved(self, policies: Iterable[Policy]) -> None:
        """FileMoving unless every loaded version is the file this scan hashed (not half of it, not a later write)."""
        moving = [p.file for p in policies if p.file in self.files and self.files[p.file][2] != p.sha256]
        if moving:
            why = ("changed while it was being read; it is used once it holds still (write a new version under "
                   "a temporary name, then rename it into place)")
            raise FileMoving(f"{moving[0]} {why}", problems=[Problem(FileMoving.code, why, "", f) for f in moving])


def watched_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Every policy version file, and the version locks beside them."""
    found = policy_files(paths)
    locks = {f.parent / LOCK_NAME for f in found}
    for p in map(Path, paths):
        if p.is_dir():
            locks.update(x for x in p.rglob(LOCK_NAME) if "tests" not in x.relative_to(p).parts)
    return found + sorted(x for x in locks if x.is_file())


def scan(paths: Iterable[str | os.PathLike[str]], previous: DiskState | None = None) -> DiskState:
    """Stat every watched file; hash only those whose mtime or size moved (or that changed very recently)."""
    now = time.time_ns()
    old = previous.files if previous is not None else {}
    files: dict[str, tuple[int, int, str]] = {}
    for path in watched_files(paths):
        try:
            st = path.stat()
            known = old.get(str(path))
            if known and known[:2] == (st.st_mtime_ns, st.st_size) and now - st.st_mtime_ns > _RECENT_NS:
                files[str(path)] = known
            else:
                files[str(path)] = (st.st_mtime_ns, st.st_size, hashlib.sha256(path.read_bytes()).hexdigest())
        except OSError:
            continue  # removed between listing and reading: it is gone
    return DiskState(files, now)


def fingerprint(policies: PolicySet) -> str:
    """One hash for the loaded versions and their contents: equal sets, equal fingerprints, in every worker."""
    lines = sorted(f"{key} {c.policy.sha256}" for key, c in policies.compiled.items())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def load_sources(sources: Mapping[str, str]) -> list[Policy]:
    """Policies from `{file name: YAML text}` (a last good set another worker published), all problems at once."""
    out: list[Policy] = []
    problems: list[Problem] = []
    for name, text in sorted(sources.items()):
        p = Path(name)
        try:
            out.append(load_policy_text(text, name, expected_version=p.name.rsplit(".", 1)[0],
                                        expected_policy=p.parent.name))
        except PolicyLoadError as e:
            problems += e.problems
    if problems:
        raise PolicyLoadError(problems)
    return out


@dataclass
class ReloadPlan:
    """A checked, compiled PolicySet ready to swap in, and what it changes."""

    policies: PolicySet
    added: list[str]
    changed: list[str]
    removed: list[str]
    fresh: list[CompiledPolicy]

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def abandon(self) -> None:
        """Free what this plan compiled (it will not be swapped in)."""
        for c in self.fresh:
            c.close()
        self.fresh = []


def prepare(current: PolicySet, policies: list[Policy], *, today: _dt.date, locks: bool = True,
            lint: bool = True, compile_timeout: float = COMPILE_TIMEOUT_S, redact: Iterable[str] = ()) -> ReloadPlan:
    """Judge `policies` at the gate as the successor of `current`; raise ReloadError listing every problem.

    A reload is whole or nothing: one refused version refuses the reload, and the current set keeps serving.
    """
    report = judge(policies, redact=redact, locks=locks, lint=lint, compile_timeout=compile_timeout,
                   reuse=current.compiled)
    problems = list(report.problems)
    if not policies:
        problems.append(Problem("no_policies", "no policy version files found", ""))
    new = {p.key for p in policies}
    removed = sorted(k for k in current.compiled if k not in new)
    problems += _removal_problems(current, removed, today)
    old = current.compiled
    if problems:
        report.close(keep=old.values())
        raise ReloadError(sorted(problems, key=lambda p: (p.file or "", p.line or 0, p.column or 0, p.code)))
    compiled_set = {k: c for k, c in sorted(report.compiled().items())}
    fresh = [c for k, c in compiled_set.items() if old.get(k) is not c]
    deciders = {k: current.deciders[k] if old.get(k) is c else Decider(c) for k, c in compiled_set.items()}
    return ReloadPlan(PolicySet(compiled_set, deciders, pins=dict(current.pins)),
                      added=sorted(k for k in compiled_set if k not in old),
                      changed=sorted(k for k in compiled_set if k in old and old[k] is not compiled_set[k]),
                      removed=removed, fresh=fresh)


def _removal_problems(current: PolicySet, removed: list[str], today: _dt.date) -> list[Problem]:
    """A version that is pinned or active (pinned, or in effect by date) must not disappear."""
    out = []
    for key in removed:
        policy = current.compiled[key].policy
        try:
            active = current.active(policy.id, today).version
        except NoActiveVersionError:
            active = None
        if current.pins.get(policy.id) == policy.version:
            why = (f"version {policy.version} of {policy.id!r} is pinned by an admin; unpin it (or pin another "
                   "version) before removing its file")
            out.append(Problem("pinned_version_removed", why, "", policy.file))
        elif active == policy.version:
            why = (f"version {policy.version} of {policy.id!r} is the active one; pin another version first "
                   "(POST /v1/admin/policies/{id}/activate), then remove its file")
            out.append(Problem("active_version_removed", why, "", policy.file))
    return out
