"""The service's settings: each declared once, as a field of the frozen Settings dataclass."""

from __future__ import annotations

import functools
import ipaddress
import json
import os
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypeVar

from engine.facts.strict_json import MAX_FACTS_BYTES
from engine.policy.loader import RULES_ENV

__all__ = ["ApiKey", "Field", "FIELDS", "Kind", "ROLES", "SEPARATORS", "Settings", "is_loopback", "markdown_table"]

ROLES = ("evaluate", "audit", "admin", "studio")

Kind = Literal["str", "int", "bool", "path", "paths", "strings", "keys"]
SEPARATORS: dict[str, str] = {"paths": os.pathsep, "strings": ","}  # a list in one environment variable
_SPEC = "setting"  # the metadata key of a Settings field that is a setting
_T = TypeVar("_T")


@dataclass(frozen=True)
class ApiKey:
    """A caller: a short name (logged as `key_id`), the sha256 of its token, its roles."""

    id: str
    sha256: str
    roles: frozenset[str]


@dataclass(frozen=True)
class Field:
    """One setting, read back from its Settings field: name, default, file section, environment variable, bounds."""

    name: str
    default: Any
    section: str  # "" for a top-level entry of the file (`keys`)
    kind: Kind
    env: str
    minimum: int | None = None
    maximum: int | None = None
    help: str = ""

    @property
    def key(self) -> str:
        """Where it is written in the file: `section.name`."""
        return f"{self.section}.{self.name}" if self.section else self.name


def setting(default: _T, section: str, kind: Kind, env: str, minimum: int | None = None,
            maximum: int | None = None, *, help: str) -> _T:
    """A Settings field carrying the rest of its declaration; FIELDS reads it back."""
    spec = {"section": section, "kind": kind, "env": env, "minimum": minimum, "maximum": maximum, "help": help}
    return field(default=default, metadata={_SPEC: spec})


@functools.lru_cache(maxsize=1024)  # asked on every request, for a handful of peer addresses
def is_loopback(host: str) -> bool:
    """True for `localhost`, 127.0.0.0/8 and ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    """Validated settings; build them with `api.config.load_settings`."""

    host: str = setting("127.0.0.1", "server", "str", "ATTENDANCE_POLICY_HOST",
                        help="address to bind; a non-loopback address needs `keys` or `allow_unauthenticated`")
    port: int = setting(8080, "server", "int", "ATTENDANCE_POLICY_PORT", 1, 65535, help="TCP port")
    workers: int = setting(2, "server", "int", "ATTENDANCE_POLICY_WORKERS", 1, 64,
                           help="gunicorn worker processes (about one per core: decisions are CPU work "
                                "plus one fsync)")
    threads: int = setting(4, "server", "int", "ATTENDANCE_POLICY_THREADS", 1, 64,
                           help="request threads per worker, for what its event loop does not run itself (batches, "
                                "log queries, the studio, admin). The loop reads every request whole, so a slow client "
                                "holds no thread, and runs single decisions itself: those that arrive together share "
                                "one durable decision-log commit (see below)")
    max_requests: int = setting(100_000, "server", "int", "ATTENDANCE_POLICY_MAX_REQUESTS", 0, 10_000_000,
                                help="recycle a worker after this many requests (0: never)")
    max_requests_jitter: int = setting(10_000, "server", "int", "ATTENDANCE_POLICY_MAX_REQUESTS_JITTER",
                                       0, 10_000_000,
                                       help="random extra requests before recycling, so workers do not all "
                                            "restart at once")
    timeout: int = setting(30, "server", "int", "ATTENDANCE_POLICY_TIMEOUT", 1, 3600,
                           help="seconds a worker may be silent (e.g. a frozen engine) before the master kills "
                                "and replaces it")
    graceful_timeout: int = setting(30, "server", "int", "ATTENDANCE_POLICY_GRACEFUL_TIMEOUT", 1, 3600,
                                    help="seconds in-flight requests get to finish after SIGTERM")
    allow_unauthenticated: bool = setting(False, "server", "bool", "ATTENDANCE_POLICY_ALLOW_UNAUTHENTICATED",
                                          help="allow a non-loopback address without keys (only behind a proxy "
                                               "that authenticates)")
    metrics_dir: str | None = setting(None, "server", "path", "ATTENDANCE_POLICY_METRICS_DIR",
                                      help="where workers share metrics and their policy state; emptied at start "
                                           "(unset: `serve` makes a temporary directory)")
    metrics_flush_ms: int = setting(1000, "server", "int", "ATTENDANCE_POLICY_METRICS_FLUSH_MS", 0, 60_000,
                                    help="how often a worker publishes its counters to the others (0: after every "
                                         "request); `/metrics` may show other workers' counts up to this late")
    rules: tuple[str, ...] = setting(("rules",), "policies", "paths", RULES_ENV,
                                     help="rules directories or policy files")
    poll_interval_ms: int = setting(2000, "policies", "int", "ATTENDANCE_POLICY_POLL_INTERVAL_MS", 0, 3_600_000,
                                    help="how often each worker checks the rules files for changes (0: only on "
                                         "SIGHUP or `POST /v1/admin/reload`), see [lifecycle](lifecycle.md)")
    stale_after_ms: int = setting(30_000, "policies", "int", "ATTENDANCE_POLICY_STALE_AFTER_MS", 1000, 3_600_000,
                                  help="`/readyz` fails when a worker has not converged to the newest good policy "
                                       "set within this time")
    strict: bool = setting(False, "policies", "bool", "ATTENDANCE_POLICY_STRICT",
                           help="refuse to start when any policy version file is refused (staging, CI); otherwise "
                                "the admitted versions serve and the refused files are in `/v1/status`")
    reload_wait_ms: int = setting(5000, "policies", "int", "ATTENDANCE_POLICY_RELOAD_WAIT_MS", 0, 20_000,
                                  help="how long `POST /v1/admin/reload` waits for the result before it answers 202 "
                                       "(the reload goes on off the request path; `/v1/status` shows its outcome)")
    compile_timeout_ms: int = setting(20_000, "policies", "int", "ATTENDANCE_POLICY_COMPILE_TIMEOUT_MS",
                                      100, 600_000,
                                      help="a new policy version must compile in a child process within this time")
    path: str = setting("var/decisions.sqlite3", "decision_log", "path", "ATTENDANCE_POLICY_DATABASE",
                        help="the SQLite decision log (its directory is created); unused when `decision_log.url` "
                             "is set")
    url: str | None = setting(None, "decision_log", "str", "ATTENDANCE_POLICY_DATABASE_URL",
                              help="`postgresql://user@host:port/dbname`: the decision log, pins and replicas' "
                                   "heartbeats on PostgreSQL, shared by several replicas (unset: the SQLite file "
                                   "`decision_log.path`); a password is better in `~/.pgpass` or `PGPASSWORD`")
    # Dates of service are identifiers under HIPAA's Safe Harbor list, so the scheduled
    # start is not kept by default; everything else in the facts is opaque by contract.
    redact: tuple[str, ...] = setting(("session.scheduled_start",), "decision_log", "strings",
                                      "ATTENDANCE_POLICY_REDACT", help="fact paths stored as `[redacted]`")
    busy_timeout_ms: int = setting(5000, "decision_log", "int", "ATTENDANCE_POLICY_BUSY_TIMEOUT_MS", 1, 600_000,
                                   help="how long a write waits for another worker's write (PostgreSQL: for a "
                                        "connection, or a statement) before the request gets 503")
    max_body_bytes: int = setting(MAX_FACTS_BYTES, "limits", "int", "ATTENDANCE_POLICY_MAX_BODY_BYTES",
                                  1024, 16 * 1024 * 1024, help="largest `POST /v1/decisions` body")
    max_batch_bytes: int = setting(4 * 1024 * 1024, "limits", "int", "ATTENDANCE_POLICY_MAX_BATCH_BYTES",
                                   1024, 256 * 1024 * 1024, help="largest `POST /v1/decisions:batch` body")
    max_batch_items: int = setting(1000, "limits", "int", "ATTENDANCE_POLICY_MAX_BATCH_ITEMS", 1, 100_000,
                                   help="most items in a batch")
    issuers: tuple[str, ...] = setting((), "cds_hooks", "strings", "ATTENDANCE_POLICY_CDS_ISSUERS",
                                       help="CDS clients (EHRs) trusted to call `/cds-services`, each "
                                            "`<iss> <JWKS file or https URL>`; their bearer JWTs are verified "
                                            "(ES384 or RS384). Unset: `/cds-services` is open to loopback "
                                            "callers when `keys` is empty too, and closed otherwise "
                                            "([CDS Hooks](cds-hooks.md))")
    base_url: str | None = setting(None, "cds_hooks", "str", "ATTENDANCE_POLICY_CDS_BASE_URL",
                                   help="the service's public base URL (e.g. `https://cds.example.org`): a JWT's "
                                        "`aud` must be this plus the path called; required with `issuers`")
    token_lifetime_s: int = setting(300, "cds_hooks", "int", "ATTENDANCE_POLICY_CDS_TOKEN_LIFETIME_S", 10, 3600,
                                    help="the longest a CDS client JWT may still be valid (`exp` minus now); "
                                         "each `jti` is remembered until its `exp`, so a replay is refused")
    cors_origins: tuple[str, ...] = setting((), "cds_hooks", "strings", "ATTENDANCE_POLICY_CDS_CORS_ORIGINS",
                                            help="browser origins (e.g. `https://ehr.example.org`) allowed to call "
                                                 "`/cds-services` across origins (CORS); `*` for any. Unset: none")
    max_request_bytes: int = setting(1024 * 1024, "cds_hooks", "int", "ATTENDANCE_POLICY_CDS_MAX_REQUEST_BYTES",
                                     1024, 16 * 1024 * 1024,
                                     help="largest `/cds-services` request body (FHIR Appointments and prefetched "
                                          "Bundles are larger than session facts)")
    keys: tuple[ApiKey, ...] = setting((), "", "keys", "ATTENDANCE_POLICY_KEYS",
                                       help="API keys, below; the environment replaces the file's list")
    source: str = "<defaults>"  # not a setting: where the values were read from

    @property
    def auth_enabled(self) -> bool:
        return bool(self.keys)

    @property
    def database(self) -> str:
        return self.path


FIELDS: tuple[Field, ...] = tuple(Field(f.name, f.default, **f.metadata[_SPEC])
                                  for f in fields(Settings) if _SPEC in f.metadata)

_TYPES: dict[str, tuple[str, str]] = {  # kind: (the table's type, how the environment writes it)
    "str": ("string", ""), "int": ("integer", ""), "bool": ("boolean", ""), "path": ("path", ""),
    "paths": ("list of paths", f"`{SEPARATORS['paths']}`-separated"),
    "strings": ("list of strings", f"`{SEPARATORS['strings']}`-separated"),
    "keys": ("list of `{id, sha256, roles}`", "a JSON list"),
}


def markdown_table() -> str:
    """The Markdown table of every setting, as docs/operations.md shows it."""
    rows = ["| setting | environment | type | default | bounds | what |", "|---|---|---|---|---|---|"]
    for f in FIELDS:
        kind, env_form = _TYPES[f.kind]
        env = f"`{f.env}` ({env_form})" if env_form else f"`{f.env}`"
        bounds = f"{f.minimum} to {f.maximum}" if f.minimum is not None or f.maximum is not None else ""
        rows.append(f"| `{f.key}` | {env} | {kind} | {_literal(f.default)} | {bounds} | {f.help} |")
    return "\n".join(rows) + "\n"


def _literal(value: Any) -> str:
    """A default as it is written in a YAML or TOML file; None is a setting left unset."""
    if value is None:
        return "unset"
    return f"`{json.dumps(list(value) if isinstance(value, tuple) else value)}`"
