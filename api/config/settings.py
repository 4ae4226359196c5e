"""The service's settings: one frozen dataclass, and the table of every setting it reads."""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass

__all__ = ["ApiKey", "Field", "FIELDS", "ROLES", "Settings", "is_loopback"]

ROLES = ("evaluate", "audit", "admin")


@dataclass(frozen=True)
class ApiKey:
    """A caller: a short name (logged as `key_id`), the sha256 of its token, its roles."""

    id: str
    sha256: str
    roles: frozenset[str]


@dataclass(frozen=True)
class Field:
    """One setting: where it lives in the file, its environment variable, its type and bounds."""

    name: str
    section: str
    kind: str  # "str" | "int" | "bool" | "path" | "paths" | "strings" | "keys"
    env: str
    minimum: int | None = None
    maximum: int | None = None
    help: str = ""


FIELDS: tuple[Field, ...] = (
    Field("host", "server", "str", "ATTENDANCE_POLICY_HOST", help="address to bind"),
    Field("port", "server", "int", "ATTENDANCE_POLICY_PORT", 1, 65535, "TCP port"),
    Field("workers", "server", "int", "ATTENDANCE_POLICY_WORKERS", 1, 64, "gunicorn worker processes"),
    Field("threads", "server", "int", "ATTENDANCE_POLICY_THREADS", 1, 64,
          "request threads per worker: 1 is the sync worker with a per-request read deadline; more use gunicorn's "
          "gthread worker, whose concurrent requests share decision-log commits (put a buffering proxy in front)"),
    Field("max_requests", "server", "int", "ATTENDANCE_POLICY_MAX_REQUESTS", 0, 10_000_000,
          "recycle a worker after this many requests (0: never)"),
    Field("max_requests_jitter", "server", "int", "ATTENDANCE_POLICY_MAX_REQUESTS_JITTER", 0, 10_000_000,
          "random extra requests before recycling, so workers do not restart together"),
    Field("timeout", "server", "int", "ATTENDANCE_POLICY_TIMEOUT", 1, 3600,
          "seconds a silent worker may take before the master kills and replaces it"),
    Field("graceful_timeout", "server", "int", "ATTENDANCE_POLICY_GRACEFUL_TIMEOUT", 1, 3600,
          "seconds in-flight requests get to finish after SIGTERM"),
    Field("allow_unauthenticated", "server", "bool", "ATTENDANCE_POLICY_ALLOW_UNAUTHENTICATED",
          help="allow a non-loopback address without API keys"),
    Field("metrics_dir", "server", "path", "ATTENDANCE_POLICY_METRICS_DIR",
          help="directory where workers share their metrics (serve makes a temporary one)"),
    Field("metrics_flush_ms", "server", "int", "ATTENDANCE_POLICY_METRICS_FLUSH_MS", 0, 60_000,
          "how often a worker publishes its counters to the others (0: after every request)"),
    Field("rules", "policies", "paths", "ATTENDANCE_POLICY_RULES", help="rules directories or policy files"),
    Field("poll_interval_ms", "policies", "int", "ATTENDANCE_POLICY_POLL_INTERVAL_MS", 0, 3_600_000,
          "how often each worker looks for changed rules files (0: only on SIGHUP or POST /v1/admin/reload)"),
    Field("stale_after_ms", "policies", "int", "ATTENDANCE_POLICY_STALE_AFTER_MS", 1000, 3_600_000,
          "/readyz fails when a worker has not converged to the newest good policy set within this time"),
    Field("compile_timeout_ms", "policies", "int", "ATTENDANCE_POLICY_COMPILE_TIMEOUT_MS", 100, 600_000,
          "how long compiling a new policy version in a child process may take before it is refused"),
    Field("path", "decision_log", "path", "ATTENDANCE_POLICY_DATABASE", help="SQLite decision log file"),
    Field("redact", "decision_log", "strings", "ATTENDANCE_POLICY_REDACT",
          help="fact paths stored as [redacted] in the log"),
    Field("busy_timeout_ms", "decision_log", "int", "ATTENDANCE_POLICY_BUSY_TIMEOUT_MS", 1, 600_000,
          "how long a write waits for another worker's write before the request gets 503"),
    Field("max_body_bytes", "limits", "int", "ATTENDANCE_POLICY_MAX_BODY_BYTES", 1024, 16 * 1024 * 1024,
          "largest body of POST /v1/decisions"),
    Field("max_batch_bytes", "limits", "int", "ATTENDANCE_POLICY_MAX_BATCH_BYTES", 1024, 256 * 1024 * 1024,
          "largest body of POST /v1/decisions:batch"),
    Field("max_batch_items", "limits", "int", "ATTENDANCE_POLICY_MAX_BATCH_ITEMS", 1, 100_000,
          "most items in one batch"),
    Field("keys", "", "keys", "ATTENDANCE_POLICY_KEYS", help="API keys (JSON list in the environment)"),
)


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

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    threads: int = 1
    max_requests: int = 100_000
    max_requests_jitter: int = 10_000
    timeout: int = 30
    graceful_timeout: int = 30
    allow_unauthenticated: bool = False
    metrics_dir: str | None = None
    metrics_flush_ms: int = 1000
    rules: tuple[str, ...] = ("rules",)
    poll_interval_ms: int = 2000
    stale_after_ms: int = 30_000
    compile_timeout_ms: int = 20_000
    path: str = "var/decisions.sqlite3"
    # Dates of service are identifiers under HIPAA's Safe Harbor list, so the scheduled
    # start is not kept by default; everything else in the facts is opaque by contract.
    redact: tuple[str, ...] = ("session.scheduled_start",)
    busy_timeout_ms: int = 5000
    max_body_bytes: int = 64 * 1024
    max_batch_bytes: int = 4 * 1024 * 1024
    max_batch_items: int = 1000
    keys: tuple[ApiKey, ...] = ()
    source: str = "<defaults>"

    @property
    def auth_enabled(self) -> bool:
        return bool(self.keys)

    @property
    def database(self) -> str:
        return self.path
