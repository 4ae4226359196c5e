"""The decision service: Flask API over the engine, with a durable decision log and API keys."""

from __future__ import annotations

from .app import AppState, create_app, state
from .config import ConfigError, load_settings
from .settings import Settings

__all__ = ["AppState", "ConfigError", "Settings", "create_app", "load_settings", "state"]
