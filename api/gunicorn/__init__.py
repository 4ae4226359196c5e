"""Serving with gunicorn: the supervised server and its worker class. May import: app and below."""
