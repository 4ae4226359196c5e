"""Settings from defaults < one YAML or TOML file < environment < command-line flags.

Every problem is collected (with file, line and the setting's dotted path) and raised
once as a ConfigError, so a bad deployment fails at start-up with the whole list.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from api.config.coerce import check_settings, coerce
from api.config.settings import FIELDS, Field, Settings
from engine.core.errors import PolicyError, Problem
from engine.policy.yaml_source import read_yaml

__all__ = ["ConfigError", "ENV_CONFIG", "load_settings"]

ENV_CONFIG = "ATTENDANCE_POLICY_CONFIG"
_TOP = {f.name: f for f in FIELDS if not f.section}  # top-level entries of the file (`keys`)
_SECTIONS = {section: {f.name: f for f in FIELDS if f.section == section}
             for section in sorted({f.section for f in FIELDS} - {""})}


class ConfigError(PolicyError):
    """The configuration is invalid; `problems` lists every issue."""

    code, title = "invalid_config", "Invalid configuration"

    def __init__(self, problems: list[Problem]) -> None:
        n = len(problems)
        super().__init__(f"{n} configuration error{'s' if n != 1 else ''}: {problems[0].format()}",
                         problems=problems)


class _Reader:
    """Collects typed values and problems from one source at a time."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.problems: list[Problem] = []

    def add(self, spec: Field, raw: Any, *, where: str, file: str | None, line: int | None = None,
            base: Path | None = None, from_env: bool = False) -> None:
        value, message = coerce(spec, raw, from_env=from_env, base=base)
        if message:
            self.problems.append(Problem("invalid_config", message, where, file, line, 1 if line else None))
        else:
            self.values[spec.name] = value


def _read_file(path: Path) -> tuple[dict[str, Any], dict[tuple[Any, ...], tuple[int, int]], list[Problem]]:
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        return {}, {}, [Problem("invalid_config", f"cannot read the configuration file: {e.strerror}", "", name)]
    if path.suffix.lower() == ".toml":
        try:
            return tomllib.loads(data.decode("utf-8")), {}, []
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            return {}, {}, [Problem("invalid_config", f"invalid TOML: {e}", "", name)]
    if path.suffix.lower() not in (".yaml", ".yml"):
        return {}, {}, [Problem("invalid_config", "the configuration file must end in .toml, .yaml or .yml", "", name)]
    if not data.strip():
        return {}, {}, []  # an empty file means "all defaults"
    doc, problems = read_yaml(data, name)
    if doc is None or problems:
        return {}, {}, problems
    return (doc.data if doc.data is not None else {}), doc.positions, []


def _unknown(name: str, known: list[str], where: str, file: str, line: int | None) -> Problem:
    from engine.core.suggest import did_you_mean

    full = f"{where}.{name}" if where else name
    return Problem("invalid_config", f"unknown setting{did_you_mean(name, known)}", full, file, line,
                   1 if line else None)


def _from_mapping(raw: Any, file: str, base: Path, positions: dict[tuple[Any, ...], tuple[int, int]],
                  reader: _Reader) -> None:
    def line(*path: Any) -> int | None:
        pos = positions.get(tuple(path))
        return pos[0] if pos else None

    if not isinstance(raw, Mapping):
        reader.problems.append(Problem("invalid_config", "the configuration must be a mapping of sections", "", file))
        return
    for section, body in raw.items():
        if section in _TOP:
            reader.add(_TOP[section], body, where=section, file=file, line=line(section), base=base)
            continue
        if section not in _SECTIONS:
            reader.problems.append(_unknown(str(section), [*_SECTIONS, *_TOP], "", file, line(section)))
            continue
        if not isinstance(body, Mapping):
            reader.problems.append(Problem("invalid_config", "must be a mapping", str(section), file, line(section)))
            continue
        known = _SECTIONS[section]
        for name, value in body.items():
            if name not in known:
                reader.problems.append(_unknown(str(name), list(known), str(section), file, line(section, name)))
                continue
            reader.add(known[name], value, where=f"{section}.{name}", file=file, line=line(section, name), base=base)


def _from_env(environ: Mapping[str, str], reader: _Reader) -> None:
    for spec in FIELDS:
        if spec.env in environ:
            reader.add(spec, environ[spec.env], where=spec.env, file="<environment>", from_env=True,
                       base=Path.cwd())


def load_settings(source: str | os.PathLike[str] | Mapping[str, Any] | Settings | None = None, *,
                  environ: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read, merge and validate settings; raise ConfigError listing every problem."""
    if isinstance(source, Settings):
        settings = replace(source, **dict(overrides or {}))
        _raise_if(check_settings(settings))
        return settings
    env = os.environ if environ is None else environ
    if source is None and env.get(ENV_CONFIG):
        source = env[ENV_CONFIG]
    reader = _Reader()
    label = "<defaults>"
    if isinstance(source, Mapping):
        label = "<config>"
        _from_mapping(source, label, Path.cwd(), {}, reader)
    elif source is not None:
        path = Path(source)
        label = str(path)
        raw, positions, problems = _read_file(path)
        reader.problems.extend(problems)
        if not problems:
            _from_mapping(raw, label, path.resolve().parent, positions, reader)
    _from_env(env, reader)
    reader.values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    settings = Settings(**reader.values, source=label)
    _raise_if(reader.problems + check_settings(settings))
    return settings


def _raise_if(problems: list[Problem]) -> None:
    if problems:
        raise ConfigError(problems)

