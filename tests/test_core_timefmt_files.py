"""engine.core: one way to write and read RFC 3339 UTC timestamps, and files shared between processes."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from engine.core.files import atomic_write_text, flocked, read_json_object
from engine.core.timefmt import from_epoch, parse, utc_text

UTC = dt.UTC


@pytest.mark.parametrize(("moment", "timespec", "text"), [
    (dt.datetime(2026, 11, 28, 10, 0, 0, 123456, UTC), "auto", "2026-11-28T10:00:00.123456Z"),
    (dt.datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC), "auto", "2026-11-28T10:00:00Z"),
    (dt.datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC), "microseconds", "2026-11-28T10:00:00.000000Z"),
    (dt.datetime(2026, 11, 28, 11, 0, 0, 5000, dt.timezone(dt.timedelta(hours=1))), "milliseconds",
     "2026-11-28T10:00:00.005Z"),
])
def test_utc_text(moment, timespec, text):
    assert utc_text(moment, timespec) == text
    assert parse(text) == moment


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-28T10:00:00Z", dt.datetime(2026, 11, 28, 10, tzinfo=UTC)),
    ("2026-11-28t10:00:00z", dt.datetime(2026, 11, 28, 10, tzinfo=UTC)),
    ("2026-11-28T12:00:00+02:00", dt.datetime(2026, 11, 28, 10, tzinfo=UTC)),
])
def test_parse_accepts_z_lowercase_and_offsets(text, expected):
    assert parse(text) == expected


def test_parse_refuses_a_time_without_a_zone():
    with pytest.raises(ValueError, match="a time zone is required"):
        parse("2026-11-28T10:00:00")


def test_from_epoch_is_milliseconds_by_default():
    assert from_epoch(0.25) == "1970-01-01T00:00:00.250Z"


def test_atomic_write_replaces_whole_and_leaves_no_temporary_file(tmp_path: Path):
    target = tmp_path / "state.json"
    atomic_write_text(target, '{"a": 1}')
    atomic_write_text(target, '{"a": 2}')
    assert read_json_object(target) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


@pytest.mark.parametrize("content", [None, "", "not json", "[1, 2]", '"text"'])
def test_read_json_object_is_none_for_anything_but_an_object(tmp_path: Path, content):
    path = tmp_path / "x.json"
    if content is not None:
        path.write_text(content)
    assert read_json_object(path) is None


_TRY_LOCK = """
import fcntl, sys
with open(sys.argv[1], "a+b") as fh:
    try:
        fcntl.flock(fh, (fcntl.LOCK_SH if sys.argv[2] == "shared" else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        print("got it")
    except BlockingIOError:
        print("blocked")
"""


@pytest.mark.parametrize(("held_shared", "asked_shared", "expected"), [
    (False, False, "blocked"), (False, True, "blocked"), (True, True, "got it"), (True, False, "blocked"),
])
def test_flocked_excludes_other_processes(tmp_path: Path, held_shared, asked_shared, expected):
    lock = tmp_path / ".lock"
    with flocked(lock, shared=held_shared):
        child = subprocess.run([sys.executable, "-c", _TRY_LOCK, str(lock), "shared" if asked_shared else "exclusive"],
                               capture_output=True, text=True, timeout=60, check=True)
    assert child.stdout.strip() == expected
