"""This process's id, kept current across forks without a system call per read (requests ask several times)."""

from __future__ import annotations

import os

__all__ = ["pid"]

_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def pid() -> int:
    """os.getpid(), as of the last fork."""
    return _pid
