"""One error hierarchy: every failure has its own type, code and title; the HTTP status is chosen by type."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from flask import Flask

import api
import engine
from api.http.problems import STATUS, ApiError, LogUnavailable, NotFound, describe, status_of
from engine.core.errors import (
    EngineError,
    FactsError,
    MalformedJSONError,
    NoActiveVersionError,
    PinnedVersionUnavailableError,
    PolicyError,
    Problem,
    StoreError,
    UnknownPolicyError,
    UnknownPolicyVersionError,
)
from engine.facts.strict_json import loads_strict


def _all_error_types() -> list[type[PolicyError]]:
    for package in (engine, api):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
    found: list[type[PolicyError]] = []
    todo = [PolicyError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return [c for c in found if c.__module__.split(".")[0] in ("engine", "api")]


def test_every_error_type_declares_its_own_code_and_title():
    types = _all_error_types()
    assert len(types) > 20
    for cls in types:
        assert "code" in vars(cls) and "title" in vars(cls), f"{cls.__qualname__} inherits its code or title"
    codes = [cls.code for cls in types if cls is not LogUnavailable]  # LogUnavailable is StoreError's HTTP face
    assert len(codes) == len(set(codes)), sorted(codes)


@pytest.mark.parametrize(("error", "status", "code"), [
    (FactsError([Problem("x", "bad", "session.id")]), 400, "invalid_facts"),
    (MalformedJSONError("malformed JSON at line 1 column 2: x"), 400, "malformed_json"),
    (UnknownPolicyError("unknown policy 'p'"), 404, "unknown_policy"),
    (UnknownPolicyVersionError("no version"), 404, "unknown_policy_version"),
    (NoActiveVersionError("not yet"), 409, "no_active_version"),
    (PinnedVersionUnavailableError("pinned elsewhere"), 503, "pinned_version_unavailable"),
    (EngineError("boom"), 500, "engine_error"),
    (StoreError("disk full"), 503, "decision_log_unavailable"),
    (LogUnavailable("the decision could not be logged"), 503, "decision_log_unavailable"),
    (NotFound("no such decision"), 404, "not_found"),
])
def test_status_is_chosen_by_type(error, status, code):
    assert status_of(error) == status
    with Flask("t").test_request_context("/v1/decisions"):
        body, _ = describe(error)
    assert (body["status"], body["code"], body["title"]) == (status, code, type(error).title)


def test_a_type_without_a_status_is_a_500_that_says_nothing_internal():
    class Unlisted(PolicyError):
        code, title = "unlisted", "Unlisted"

    assert status_of(Unlisted("secret detail")) is None
    with Flask("t").test_request_context("/v1/decisions"):
        body, _ = describe(Unlisted("secret detail"))
    assert body["status"] == 500 and "secret" not in body["detail"]


def test_every_api_error_type_has_a_status():
    for cls in _all_error_types():
        if issubclass(cls, ApiError) and cls is not ApiError:
            assert any(c in STATUS for c in cls.__mro__), cls.__qualname__


def test_malformed_json_is_its_own_type_and_its_detail_is_the_reason():
    with pytest.raises(MalformedJSONError) as info:
        loads_strict(b'{"a": 1, "a": 2}')
    assert isinstance(info.value, FactsError) and info.value.code == "malformed_json"
    with Flask("t").test_request_context("/v1/decisions"):
        body, _ = describe(info.value)
    assert body["detail"] == info.value.reason and "errors" not in body
