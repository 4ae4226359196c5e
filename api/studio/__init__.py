"""The policy studio: pages to read, try, compare and check versions (imports views, state, engine, engine.ci)."""

from __future__ import annotations

from api.studio.views import bp

__all__ = ["bp"]
