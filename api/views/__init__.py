"""Thin views: parse the request, call the engine or the log, return JSON. They read the app's state from api.state."""

from __future__ import annotations

from flask import Flask

from api.views import admin, audit, decisions, impact, ops, policies, problem_types

__all__ = ["register_views"]


def register_views(app: Flask) -> None:
    for module in (decisions, audit, impact, policies, admin, ops, problem_types):
        app.register_blueprint(module.bp)
