"""Settings: defaults < YAML/TOML file < environment < flags, every problem reported at once."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.config.loader import ConfigError, load_settings
from api.config.settings import FIELDS, ApiKey, Field, Settings, is_loopback
from support.service import KEYS, RULES

HASH = KEYS[0]["sha256"]


def test_defaults() -> None:
    s = load_settings(environ={"ATTENDANCE_POLICY_RULES": RULES})
    assert (s.host, s.port, s.workers, s.database, s.max_body_bytes, s.max_batch_items) == (
        "127.0.0.1", 8080, 2, "var/decisions.sqlite3", 65536, 1000)
    assert s.redact == ("session.scheduled_start",) and not s.auth_enabled


TOML = f"""
[server]
port = 9001
workers = 3

[policies]
rules = ["{RULES}"]

[decision_log]
path = "log/decisions.sqlite3"
redact = []

[[keys]]
id = "scheduler"
sha256 = "{HASH}"
roles = ["evaluate"]
"""

YAML = f"""
server:
  port: 9001
  workers: 3
policies:
  rules: [{RULES}]
decision_log:
  path: log/decisions.sqlite3
  redact: []
keys:
  - id: scheduler
    sha256: "{HASH}"
    roles: [evaluate]
"""


@pytest.mark.parametrize(("name", "text"), [("service.toml", TOML), ("service.yaml", YAML)])
def test_file_formats_agree(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    s = load_settings(path, environ={})
    assert (s.port, s.workers, s.redact, s.source) == (9001, 3, (), str(path))
    assert s.database == str(tmp_path / "log" / "decisions.sqlite3")  # relative to the file
    assert [(k.id, k.roles) for k in s.keys] == [("scheduler", frozenset({"evaluate"}))]


def test_environment_overrides_file_and_flags_override_environment(tmp_path: Path) -> None:
    path = tmp_path / "service.toml"
    path.write_text(TOML)
    env = {"ATTENDANCE_POLICY_PORT": "9100", "ATTENDANCE_POLICY_WORKERS": "5",
           "ATTENDANCE_POLICY_REDACT": "clinical.safety_concern, session.scheduled_start",
           "ATTENDANCE_POLICY_CONFIG": "/nonexistent.toml"}
    s = load_settings(path, environ=env, overrides={"workers": 7, "host": None})
    assert (s.port, s.workers, s.host) == (9100, 7, "127.0.0.1")
    assert s.redact == ("clinical.safety_concern", "session.scheduled_start")


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "service.yaml"
    path.write_text(YAML)
    assert load_settings(None, environ={"ATTENDANCE_POLICY_CONFIG": str(path)}).port == 9001


def test_keys_from_environment() -> None:
    env = {"ATTENDANCE_POLICY_KEYS": f'[{{"id": "a", "sha256": "{HASH}", "roles": ["audit", "admin"]}}]',
           "ATTENDANCE_POLICY_RULES": RULES}
    (key,) = load_settings(environ=env).keys
    assert (key.id, key.roles) == ("a", frozenset({"audit", "admin"}))


def _problems(config: Any, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(config, environ={"ATTENDANCE_POLICY_RULES": RULES, **(environ or {})})
    return [p.format() for p in info.value.problems]


def _key(**fields: Any) -> dict[str, Any]:
    return {"keys": [{"id": "k", "sha256": HASH, "roles": ["evaluate"], **fields}]}


@pytest.mark.parametrize(("config", "environ", "expected"), [
    ({"server": {"prot": 1}}, {}, "<config>: invalid_config: unknown setting; did you mean 'port'? (at server.prot)"),
    ({"sever": {}}, {}, "<config>: invalid_config: unknown setting; did you mean 'server'? (at sever)"),
    ({"server": {"port": 0}}, {}, "<config>: invalid_config: 0 is less than the minimum of 1 (at server.port)"),
    ({"server": {"port": "80"}}, {}, "<config>: invalid_config: '80' is not an integer (at server.port)"),
    ({"server": {"workers": True}}, {}, "<config>: invalid_config: True is not an integer (at server.workers)"),
    ({"server": "x"}, {}, "<config>: invalid_config: must be a mapping (at server)"),
    ({}, {"ATTENDANCE_POLICY_PORT": "http"},
     "<environment>: invalid_config: 'http' is not an integer (at ATTENDANCE_POLICY_PORT)"),
    ({}, {"ATTENDANCE_POLICY_ALLOW_UNAUTHENTICATED": "maybe"},
     "<environment>: invalid_config: 'maybe' is not a boolean (true or false) (at ATTENDANCE_POLICY_ALLOW_UNAUTHENTICATED)"),
    ({}, {"ATTENDANCE_POLICY_KEYS": "[{"},
     "<environment>: invalid_config: is not valid JSON (Expecting property name enclosed in double quotes) "
     "(at ATTENDANCE_POLICY_KEYS)"),
    ({"decision_log": {"redact": ["clinical.safety_concerns"]}}, {},
     "<config>: invalid_config: unknown fact 'clinical.safety_concerns'; did you mean 'clinical.safety_concern'? "
     "(at decision_log.redact)"),
    ({"decision_log": {"redact": ["session.id"]}}, {},
     "<config>: invalid_config: 'session.id' cannot be redacted: it is the audit key of the decision log "
     "(and opaque by contract) (at decision_log.redact)"),
    ({"decision_log": {"path": "postgresql://db/x"}}, {},
     "<config>: invalid_config: an SQLite file path, not a URL: a PostgreSQL decision log is `decision_log.url` "
     "(at decision_log.path)"),
    ({}, {"ATTENDANCE_POLICY_DATABASE_URL": "mysql://db/x"},
     "<config>: invalid_config: 'mysql' is not a PostgreSQL URL: write postgresql://user@host:port/dbname (unset "
     "for the SQLite file decision_log.path) (at decision_log.url)"),
    ({}, {"ATTENDANCE_POLICY_RULES": "/nonexistent/rules"},
     "<config>: invalid_config: /nonexistent/rules: no such file or directory (at policies.rules)"),
    (_key(sha256="abc"), {}, "<config>: invalid_config: [0]: key 'k': sha256 must be 64 hex digits (make it with "
     "`attendance-policy keys hash`); never put the key itself in the configuration (at keys)"),
    (_key(roles=["evaluator"]), {},
     "<config>: invalid_config: [0]: key 'k': unknown role 'evaluator'; did you mean 'evaluate'? (at keys)"),
    (_key(roles=[]), {},
     "<config>: invalid_config: [0]: key 'k': roles must be a non-empty list of evaluate, audit, admin, studio (at keys)"),
    (_key(id="has space"), {},
     "<config>: invalid_config: [0]: id must be 1-64 letters, digits, '.', '_' or '-' (at keys)"),
    (_key(token="x"), {}, "<config>: invalid_config: [0]: unknown field 'token' (at keys)"),
    ({"keys": [_key()["keys"][0]] * 2}, {}, "<config>: invalid_config: [1]: the id 'k' is used twice (at keys)"),
    ({"server": {"host": "0.0.0.0"}}, {},
     "<config>: invalid_config: refusing to serve 0.0.0.0 without API keys: anyone who can reach it could evaluate "
     "and read the decision log. Configure keys (`attendance-policy keys new`), bind to 127.0.0.1, or pass "
     "--allow-unauthenticated if a proxy in front authenticates (at server.host)"),
])
def test_problems(config: Any, environ: dict[str, str], expected: str) -> None:
    assert _problems(config, environ) == [expected]


INTS = [f for f in FIELDS if f.kind == "int"]


def _out_of_bounds() -> Iterator[Any]:
    for f in INTS:
        assert f.minimum is not None and f.maximum is not None
        low, high = f.minimum - 1, f.maximum + 1
        yield pytest.param(f, low, f"{low} is less than the minimum of {f.minimum}", id=f"{f.key}-below")
        yield pytest.param(f, high, f"{high} is greater than the maximum of {f.maximum}", id=f"{f.key}-above")


@pytest.mark.parametrize(("spec", "value", "message"), list(_out_of_bounds()))
def test_bounds_in_file_and_environment(spec: Field, value: int, message: str) -> None:
    assert _problems({spec.section: {spec.name: value}}) == [f"<config>: invalid_config: {message} (at {spec.key})"]
    assert _problems({}, {spec.env: str(value)}) == [f"<environment>: invalid_config: {message} (at {spec.env})"]


@pytest.mark.parametrize("spec", INTS, ids=lambda f: f.key)
def test_bounds_are_inclusive(spec: Field) -> None:
    for value in (spec.minimum, spec.maximum):
        assert getattr(load_settings({spec.section: {spec.name: value}}, environ={"ATTENDANCE_POLICY_RULES": RULES}),
                       spec.name) == value
        assert getattr(load_settings(environ={"ATTENDANCE_POLICY_RULES": RULES, spec.env: f" {value} "}),
                       spec.name) == value


KEY = KEYS[0]
ENV_SAMPLES: dict[str, tuple[str, Any]] = {  # kind: (a value in the environment, what it sets)
    "str": ("localhost", "localhost"),
    "bool": ("yes", True),
    "path": ("/srv/attendance-policy/x", "/srv/attendance-policy/x"),
    "paths": (f"{RULES}{os.pathsep}{RULES}", (RULES, RULES)),
    "strings": ("clinical.safety_concern, session.scheduled_start",
                ("clinical.safety_concern", "session.scheduled_start")),
    "keys": (json.dumps([KEY]), (ApiKey(KEY["id"], KEY["sha256"], frozenset(KEY["roles"])),)),
}
ENV_SAMPLES_BY_NAME: dict[str, tuple[str, Any]] = {  # settings whose values are checked further than their kind
    "ATTENDANCE_POLICY_DATABASE_URL": ("postgresql://db.internal/log", "postgresql://db.internal/log"),
}


@pytest.mark.parametrize("spec", FIELDS, ids=lambda f: f.env)
def test_each_environment_variable_sets_its_setting(spec: Field) -> None:
    text, value = (str(spec.maximum), spec.maximum) if spec.kind == "int" else \
        ENV_SAMPLES_BY_NAME.get(spec.env, ENV_SAMPLES[spec.kind])
    base = load_settings(environ={"ATTENDANCE_POLICY_RULES": RULES})
    s = load_settings(environ={"ATTENDANCE_POLICY_RULES": RULES, spec.env: text})
    assert getattr(s, spec.name) == value != getattr(base, spec.name)
    assert [f.name for f in FIELDS if getattr(s, f.name) != getattr(base, f.name)] == [spec.name]


def test_every_problem_at_once() -> None:
    problems = _problems({"server": {"port": -1, "workers": 0, "hots": "x"}}, {"ATTENDANCE_POLICY_TIMEOUT": "0"})
    assert len(problems) == 4


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("bad.toml", "[server\n", "bad.toml: invalid_config: invalid TOML"),
    ("bad.yaml", "server: [\n", "bad.yaml:2:1: yaml_syntax"),
    ("dup.yaml", "server:\n  port: 1\n  port: 2\n", "dup.yaml:3:3: "),
    ("bad.ini", "[server]\n", "bad.ini: invalid_config: the configuration file must end in .toml, .yaml or .yml"),
    ("line.yaml", "server:\n  workers: many\n", "line.yaml:2:1: invalid_config: 'many' is not an integer"),
])
def test_file_problems_name_the_file(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    (problem,) = _problems(path)
    assert problem.startswith(str(tmp_path / expected))


def test_missing_file(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path / "none.toml")
    assert problem.endswith("cannot read the configuration file: No such file or directory")


def test_empty_yaml_file_means_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("\n")
    assert load_settings(path, environ={"ATTENDANCE_POLICY_RULES": RULES}).port == 8080


def test_settings_object_is_rechecked() -> None:
    with pytest.raises(ConfigError):
        load_settings(Settings(rules=(RULES,)), overrides={"host": "10.1.2.3"})


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.1", False), ("example.org", False),
])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
