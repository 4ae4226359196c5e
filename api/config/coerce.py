"""Typing of single settings, and the checks that need several of them together."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from api.config.settings import ROLES, SEPARATORS, ApiKey, Field, Settings, is_loopback
from engine.core.errors import Problem
from engine.core.suggest import did_you_mean
from engine.facts.prepare import fact_catalogue

__all__ = ["coerce", "check_settings", "parse_keys"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NEVER_REDACTED = {"session.id": "it is the audit key of the decision log (and opaque by contract)"}


def _int(spec: Field, raw: Any, from_env: bool) -> tuple[Any, str]:
    if from_env and isinstance(raw, str):
        try:
            raw = int(raw.strip())
        except ValueError:
            return None, f"{raw!r} is not an integer"
    if isinstance(raw, bool) or not isinstance(raw, int):
        return None, f"{raw!r} is not an integer"
    if spec.minimum is not None and raw < spec.minimum:
        return None, f"{raw} is less than the minimum of {spec.minimum}"
    if spec.maximum is not None and raw > spec.maximum:
        return None, f"{raw} is greater than the maximum of {spec.maximum}"
    return raw, ""


def _bool(raw: Any, from_env: bool) -> tuple[Any, str]:
    if from_env and isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE, ""
    if isinstance(raw, bool):
        return raw, ""
    return None, f"{raw!r} is not a boolean (true or false)"


def _path(raw: Any, base: Path | None) -> tuple[Any, str]:
    if not isinstance(raw, str) or not raw.strip():
        return None, f"{raw!r} is not a path"
    if "://" in raw:
        return raw, ""  # a URL (e.g. postgresql://), checked by check_settings
    p = Path(os.path.expanduser(raw))
    return str(p if p.is_absolute() or base is None else base / p), ""


def _list(raw: Any, from_env: bool, sep: str) -> tuple[list[str] | None, str]:
    if from_env and isinstance(raw, str):
        raw = [x.strip() for x in raw.split(sep) if x.strip()]
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        return None, f"{raw!r} is not a list of strings"
    return raw, ""


def coerce(spec: Field, raw: Any, *, from_env: bool = False, base: Path | None = None) -> tuple[Any, str]:
    """(typed value, "") or (None, why not)."""
    if spec.kind == "int":
        return _int(spec, raw, from_env)
    if spec.kind == "bool":
        return _bool(raw, from_env)
    if spec.kind == "path":
        if spec.default is None and raw in (None, ""):
            return None, ""  # an optional path, left unset
        return _path(raw, base)
    if spec.kind == "paths":
        items, msg = _list(raw, from_env, SEPARATORS["paths"])
        if items is None:
            return None, msg
        return tuple(_path(x, base)[0] for x in items), ""
    if spec.kind == "strings":
        items, msg = _list(raw, from_env, SEPARATORS["strings"])
        return (tuple(items), "") if items is not None else (None, msg)
    if spec.kind == "keys":
        return parse_keys(raw, from_env)
    if spec.default is None and raw in (None, ""):
        return None, ""  # an optional string (decision_log.url), left unset
    if not isinstance(raw, str) or not raw.strip():
        return None, f"{raw!r} is not a non-empty string"
    return raw.strip(), ""


def parse_keys(raw: Any, from_env: bool = False) -> tuple[Any, str]:
    """A list of `{id, sha256, roles}` (a JSON string in the environment)."""
    if from_env and isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as e:
            return None, f"is not valid JSON ({e.msg})"
    if not isinstance(raw, list):
        return None, "must be a list of {id, sha256, roles}"
    keys: list[ApiKey] = []
    for i, item in enumerate(raw):
        key, msg = _key(item)
        if msg:
            return None, f"[{i}]: {msg}"
        assert key is not None
        if any(k.id == key.id for k in keys):
            return None, f"[{i}]: the id {key.id!r} is used twice"
        if any(k.sha256 == key.sha256 for k in keys):
            return None, f"[{i}]: the same key hash is listed twice"
        keys.append(key)
    return tuple(keys), ""


def _key(item: Any) -> tuple[ApiKey | None, str]:
    if not isinstance(item, Mapping):
        return None, "must be a mapping with id, sha256 and roles"
    extra = sorted(set(item) - {"id", "sha256", "roles"})
    if extra:
        return None, f"unknown field {extra[0]!r}{did_you_mean(str(extra[0]), ['id', 'sha256', 'roles'])}"
    key_id, digest, roles = item.get("id"), item.get("sha256"), item.get("roles")
    if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
        return None, "id must be 1-64 letters, digits, '.', '_' or '-'"
    if not isinstance(digest, str) or not _SHA256.match(digest.lower()):
        return None, (f"key {key_id!r}: sha256 must be 64 hex digits (make it with "
                      "`attendance-policy keys hash`); never put the key itself in the configuration")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        return None, f"key {key_id!r}: roles must be a non-empty list of {', '.join(ROLES)}"
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        return None, f"key {key_id!r}: unknown role {unknown[0]!r}{did_you_mean(unknown[0], ROLES)}"
    return ApiKey(key_id, digest.lower(), frozenset(roles)), ""


def check_settings(s: Settings) -> list[Problem]:
    """Checks across settings: redacted facts exist, rules exist, the bind is safe."""
    problems: list[Problem] = []

    def add(path: str, message: str) -> None:
        problems.append(Problem("invalid_config", message, path, s.source))

    catalogue = list(fact_catalogue())
    for name in s.redact:
        if name in _NEVER_REDACTED:
            add("decision_log.redact", f"{name!r} cannot be redacted: {_NEVER_REDACTED[name]}")
        elif name not in catalogue:
            add("decision_log.redact", f"unknown fact {name!r}{did_you_mean(name, catalogue)}")
    for rules in s.rules:
        if not os.path.exists(rules):
            add("policies.rules", f"{rules}: no such file or directory")
    if "://" in s.path:
        add("decision_log.path", "an SQLite file path, not a URL: a PostgreSQL decision log is `decision_log.url`")
    if s.url is not None and not s.url.startswith(("postgresql://", "postgres://")):
        add("decision_log.url", f"{s.url.split('://')[0]!r} is not a PostgreSQL URL: write postgresql://user@host:port/"
                                "dbname (unset for the SQLite file decision_log.path)")
    if not s.keys and not is_loopback(s.host) and not s.allow_unauthenticated:
        add("server.host", f"refusing to serve {s.host} without API keys: anyone who can reach it could "
                           "evaluate and read the decision log. Configure keys (`attendance-policy keys new`), "
                           "bind to 127.0.0.1, or pass --allow-unauthenticated if a proxy in front authenticates")
    return problems
