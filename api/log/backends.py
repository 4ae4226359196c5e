"""Which decision log the settings choose: PostgreSQL when `decision_log.url` is set, else the SQLite file."""

from __future__ import annotations

from api.config.settings import Settings
from api.log.store import DecisionStore

__all__ = ["open_backend", "setting_of", "where"]


def open_backend(settings: Settings) -> DecisionStore:
    """The store the settings name, not yet migrated or connected (each opens lazily, per process)."""
    if settings.url:
        from api.log.postgres import PostgresStore  # psycopg is loaded only by services that use it

        return PostgresStore(settings.url, timeout_ms=settings.busy_timeout_ms,
                             pool_size=max(4, settings.threads + 2))
    from api.log.sqlite import SQLiteStore

    return SQLiteStore(settings.database, busy_timeout_ms=settings.busy_timeout_ms)


def setting_of(settings: Settings) -> str:
    """The setting that chose the store (where a problem with it is reported)."""
    return "decision_log.url" if settings.url else "decision_log.path"


def where(settings: Settings) -> str:
    """The store for messages: the SQLite path, or the URL without its password."""
    if settings.url:
        from api.log.postgres import describe

        return describe(settings.url)
    return settings.database
