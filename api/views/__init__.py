"""Thin views: parse the request, call the engine or the log, return JSON."""

from __future__ import annotations

from flask import Flask

from . import audit, decisions, lifecycle, ops, policies

__all__ = ["register_views"]


def register_views(app: Flask) -> None:
    for module in (decisions, audit, policies, lifecycle, ops):
        app.register_blueprint(module.bp)
