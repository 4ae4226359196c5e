"""Released versions are immutable: `rules/<policy>/versions.lock` records the sha256 of each released file.

`validate` fails when a released file changed or disappeared, when the lock file
is malformed, and when an unreleased version is not newer than every released one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.core.errors import Problem
from engine.policy.model import Policy

__all__ = ["LOCK_NAME", "Lock", "read_lock", "check_locks", "lock_versions", "render_lock"]

LOCK_NAME = "versions.lock"
_LINE = re.compile(r"^(\d+\.\d+\.\d+)\s+sha256:([0-9a-f]{64})$")
_HEADER = """\
# Released versions of {policy}: the sha256 of each file. Released files never change;
# put a change in a new file with a higher version and a changelog entry, then add it with
# `attendance-policy lock rules/{policy}/<version>.yaml`.
"""


@dataclass(frozen=True)
class Lock:
    path: Path
    entries: dict[str, tuple[str, int]]  # version -> (sha256, line)

    def newest(self) -> tuple[int, int, int] | None:
        return max((_semver(v) for v in self.entries), default=None)


def _semver(version: str) -> tuple[int, int, int]:
    a, b, c = (int(x) for x in version.split("."))
    return a, b, c


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_lock(path: Path) -> tuple[Lock, list[Problem]]:
    """Parse a lock file; malformed or repeated lines are problems with their line."""
    entries: dict[str, tuple[str, int]] = {}
    problems = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            problems.append(Problem("lock_syntax", "expected `<version> sha256:<64 hex digits>`", "", str(path), n, 1))
        elif m.group(1) in entries:
            problems.append(Problem("lock_syntax", f"version {m.group(1)} is already locked on line "
                                                   f"{entries[m.group(1)][1]}", "", str(path), n, 1))
        else:
            entries[m.group(1)] = (m.group(2), n)
    return Lock(path, entries), problems


def _version_file(folder: Path, version: str) -> Path | None:
    return next((f for f in (folder / f"{version}.yaml", folder / f"{version}.yml") if f.exists()), None)


def _check_released(lock: Lock) -> list[Problem]:
    out = []
    for version, (sha, line) in sorted(lock.entries.items(), key=lambda kv: _semver(kv[0])):
        f = _version_file(lock.path.parent, version)
        if f is None:
            out.append(Problem("released_version_missing",
                               f"released version {version} is locked but its file is gone; released versions "
                               f"are never removed", "", str(lock.path), line, 1))
            continue
        actual = sha256_file(f)
        if actual != sha:
            out.append(Problem("released_version_changed",
                               f"released version {version} has changed (sha256 {actual[:12]}…, but "
                               f"{LOCK_NAME} line {line} records {sha[:12]}…); released versions are immutable: "
                               f"restore it and put the change in a new version such as "
                               f"{_next_patch(lock)}", "", str(f), 1, 1))
    return out


def _next_patch(lock: Lock) -> str:
    a, b, c = lock.newest() or (1, 0, -1)
    return f"{a}.{b}.{c + 1}"


def _check_unreleased(lock: Lock, policies: Iterable[Policy]) -> list[Problem]:
    newest = lock.newest()
    out = []
    for p in policies:
        if p.version in lock.entries or newest is None or p.version_tuple > newest:
            continue
        out.append(Problem("version_not_newer",
                           f"version {p.version} is not released and not newer than the released "
                           f"{'.'.join(map(str, newest))}; a new version needs a higher number, such as "
                           f"{_next_patch(lock)}", "$.version", p.file, 1, 1))
    return out


def check_locks(policies: Iterable[Policy]) -> list[Problem]:
    """Every lock problem in the folders of the given policy versions."""
    by_folder: dict[Path, list[Policy]] = {}
    for p in policies:
        by_folder.setdefault(Path(p.file).parent, []).append(p)
    problems: list[Problem] = []
    for folder, found in sorted(by_folder.items()):
        path = folder / LOCK_NAME
        if not path.exists():
            continue
        lock, syntax = read_lock(path)
        problems += syntax + _check_released(lock) + _check_unreleased(lock, found)
    return problems


def render_lock(policy_id: str, entries: dict[str, str]) -> str:
    body = "".join(f"{v} sha256:{entries[v]}\n" for v in sorted(entries, key=_semver))
    return _HEADER.format(policy=policy_id) + body


def lock_versions(policies: Iterable[Policy]) -> tuple[list[str], list[Problem]]:
    """Add the given (valid) versions to their folder's lock file; never change a recorded hash."""
    added: list[str] = []
    problems: list[Problem] = []
    by_folder: dict[Path, list[Policy]] = {}
    for p in policies:
        by_folder.setdefault(Path(p.file).parent, []).append(p)
    for folder, found in sorted(by_folder.items()):
        path = folder / LOCK_NAME
        lock, syntax = read_lock(path) if path.exists() else (Lock(path, {}), [])
        broken = syntax + _check_released(lock) + _check_unreleased(lock, found)
        problems += broken
        if broken:
            continue  # never record anything next to a lock that does not hold
        entries = {v: sha for v, (sha, _) in lock.entries.items()}
        for p in sorted(found, key=lambda p: p.version_tuple):
            if p.version not in entries:
                entries[p.version] = sha256_file(Path(p.file))
                added.append(p.key)
        path.write_text(render_lock(found[0].id, entries), encoding="utf-8")
    return added, problems
