"""The app's Flask asks once per function whether it is `async def` (api/app.py `_Flask.ensure_sync`)."""

from __future__ import annotations

from typing import Any

import pytest

from api.app import _Flask, _is_async


class _Unhashable:
    __hash__ = None  # type: ignore[assignment]

    def __call__(self) -> str:
        return "called"


def _sync() -> str:
    return "called"


async def _coroutine() -> str:
    return "called"


@pytest.mark.parametrize(("func", "is_async"), [(_sync, False), (_Unhashable(), False), (_coroutine, True)])
def test_ensure_sync_as_flask_decides_it(func: Any, is_async: bool) -> None:
    app = _Flask("probe")
    calls = []
    app.async_to_sync = lambda f: calls.append(f) or (lambda: "wrapped")  # type: ignore[method-assign]
    hits = _is_async.cache_info().hits
    first, second = app.ensure_sync(func), app.ensure_sync(func)
    assert (first is func, second is func) == (not is_async, not is_async)
    assert calls == ([func, func] if is_async else [])
    if not isinstance(func, _Unhashable):
        assert _is_async.cache_info().hits > hits  # asked once, then remembered
