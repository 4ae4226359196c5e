"""The decision log of a test or live server, read back straight from SQLite (read-only except the integrity check)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path


def _read_only(database: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{database}?mode=ro", uri=True)


def logged_ids(database: Path) -> set[str]:
    """Every decision id in the log."""
    conn = _read_only(database)
    try:
        return {row[0] for row in conn.execute("SELECT decision_id FROM decisions")}
    finally:
        conn.close()


def logged_counts(database: Path, ids: Iterable[str]) -> dict[str, int]:
    """How many times each of `ids` is in the log (1 each when every decision was logged exactly once)."""
    conn = _read_only(database)
    try:
        counts = dict(conn.execute("SELECT decision_id, count(*) FROM decisions GROUP BY decision_id").fetchall())
    finally:
        conn.close()
    return {i: counts.get(i, 0) for i in ids}


def decision_count(database: Path) -> int:
    conn = _read_only(database)
    try:
        return int(conn.execute("SELECT count(*) FROM decisions").fetchone()[0])
    finally:
        conn.close()


def integrity_check(database: Path) -> str:
    """`PRAGMA integrity_check` of the log: 'ok' when sound."""
    conn = sqlite3.connect(database)
    try:
        return "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()
