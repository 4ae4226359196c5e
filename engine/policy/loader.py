"""Load policy files: safe YAML -> JSON Schema -> semantic checks -> Policy.

Every problem is collected with file:line:column and a JSON path, then raised
once as a PolicyLoadError.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import Any

from jsonschema.exceptions import ValidationError, best_match, relevance

from engine.core.errors import PolicyLoadError, Problem
from engine.core.schemas import validator
from engine.policy.model import MustDecide, Policy, Recommendation, Rule, facts_of
from engine.policy.semantics import PLACEHOLDER, SemanticChecker
from engine.policy.yaml_source import MAX_FILE_BYTES, Document, json_path, read_yaml

__all__ = ["load_policy", "load_policy_text", "load_rules", "policy_files"]

RULES_ENV = "ATTENDANCE_POLICY_RULES"


def default_rules_dir() -> str:
    """Where the command line looks for rules when none are named: $ATTENDANCE_POLICY_RULES, else ./rules."""
    return os.environ.get(RULES_ENV, "rules")


_VERSION_FILE = re.compile(r"^\d+\.\d+\.\d+\.ya?ml$")
MAX_SCHEMA_PROBLEMS = 50


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


def load_rules(paths: Iterable[str | os.PathLike[str]]) -> list[Policy]:
    """Load every policy version under the given files/directories; all problems at once."""
    policies: list[Policy] = []
    problems: list[Problem] = []
    for f in policy_files(paths):
        try:
            policies.append(load_policy(f))
        except PolicyLoadError as e:
            problems.extend(e.problems)
    seen: dict[str, Policy] = {}
    for pol in policies:
        if pol.key in seen:
            problems.append(Problem("duplicate_version", f"{pol.key} is also defined in {seen[pol.key].file}",
                                    "$.version", pol.file, 1, 1))
        seen[pol.key] = pol
    if problems:
        raise PolicyLoadError(problems)
    return policies


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
    doc, problems = read_yaml(text, filename)
    if doc is None:
        raise PolicyLoadError(problems)
    problems += _schema_problems(doc, filename)
    if problems:
        raise PolicyLoadError(problems)
    checker = SemanticChecker(doc, filename)
    checker.check_identity(expected_version, expected_policy)
    policy = _build(doc, filename, text, checker)
    if checker.problems:
        raise PolicyLoadError(checker.problems)
    return policy


def _schema_problems(doc: Document, filename: str) -> list[Problem]:
    # A hostile file (100,000 empty rules) has millions of errors: report the first few, fast.
    errors = list(islice(validator("policy").iter_errors(doc.data), MAX_SCHEMA_PROBLEMS))
    out = []
    for err in sorted(errors, key=lambda e: [str(x) for x in e.absolute_path]):
        err = _headline(err)
        path = tuple(err.absolute_path)
        line, col = doc.position(path) or (1, 1)
        out.append(Problem("schema", _schema_message(err), json_path(path), filename, line, col))
    return out


# How badly a `oneOf` branch's own-level errors say "the value was not written in this shape".
_SHAPE_MISMATCH = {"type": 3, "additionalProperties": 2, "required": 1}


def _headline(err: ValidationError) -> ValidationError:
    """The error to report: inside a `oneOf` (the shapes of a condition, the forms of a value), the error
    of the branch the value was written in (`op: equals` is a bad operator, not an unknown key `fact`)."""
    while err.context:
        branches: dict[Any, list[ValidationError]] = {}
        for e in err.context:
            branches.setdefault(e.relative_schema_path[0], []).append(e)
        score = {b: sum(_SHAPE_MISMATCH.get(str(e.validator), 0) for e in errs if not e.relative_path)
                 for b, errs in branches.items()}
        ranked = sorted(score.values())
        if len(ranked) > 1 and ranked[0] == ranked[1]:
            return best_match([err] + list(err.context)) or err  # no branch stands out
        chosen = branches[min(score, key=lambda b: score[b])]
        err = max(chosen, key=relevance)
    return err


def _schema_message(err: Any) -> str:
    if err.validator == "additionalProperties":
        from engine.core.suggest import did_you_mean

        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        hint = did_you_mean(extra[0], err.schema.get("properties", {})) if extra else ""
        return f"unknown key {extra[0]!r}{hint}" if extra else err.message
    if err.validator in ("maxItems", "minItems") and isinstance(err.instance, list):
        which, bound = ("long", "at most") if err.validator == "maxItems" else ("short", "at least")
        return f"the list is too {which}: {len(err.instance)} items, {bound} {err.validator_value} allowed"
    # jsonschema quotes the whole offending value: keep a message readable when the value is huge.
    text, shown = err.message, repr(err.instance)
    if len(shown) > 80 and shown in text:
        text = text.replace(shown, _short(err.instance))
    return text if len(text) <= 300 else text[:297] + "..."


def _short(value: Any) -> str:
    if isinstance(value, str):
        return f"a {len(value)}-character string ({value[:20]!r}...)"
    if isinstance(value, dict):
        return f"a mapping of {len(value)} keys"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return repr(value)[:60] + "..."


def _build(doc: Document, filename: str, text: str, checker: SemanticChecker) -> Policy:
    data = doc.data
    recs = {
        rid: Recommendation(rid, r["title"], r["indicator"], r["category"], r["text"],
                            tuple(r.get("conflicts_with", ())), checker.line(("recommendations", rid)))
        for rid, r in data["recommendations"].items()
    }
    rules = tuple(_rule(doc, i, r, checker) for i, r in enumerate(data["rules"]))
    must = tuple(MustDecide(m["name"], checker.condition(m["when"], ("must_decide", i, "when")),
                            checker.line(("must_decide", i)))
                 for i, m in enumerate(data.get("must_decide", ())))
    checker.check_rules(rules, recs)
    fact_paths = sorted({f for r in rules for f in facts_of(r.when) | _quoted_facts(r.rationale)})
    return Policy(
        id=data["policy"], version=data["version"],
        effective_from=_dt.date.fromisoformat(data["effective_from"]),
        title=data["title"], owner=data["owner"], changelog=tuple(data["changelog"]),
        parameters=dict(data.get("parameters", {})), recommendations=recs, rules=rules,
        file=filename, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), source_text=text,
        must_decide=must, fact_paths=tuple(fact_paths),
    )


def _quoted_facts(template: str) -> set[str]:
    return {n for n in PLACEHOLDER.findall(template) if n != "matched" and not n.startswith("param:")}


def _rule(doc: Document, i: int, r: dict[str, Any], checker: SemanticChecker) -> Rule:
    then = (r["then"],) if isinstance(r["then"], str) else tuple(r["then"])
    return Rule(
        id=r["id"], title=r["title"], when=checker.condition(r["when"], ("rules", i, "when")),
        then=then, priority=r["priority"], rationale=r["rationale"], source=r["source"],
        suppresses=tuple(r.get("suppresses", ())), indicator=r.get("indicator"),
        line=checker.line(("rules", i)),
    )
