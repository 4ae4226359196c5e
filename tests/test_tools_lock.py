"""Released versions are immutable: versions.lock makes `validate` fail on tampering."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.policy.loader import load_rules
from engine.policy.lock import check_locks, read_lock

ROOT = Path(__file__).resolve().parent.parent
LOCKED = Path(__file__).resolve().parent / "fixtures" / "tools" / "lock" / "locked"
SHA_100 = "542b2d9b3b3b"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def repo(tmp_path):
    """A copy of the locked fixture policy (1.0.0 and 1.1.0 released) to tamper with."""
    shutil.copytree(LOCKED, tmp_path / "locked")
    return tmp_path / "locked"


def new_version(folder: Path, version: str) -> Path:
    text = (folder / "1.1.0.yaml").read_text(encoding="utf-8")
    _, minor, patch = (int(x) for x in version.split("."))  # 1.N.P takes effect on day 1 + 14P of month N + 1:
    month, day = 1 + minor, 1 + 14 * patch  # each version after the one before it, as the gate requires
    text = text.replace("version: 1.1.0\n", f"version: {version}\n").replace(
        "changelog:\n", f"changelog:\n  - {{version: {version}, changes: Next.}}\n").replace(
        'effective_from: "2026-02-01"', f'effective_from: "2026-{month:02d}-{day:02d}"')
    path = folder / f"{version}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def changed(folder: Path) -> list[str]:
    f = folder / "1.0.0.yaml"
    return [f"{f}:1:1: released_version_changed: released version 1.0.0 has changed (sha256 {sha(f)}…, but "
            f"versions.lock line 4 records {SHA_100}…); released versions are immutable: restore it and put the "
            "change in a new version such as 1.1.1", "1 error occurred"]


TAMPERING = [
    ("untouched", lambda d: None, lambda d: []),
    ("a title edited", lambda d: edit(d / "1.0.0.yaml", "title: Lock fixture", "title: Lock fixture!"), changed),
    ("only whitespace", lambda d: edit(d / "1.0.0.yaml", "\nrules:", "\n\nrules:"), changed),
    ("a released file deleted", lambda d: (d / "1.0.0.yaml").unlink(), lambda d: [
        f"{d / 'versions.lock'}:4:1: released_version_missing: released version 1.0.0 is locked but its file is "
        "gone; released versions are never removed", "1 error occurred"]),
    ("an unreleased version below a released one", lambda d: new_version(d, "1.0.1"), lambda d: [
        f"{d / '1.0.1.yaml'}:1:1: version_not_newer: version 1.0.1 is not released and not newer than the "
        "released 1.1.0; a new version needs a higher number, such as 1.1.1 (at $.version)", "1 error occurred"]),
    ("a new higher version", lambda d: new_version(d, "1.2.0"), lambda d: []),
    ("a malformed lock line", lambda d: edit(d / "versions.lock", "1.1.0 sha256:", "1.1.0 md5:"), lambda d: [
        f"{d / 'versions.lock'}:5:1: lock_syntax: expected `<version> sha256:<64 hex digits>`",
        "1 error occurred"]),
]


@pytest.mark.parametrize("name, tamper, expected", TAMPERING, ids=[t[0] for t in TAMPERING])
def test_validate_fails_on_tampering(capsys, repo, name, tamper, expected):
    tamper(repo)
    code, out, err = run(capsys, "validate", repo.parent)
    assert err.splitlines() == expected(repo)
    assert code == (1 if expected(repo) else 0)
    assert out.startswith("ok: ") == (not expected(repo))


def test_a_repeated_version_in_the_lock_is_an_error(repo):
    lock = repo / "versions.lock"
    lock.write_text(lock.read_text() + lock.read_text().splitlines()[-1] + "\n")
    _, problems = read_lock(lock)
    assert [p.format() for p in problems] == [f"{lock}:6:1: lock_syntax: version 1.1.0 is already locked on line 5"]


def test_lock_releases_a_new_version_once(capsys, repo):
    new_version(repo, "1.2.0")
    assert run(capsys, "lock", repo / "1.2.0.yaml")[:2] == (0, "locked: locked@1.2.0\n")
    entries = read_lock(repo / "versions.lock")[0].entries
    assert sorted(entries) == ["1.0.0", "1.1.0", "1.2.0"]
    assert entries["1.2.0"][0] == hashlib.sha256((repo / "1.2.0.yaml").read_bytes()).hexdigest()
    assert run(capsys, "lock", repo)[:2] == (0, "nothing to lock: every version is already released\n")
    edit(repo / "1.2.0.yaml", "title: Lock fixture", "title: Changed after release")
    assert run(capsys, "validate", repo.parent)[0] == 1


def test_lock_refuses_while_a_released_file_is_changed(capsys, repo):
    before = (repo / "versions.lock").read_text()
    edit(repo / "1.0.0.yaml", "title: Lock fixture", "title: Lock fixture!")
    new_version(repo, "1.2.0")
    code, _, err = run(capsys, "lock", repo / "1.2.0.yaml", repo / "1.0.0.yaml")
    assert code == 1
    assert "released_version_changed" in err
    assert (repo / "versions.lock").read_text() == before


def test_the_bundled_policy_is_locked():
    policies = load_rules([ROOT / "rules"])
    assert check_locks(policies) == []
    entries = read_lock(ROOT / "rules" / "couples-attendance" / "versions.lock")[0].entries
    assert {v: s for v, (s, _) in entries.items()} == {p.version: p.sha256 for p in policies}
