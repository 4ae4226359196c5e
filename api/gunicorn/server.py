"""Serve the app with gunicorn: preloaded, supervised, recycled workers; graceful SIGTERM.

The app is built once in the master (`create_app`), so a bad configuration (or, with
`--strict`, a refused policy file) fails before anything listens, and workers fork ready
to serve. A worker that dies
(a native crash in the engine, the silent-worker `timeout`) costs only its request in
flight, which got no 200; the master replaces it. `max_requests` plus jitter recycles
workers so native memory never grows without bound.

SIGHUP does not restart the workers (gunicorn's default): the master forwards it to
every worker, and each reloads its policies in place (`api.lifecycle.manager`), so a
refused reload changes nothing at all. A new worker serves at once and catches up with
the changes made since the master loaded in its poller thread (`Poller.after_fork`).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from api.app import create_app
from api.config.settings import Settings
from api.gunicorn.buffered import BufferedWorker
from api.http.accesslog import ACCESS_LOGGER
from api.http.metrics import retire
from api.lifecycle.board import clear_board, remove_worker
from api.state import state_of
from engine.core.timefmt import from_epoch

__all__ = ["GunicornServer", "configure_logging", "gunicorn_options", "serve"]


class _JsonLines(logging.Formatter):
    """Access lines are JSON already; anything else becomes one JSON line too."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name == ACCESS_LOGGER:
            return record.getMessage()
        line: dict[str, Any] = {"time": from_epoch(record.created), "level": record.levelname.lower(),
                                "logger": record.name, "message": record.getMessage(), "pid": os.getpid()}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, separators=(",", ":"))


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record comes (a handler never keeps a closed stream)."""

    stream = property(lambda self: sys.stderr, lambda self, value: None)  # type: ignore[assignment]


def configure_logging() -> None:
    """Our loggers write JSON lines to stderr (gunicorn's own log stays as it is)."""
    root = logging.getLogger("attendance_policy")
    if not any(getattr(h, "_attendance_policy", False) for h in root.handlers):
        handler = _Stderr()
        handler.setFormatter(_JsonLines())
        handler._attendance_policy = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False
    # No line shows a thread's or a multiprocessing process's name: not looking them up saves every record a
    # few µs (an access line per request). The pid stays: gunicorn's own lines show it.
    logging.logThreads = False
    logging.logMultiprocessing = False


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def gunicorn_options(settings: Settings, app: Flask) -> dict[str, Any]:
    metrics_dir = settings.metrics_dir

    def pre_fork(server: Any, worker: Any) -> None:
        # The master's heap (modules, compiled policies) becomes permanent: a worker's collections never scan
        # it again, and its pages stay shared with the master instead of being copied when the GC touches them.
        gc.freeze()

    def post_fork(server: Any, worker: Any) -> None:
        state_of(app).lifecycle.poller.after_fork(server.pid)  # serve now; catch up and poll in the background
        logging.getLogger("attendance_policy.server").info("worker %s ready", worker.pid)

    def post_worker_init(worker: Any) -> None:
        state_of(app).lifecycle.poller.install_sighup()  # after gunicorn reset the signals

    def worker_exit(server: Any, worker: Any) -> None:
        state_of(app).close()  # this worker's poller and SQLite connection

    def child_exit(server: Any, worker: Any) -> None:
        if not metrics_dir:
            return
        try:
            retire(metrics_dir, worker.pid)  # the master keeps a gone worker's counts
            remove_worker(metrics_dir, worker.pid)  # and forgets its policy state
        except OSError as e:
            # Best effort: an exception here would end gunicorn's main loop, and a full disk would
            # then stop the whole service the next time a worker is recycled or crashes.
            logging.getLogger("attendance_policy.server").warning("cannot retire worker %s: %s", worker.pid, e)

    return {
        "bind": [_bind(settings.host, settings.port)], "workers": settings.workers,
        # Requests are read whole by each worker's event loop before a thread runs them (api/gunicorn/buffered.py):
        # slow clients hold no thread. A worker's concurrent requests share durable commits (api/log/groupcommit.py).
        "worker_class": BufferedWorker, "threads": settings.threads,
        "max_requests": settings.max_requests, "max_requests_jitter": settings.max_requests_jitter,
        "timeout": settings.timeout, "graceful_timeout": settings.graceful_timeout, "preload_app": True,
        "accesslog": None, "errorlog": "-", "loglevel": "info", "proc_name": "attendance-policy",
        "pre_fork": pre_fork, "post_fork": post_fork, "post_worker_init": post_worker_init, "worker_exit": worker_exit,
        "child_exit": child_exit,
        # gunicorn >= 25 opens a control socket at one per-user path: two servers would fight
        # over it, and it lets any process of the same user resize or reload the service.
        "control_socket_disable": True,
    }


class _Arbiter(Arbiter):  # type: ignore[misc]
    """gunicorn's master, except that SIGHUP asks every worker to reload its policies in place."""

    def handle_hup(self) -> None:
        self.log.info("Hang up: asking %d workers to reload their policies", len(self.WORKERS))
        for pid in list(self.WORKERS):
            try:
                os.kill(pid, signal.SIGHUP)
            except ProcessLookupError:
                pass  # exited meanwhile; its replacement catches up when it starts


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """gunicorn's programmatic entry point, fed our options and our prebuilt app."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings newer than the installed gunicorn are skipped
                self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application

    def run(self) -> None:
        try:
            _Arbiter(self).run()
        except RuntimeError as e:  # as gunicorn's own run(): e.g. the address is in use
            print(f"\nError: {e}\n", file=sys.stderr)
            sys.exit(1)


def _metrics_dir(settings: Settings) -> tuple[str, bool]:
    if settings.metrics_dir:
        d = Path(settings.metrics_dir)
        d.mkdir(parents=True, exist_ok=True)
        for stale in d.glob("*.json"):  # counters start again with the server
            stale.unlink()
        clear_board(str(d))  # and so does the workers' policy state
        return str(d), False
    return tempfile.mkdtemp(prefix="attendance-policy-metrics-"), True


def serve(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT; raises ConfigError/PolicyLoadError before listening."""
    configure_logging()
    metrics_dir, owned = _metrics_dir(settings)
    master = os.getpid()
    try:
        settings = replace(settings, metrics_dir=metrics_dir)
        app = create_app(settings)
        GunicornServer(app, gunicorn_options(settings, app)).run()
    finally:
        # Workers leave through here too (gunicorn raises SystemExit in the child): only the master cleans up.
        if owned and os.getpid() == master:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0
