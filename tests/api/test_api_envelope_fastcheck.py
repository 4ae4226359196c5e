"""The decision request envelope: the fast check and jsonschema agree on every case."""

from __future__ import annotations

from typing import Any

import pytest

from api.http.bodies import _envelope

FACTS = {"session": {"id": "s-1", "type": "couples"}}
CASES: list[tuple[Any, bool]] = [
    ({"facts": FACTS}, True),
    ({"facts": FACTS, "policy": "couples-attendance", "version": "1.0.0", "explain": True}, True),
    ({"facts": "anything: the engine checks facts"}, True),
    ({}, False),
    ({"facts": FACTS, "explain": 1}, False),
    ({"facts": FACTS, "explain": "yes"}, False),
    ({"facts": FACTS, "policy": ""}, False),
    ({"facts": FACTS, "policy": "p" * 129}, False),
    ({"facts": FACTS, "version": "v" * 33}, False),
    ({"facts": FACTS, "version": 1}, False),
    ({"facts": FACTS, "polcy": "typo"}, False),
    ([{"facts": FACTS}], False),
    ("facts", False),
    (None, False),
]


@pytest.mark.parametrize(("body", "valid"), CASES)
def test_fast_envelope_check_agrees_with_jsonschema(body: Any, valid: bool) -> None:
    fast, validator = _envelope("decision-request")
    assert fast is not None
    assert fast(body) is valid
    assert (not list(validator.iter_errors(body))) is valid
