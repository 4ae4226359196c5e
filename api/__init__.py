"""The decision service: Flask API over the engine, with a durable decision log and API keys.

Layers, lowest first: config -> http, log -> lifecycle -> state -> views -> app ->
gunicorn -> cli (docs/architecture.md). The names below load on first use (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "create_app": "api.app", "AppState": "api.state", "state": "api.state",
    "ConfigError": "api.config.loader", "load_settings": "api.config.loader", "Settings": "api.config.settings",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'api' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
