"""The application factory: settings -> engine, decision log, keys, metrics -> Flask app."""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from flask import Flask, g, request

from api import cdshooks
from api.config.loader import ConfigError, load_settings
from api.config.settings import Settings
from api.http import accesslog, auth, headers, problems
from api.http.auth import KeyRing
from api.http.metrics import Metrics
from api.http.openapi import API_SCHEMAS
from api.lifecycle.manager import Lifecycle
from api.log.backends import open_backend, setting_of
from api.log.store import DecisionStore
from api.state import EXTENSION, AppState, state
from api.studio import bp as studio
from api.views import register_views
from engine.core.errors import PolicyLoadError, Problem, StoreError
from engine.core.schemas import load_schema
from engine.runtime.engine import Engine
from engine.runtime.gate import admit
from engine.runtime.registry import PolicySet
from engine.runtime.reload import scan

__all__ = ["create_app"]

log = logging.getLogger("attendance_policy.lifecycle")

Config = str | os.PathLike[str] | Mapping[str, Any] | Settings | None




def build_engine(settings: Settings) -> tuple[Engine, list[Problem]]:
    """The engine over every version the gate admits, and what it refused (file:line).

    A refused file costs its own version only, as in a reload: the others serve. With
    `policies.strict` (staging, CI) any refusal stops the start instead.
    """
    report = admit(settings.rules, redact=settings.redact, compile_timeout=settings.compile_timeout_ms / 1000)
    compiled = report.compiled()
    if report.problems and (settings.strict or not compiled):
        report.close()
        raise PolicyLoadError(report.problems)
    if not compiled:
        raise ConfigError([Problem("invalid_config", f"no policy versions found under {', '.join(settings.rules)}",
                                   "policies.rules", settings.source)])
    for problem in report.problems:
        log.warning("policy version refused at start-up, the others serve: %s", problem.format())
    return Engine(PolicySet.of(compiled)), report.problems


def open_store(settings: Settings) -> DecisionStore:
    """The decision log the settings choose (SQLite file, or PostgreSQL with `decision_log.url`), migrated."""
    store = open_backend(settings)
    try:
        store.migrate()
    except StoreError as e:
        raise ConfigError([Problem("invalid_config", str(e), setting_of(settings), settings.source)]) from e
    return store


@lru_cache(maxsize=1024)
def _is_async(func: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(func)


class _Flask(Flask):
    """Flask, asking once per function whether a hook or view is `async def`, not on every call (Flask asks
    `inspect` for each of a request's hooks and its view: ~15 µs a request)."""

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            is_async = _is_async(func)
        except TypeError:  # an unhashable callable: asked each time, as Flask does
            is_async = inspect.iscoroutinefunction(func)
        return self.async_to_sync(func) if is_async else func


def create_app(config: Config = None, *, engine: Engine | None = None, store: DecisionStore | None = None) -> Flask:
    """Build the service. `config`: a YAML/TOML file, a mapping in the same shape, Settings, or None
    (then $ATTENDANCE_POLICY_CONFIG or the defaults), always with environment overrides applied.
    Raises ConfigError, PolicyLoadError or CompileError with every problem when it cannot start."""
    settings = load_settings(config)
    for stem in API_SCHEMAS:
        load_schema(stem)  # every schema checked against its meta-schema now, not on a first request
    app = _Flask("api")
    # One byte over the largest limit: werkzeug silently cuts a chunked body at this length, so reading
    # `limit + 1` bytes (api/http/bodies.py) must be able to see that a body is over the limit.
    app.config["MAX_CONTENT_LENGTH"] = max(settings.max_body_bytes, settings.max_batch_bytes,
                                           settings.max_request_bytes) + 1
    # Short, bounded routes ending in one commit: the serving worker's loop runs them itself and commits those that
    # arrive together in one transaction (api/gunicorn/buffered.py); every other route runs in a thread.
    app.config["LOOP_ROUTES"] = ("POST /v1/decisions", "POST /cds-services/*")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.compact = True  # type: ignore[attr-defined]
    disk = scan(settings.rules)  # before loading: a file changed meanwhile is seen as a change
    refused: list[Problem] = []
    if engine is None:
        engine, refused = build_engine(settings)
    store = store or open_store(settings)
    metrics = Metrics(settings.metrics_dir, settings.metrics_flush_ms / 1000)
    lifecycle = Lifecycle(engine, settings, store, metrics, disk=disk, refused=refused)
    lifecycle.sync_pins(publish=False)  # admin pins survive restarts
    store.close()  # the gunicorn master must not hand a connection to its workers
    keys = KeyRing(settings.keys, allow_remote_anonymous=settings.allow_unauthenticated)
    app.extensions[EXTENSION] = AppState(settings=settings, engine=engine, store=store, keys=keys, metrics=metrics,
                                         lifecycle=lifecycle)
    auth.install(app, keys)
    register_views(app)
    app.register_blueprint(studio)
    cdshooks.install(app)
    problems.register(app)
    accesslog.install(app, metrics)
    headers.install(app)
    app.before_request(_lease)
    app.teardown_request(_unlease)
    return app


def _lease() -> None:
    """Pins first (a pin made through any worker holds from the next request on), then a lease on the set."""
    lifecycle = state().lifecycle
    path = request.path
    if path.startswith("/v1/") or path == "/readyz":
        lifecycle.sync_pins()
    g.policy_lease = lifecycle.live.acquire()


def _unlease(exc: BaseException | None) -> None:
    gen = g.pop("policy_lease", None)
    if gen is not None:
        state().lifecycle.live.release(gen)
