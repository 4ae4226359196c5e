"""Contract fuzzing with Schemathesis against the live server's /openapi.json: every operation, positive and
negative data, with the all-roles key, without a key and with a wrong key.

With a key: zero 5xx, documented status codes and content types, responses that match their
schemas, invalid data refused and valid data accepted (two documented exceptions, see
support/fuzzchecks.py), every error a problem document, security headers everywhere. Without a
valid key: 401 problems for every protected operation, public ones unchanged. The example
count is bounded for CI; scripts/fuzz_api.py runs the long version.

Schemathesis' own pytest plugin does not run under pytest 9 (it reads `node._nodeid`), so
each operation's Schemathesis strategy is drawn from with plain Hypothesis here.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from api.config.settings import Settings
from api.http.openapi import document
from support.fuzzchecks import config, exercise, runs
from support.live import LiveServer
from support.service import TOKENS

MAX_EXAMPLES = 25
WRONG = "apk_wrong_" + "q" * 43
_DOC = document(Settings())
LABELS = [f"{m.upper()} {p}" for p, item in _DOC["paths"].items() for m in item]
RUNS = runs(_DOC)


@pytest.fixture(scope="module")
def api_schema(live: LiveServer) -> Any:
    status, served = live.call("GET", "/openapi.json")
    assert status == 200
    schema = schemathesis.openapi.from_dict(served, config=config(MAX_EXAMPLES))
    schema.config.update(base_url=live.url)
    return schema


def test_every_operation_is_fuzzed(api_schema: Any) -> None:
    assert sorted(op.ok().label for op in api_schema.get_all_operations()) == sorted(LABELS)


@pytest.mark.parametrize(("label", "mode"), RUNS, ids=[f"{label} {mode.value}" for label, mode in RUNS])
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_contract(api_schema: Any, label: str, mode: GenerationMode, data: st.DataObject) -> None:
    case = data.draw(api_schema.find_operation_by_label(label).as_strategy(generation_mode=mode))
    exercise(case, TOKENS["all"], WRONG)
