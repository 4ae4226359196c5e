"""Load policy files: safe YAML -> JSON Schema -> semantic checks -> Policy.

Every stage runs, whatever the stages before it found (a duplicate key does not
hide a misspelt fact; past a YAML syntax error, engine/policy/recovery.py reads on
for the file's other mistakes); every problem is collected with file:line:column and a
JSON path, then raised once as a PolicyLoadError, in the order of the file.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engine.core.errors import PolicyLoadError, Problem
from engine.facts.prepare import fact_catalogue
from engine.policy.locate import Locator
from engine.policy.model import MustDecide, Policy, Recommendation, Rule, facts_of
from engine.policy.recovery import read_past
from engine.policy.schema_check import schema_problems
from engine.policy.semantics import SemanticChecker
from engine.policy.template import parse_template
from engine.policy.yaml_source import MAX_FILE_BYTES, Document, json_path, read_yaml

__all__ = ["load_policy", "load_policy_text", "load_rules", "policy_files", "version_problems"]

RULES_ENV = "ATTENDANCE_POLICY_RULES"


def default_rules_dir() -> str:
    """Where the command line looks for rules when none are named: $ATTENDANCE_POLICY_RULES, else ./rules."""
    return os.environ.get(RULES_ENV, "rules")


_VERSION_FILE = re.compile(r"^\d+\.\d+\.\d+\.ya?ml$")
# YAML problems that leave no usable value behind: the later stages say nothing more about it.
_VALUE_LOST = {"yaml_tag", "yaml_value", "yaml_merge"}


def policy_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand files and rules directories into policy version files, sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(f for f in sorted(p.rglob("*.y*ml"))
                       if _VERSION_FILE.match(f.name) and "tests" not in f.relative_to(p).parts)
        else:
            out.append(p)
    return out


def load_each(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Policy], list[Problem]]:
    """Every version file under the given files/directories, each loaded on its own (a file named twice is one
    file): the versions that loaded, and every problem of those that did not."""
    policies: list[Policy] = []
    problems: list[Problem] = []
    for f in {f.resolve(): f for f in policy_files(paths)}.values():
        try:
            policies.append(load_policy(f))
        except PolicyLoadError as e:
            problems.extend(e.problems)
    return policies, problems


def load_rules(paths: Iterable[str | os.PathLike[str]]) -> list[Policy]:
    """Load every policy version under the given files/directories; all problems at once."""
    policies, problems = load_each(paths)
    problems += version_problems(policies)
    if problems:
        raise PolicyLoadError(problems)
    return policies


def version_problems(policies: Iterable[Policy]) -> list[Problem]:
    """What only all the versions of a policy show: a version defined twice, dates out of version order."""
    out: list[Problem] = []
    seen: dict[str, Policy] = {}
    for pol in policies:
        if pol.key in seen:
            out.append(_at(pol, "duplicate_version", f"{pol.key} is also defined in {seen[pol.key].file}", "version"))
        seen.setdefault(pol.key, pol)
    by_id: dict[str, list[Policy]] = {}
    for pol in seen.values():
        by_id.setdefault(pol.id, []).append(pol)
    for versions in by_id.values():
        ordered = sorted(versions, key=lambda p: p.version_tuple)
        pairs = zip(ordered, ordered[1:], strict=False)
        out += [_date_order(a, b) for a, b in pairs if b.effective_from <= a.effective_from]
    return out


def _date_order(before: Policy, after: Policy) -> Problem:
    if after.effective_from == before.effective_from:
        why = (f"the same date as version {before.version} (was it copied along with the file?); a higher version "
               f"must take effect after the version before it: write the date from which {after.version} applies")
    else:
        why = (f"before version {before.version}, which takes effect on {before.effective_from}; a higher version "
               "must take effect after the version before it")
    return _at(after, "effective_from_order", f"version {after.version} takes effect on {after.effective_from}, "
                                              f"{why}", "effective_from")


def _at(policy: Policy, code: str, message: str, key: str) -> Problem:
    """A problem at a top-level value of a loaded policy (read again: only a refused set needs the place)."""
    doc = read_yaml(policy.source_text, policy.file)[0]
    line, col = (doc.value_position((key,)) if doc else None) or (1, 1)
    return Problem(code, message, json_path((key,)), policy.file, line, col)


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Load and check one policy version file."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)  # never more: a huge file (or /dev/zero) is refused, not read
    except OSError as e:
        raise PolicyLoadError([Problem("unreadable_file", e.strerror or str(e), "", str(p), None, None)]) from e
    if len(raw) > MAX_FILE_BYTES:
        raise PolicyLoadError([Problem("file_too_large", f"the file is larger than the limit of {MAX_FILE_BYTES} bytes",
                                       "$", str(p), 1, 1)])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise PolicyLoadError([Problem("encoding", "the file is not valid UTF-8", "$", str(p), line, 1)]) from e
    return load_policy_text(text, str(p), expected_version=_stem(p), expected_policy=p.parent.name)


def _stem(p: Path) -> str | None:
    return p.name.rsplit(".", 1)[0] if _VERSION_FILE.match(p.name) else None


def load_policy_text(text: str, filename: str, *, expected_version: str | None = None,
                     expected_policy: str | None = None) -> Policy:
    """Load a policy from YAML text (the file name is used for locations)."""
    doc, problems, checker = _check(text, filename, expected_version, expected_policy)
    if doc is None:  # a syntax error: read past it for the file's other mistakes (engine/policy/recovery.py)
        problems += read_past(text, problems, lambda t: _check(t, filename, expected_version, expected_policy)[1])
    if problems or doc is None or checker is None:
        raise PolicyLoadError(sorted(problems, key=lambda p: (p.line or 0, p.column or 0)))
    return _build(doc, filename, text, checker)


def _check(text: str, filename: str, expected_version: str | None,
           expected_policy: str | None) -> tuple[Document | None, list[Problem], SemanticChecker | None]:
    """Every stage on a text: YAML, then the schema and the semantic checks whatever YAML found (bar a syntax error)."""
    doc, problems = read_yaml(text, filename)
    if doc is None:
        return None, problems, None
    loc = Locator(doc, filename)
    paths = {json_path(p): p for p in doc.positions}
    said = {paths[p.path] for p in problems if p.code in _VALUE_LOST and p.path in paths}
    problems = [loc.named(p, paths[p.path]) if p.path in paths else p for p in problems]
    found, about = schema_problems(doc, loc, said)
    checker = SemanticChecker(doc, loc, said | about)
    checker.check(expected_version, expected_policy)
    return doc, problems + found + checker.problems, checker


def _build(doc: Document, filename: str, text: str, checker: SemanticChecker) -> Policy:
    data, line = doc.data, checker.loc.line
    recs = {
        rid: Recommendation(rid, r["title"], r["indicator"], r["category"], r["text"],
                            tuple(r.get("conflicts_with", ())), line(("recommendations", rid)))
        for rid, r in data["recommendations"].items()
    }
    rules = tuple(_rule(i, r, checker) for i, r in enumerate(data["rules"]))
    must = tuple(MustDecide(m["name"], checker.conditions[("must_decide", i, "when")], line(("must_decide", i)))
                 for i, m in enumerate(data.get("must_decide", ())))
    params, facts = data.get("parameters", {}), fact_catalogue()
    quoted = {f for r in rules for f in parse_template(r.rationale, params, facts).facts}
    return Policy(
        id=data["policy"], version=data["version"],
        effective_from=_dt.date.fromisoformat(data["effective_from"]),
        title=data["title"], owner=data["owner"], changelog=tuple(data["changelog"]),
        parameters=dict(params), recommendations=recs, rules=rules,
        file=filename, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), source_text=text,
        must_decide=must, fact_paths=tuple(sorted({f for r in rules for f in facts_of(r.when)} | quoted)),
    )


def _rule(i: int, r: dict[str, Any], checker: SemanticChecker) -> Rule:
    then = (r["then"],) if isinstance(r["then"], str) else tuple(r["then"])
    return Rule(
        id=r["id"], title=r["title"], when=checker.conditions[("rules", i, "when")],
        then=then, priority=r["priority"], rationale=r["rationale"], source=r["source"],
        suppresses=tuple(r.get("suppresses", ())), indicator=r.get("indicator"),
        line=checker.loc.line(("rules", i)),
    )
