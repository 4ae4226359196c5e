"""Files shared between processes: atomic replacement, an exclusive or shared lock, tolerant JSON reads."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_text", "flocked", "read_json_object"]


def atomic_write_text(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one (a temporary name per process and thread)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@contextmanager
def flocked(lock_file: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold an advisory lock on `lock_file` (created if missing) across processes."""
    with open(lock_file, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, or None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
