"""CDS Hooks 2.0.1: discovery, hook calls, cards, feedback, client JWTs, CORS. Imports views, state, http, log."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from api.cdshooks import cors
from api.cdshooks.client_auth import ClientAuth, parse_issuers
from api.cdshooks.views import AUTH, bp, hook_log
from api.config.loader import ConfigError
from api.config.settings import Settings, is_loopback
from api.state import state_of
from engine.core.errors import Problem

__all__ = ["install"]


def _problem(message: str, key: str, settings: Settings) -> Problem:
    return Problem("invalid_config", message, key, settings.source)


def install(app: Flask) -> None:
    """The /cds-services endpoints on `app`, with its settings (ConfigError for bad issuers)."""
    app_state = state_of(app)
    settings = app_state.settings
    source = Path(settings.source)
    issuers, errors = parse_issuers(settings.issuers, source.parent if source.is_file() else Path.cwd())
    problems = [_problem(e, "cds_hooks.issuers", settings) for e in errors]
    if issuers and not settings.base_url:
        problems.append(_problem("is required with cds_hooks.issuers: a JWT's aud is this URL plus the path "
                                 "called", "cds_hooks.base_url", settings))
    if problems:
        raise ConfigError(problems)

    def open_to(remote: str | None) -> bool:
        return not settings.keys and (settings.allow_unauthenticated or is_loopback(remote or ""))

    app.extensions[AUTH] = ClientAuth(issuers, base_url=settings.base_url, lifetime_s=settings.token_lifetime_s,
                                      claim=lambda key, exp: hook_log().claim_token(key, exp),
                                      open_to=open_to)
    app.register_blueprint(bp)
    cors.install(app, settings.cors_origins)
