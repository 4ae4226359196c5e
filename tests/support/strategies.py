"""Hypothesis strategies built from the facts schema: valid session facts, and facts broken in one place.

Everything is derived from `schemas/session-facts.schema.json` (types, enums, bounds,
`null`, required fields), so a field added to the schema is generated without a change here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any

from hypothesis import strategies as st

from engine.core.schemas import load_schema
from support.factgen import consistent

UTC_TIMES = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1),
                         timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)),
                                                    dt.timezone(dt.timedelta(hours=-8))]))
# Opaque ids: any printable text, as a client may send (no control characters: the JSON reader refuses them).
IDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=128)


@cache
def sections() -> dict[str, dict[str, Any]]:
    """section -> its schema node."""
    return dict(load_schema("session-facts")["properties"])


def _types(node: dict[str, Any]) -> list[str]:
    t = node.get("type", [])
    return [t] if isinstance(t, str) else list(t)


def rfc3339(moment: dt.datetime) -> str:
    text = moment.isoformat()
    return text.replace("+00:00", "Z")


def leaf(path: str, node: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Valid values of one leaf fact."""
    types = _types(node)
    if "enum" in node:
        out: st.SearchStrategy[Any] = st.sampled_from(node["enum"])
    elif "boolean" in types:
        out = st.booleans()
    elif "integer" in types:
        ints = st.integers(node.get("minimum", -(2**31)), node.get("maximum", 2**31))
        out = ints | ints.map(float)  # 9.0 is an integer in JSON Schema, and must decide like 9
    elif "number" in types:
        lo, hi = node.get("minimum", -1e9), node.get("maximum", 1e9)
        out = st.floats(lo, hi, allow_nan=False, allow_infinity=False) | st.integers(int(lo), int(hi))
    elif node.get("format") == "date-time":
        out = UTC_TIMES.map(rfc3339)
    else:
        out = IDS
    if "null" in types:
        out = out | st.none()
    return out


def section(name: str) -> st.SearchStrategy[dict[str, Any]]:
    node = sections()[name]
    props = {k: leaf(f"{name}.{k}", v) for k, v in node["properties"].items()}
    required = set(node.get("required", ()))
    return st.fixed_dictionaries({k: s for k, s in props.items() if k in required},
                                 optional={k: s for k, s in props.items() if k not in required})


def valid_facts(session_types: list[str] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Facts the schema accepts: `session` always, every other section and field optional."""
    required = set(load_schema("session-facts").get("required", ()))
    strategies = {name: section(name) for name in sections()}
    facts = st.fixed_dictionaries({k: s for k, s in strategies.items() if k in required},
                                  optional={k: s for k, s in strategies.items() if k not in required}).map(consistent)
    if session_types is None:
        return facts
    return st.tuples(facts, st.sampled_from(session_types)).map(
        lambda pair: {**pair[0], "session": {**pair[0]["session"], "type": pair[1]}})


# -- invalid facts -------------------------------------------------------------------------


@dataclass(frozen=True)
class Broken:
    """Facts broken in exactly one place, and the path where the error must be reported."""

    facts: dict[str, Any]
    path: str
    how: str


def _wrong_values(node: dict[str, Any]) -> list[Any]:
    """Values of the wrong type or out of range for a leaf."""
    types = _types(node)
    out: list[Any] = [[1], {"x": 1}]
    if "null" not in types:
        out.append(None)
    if "enum" in node:
        out += ["not-a-choice", node["enum"][0].upper() + "!", 1, True]
    elif "boolean" in types:
        out += ["true", 1, 0, "yes"]
    elif "integer" in types or "number" in types:
        out += ["1", True]
        if "integer" in types:
            out.append(1.5)
        if "minimum" in node:
            out.append(node["minimum"] - 1)
        if "maximum" in node:
            out += [node["maximum"] + 1, 2**64 + 1, 1e300]
    elif node.get("format") == "date-time":
        # the last four were accepted by Python's fromisoformat before the RFC 3339 check (regression)
        out += ["2026-01-01 10:00:00Z", "2026-13-01T10:00:00Z", "2026-01-01T10:00:00", "tomorrow", 7,
                "2026-01-01T10:00Z", "20260101T100000Z", "2026-W01-1T10:00:00Z", "2026-01-01T10:00:00+01"]
    else:
        out += [7, "", "x" * (node.get("maxLength", 128) + 1)]
    return out


def _leaves() -> list[tuple[str, str, dict[str, Any]]]:
    return [(s, k, v) for s, node in sections().items() for k, v in node["properties"].items()]


def _keep_session_required(facts: dict[str, Any], section: str) -> None:
    """A broken `session` keeps its required fields, so the only problem is the one made on purpose."""
    if section == "session":
        facts["session"].setdefault("id", "s-1")
        facts["session"].setdefault("type", "couples")


@st.composite
def broken_facts(draw: st.DrawFn) -> Broken:
    """Valid facts with one mutation: a wrong value, an unknown key, a missing required field, a bad section."""
    facts = draw(valid_facts())
    kind = draw(st.sampled_from(["value", "unknown_key", "unknown_section", "missing", "section_type"]))
    if kind == "value":
        sec, name, node = draw(st.sampled_from(_leaves()))
        bad = draw(st.sampled_from(_wrong_values(node)))
        facts[sec] = {**facts.get(sec, {}), name: bad}
        _keep_session_required(facts, sec)
        return Broken(facts, f"{sec}.{name}", f"{name}={bad!r}")
    if kind == "unknown_key":
        sec = draw(st.sampled_from(sorted(sections())))
        key = draw(st.sampled_from(["$s", "sid", "id.x", "a.b", "$and", "safety_concerns", "\u00e9", "x" * 300]))
        if key in sections()[sec]["properties"]:
            key += "_"
        facts[sec] = {**facts.get(sec, {}), key: True}
        _keep_session_required(facts, sec)
        return Broken(facts, f"{sec}.{key}", f"unknown key {key!r}")
    if kind == "unknown_section":
        key = draw(st.sampled_from(["$s", "sid", "session.id", "clinicals", "extra"]))
        facts[key] = {}
        return Broken(facts, key, f"unknown section {key!r}")
    if kind == "missing":
        which = draw(st.sampled_from(["session", "session.id", "session.type"]))
        if which == "session":
            del facts["session"]
        else:
            del facts["session"][which.split(".")[1]]
        return Broken(facts, which, f"missing {which}")
    sec = draw(st.sampled_from(sorted(sections())))
    facts[sec] = draw(st.sampled_from([[], "x", 1, None, True]))
    return Broken(facts, sec, f"{sec} is not an object")
