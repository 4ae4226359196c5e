"""The specification's own examples (tests/api/cdshooks/spec/, CDS Hooks 2.0.1): the schemas accept the valid
ones and refuse the one that breaks the spec's tables; the service answers the ones that apply to it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from support.cdsclient import Ehr, validate

SPEC = Path(__file__).parent / "spec"


def example(name: str) -> Any:
    return json.loads((SPEC / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("name", "schema"), [
    ("discovery", "cds-hooks/discovery"),
    ("request-patient-view", "cds-hooks/request"),
    ("request-with-extension", "cds-hooks/request"),
    ("response-cards", "cds-hooks/response"),
    ("response-no-guidance", "cds-hooks/response"),
    ("feedback-accepted", "cds-hooks/feedback"),
    ("feedback-overridden", "cds-hooks/feedback"),
    ("feedback-overridden-reason", "cds-hooks/feedback"),
])
def test_the_schemas_accept_the_specifications_examples(name: str, schema: str) -> None:
    validate(schema, example(name))


def test_the_autolaunchable_example_lacks_the_required_indicator() -> None:
    with pytest.raises(AssertionError, match=r"\['cards', 0\]: 'indicator' is a required property"):
        validate("cds-hooks/response", example("response-autolaunchable"))


CARD = {"summary": "s", "indicator": "info", "source": {"label": "l"}}


@pytest.mark.parametrize("bad", [
    {**CARD, "detail": ""}, {**CARD, "detail": None}, {**CARD, "suggestions": []}, {**CARD, "source": {}},
    {**CARD, "links": None}, {**CARD, "overrideReasons": []}, {**CARD, "uuid": ""},
    {**CARD, "summary": "x" * 140}, {**CARD, "indicator": "hard-stop"},
    {**CARD, "suggestions": [{"label": "a"}]},  # no selectionBehavior
    {**CARD, "overrideReasons": [{"system": "s", "code": "c"}]},  # no display
    {**CARD, "source": {"label": "l", "topic": {}}},
    {**CARD, "suggestions": [{"label": "a", "actions": [{"type": "create", "description": "d"}]}],
     "selectionBehavior": "any"},  # create without a resource
], ids=["empty-detail", "null-detail", "empty-suggestions", "empty-source", "null-links", "empty-override-reasons",
        "empty-uuid", "summary-140", "old-indicator", "no-selection-behavior", "reason-without-display",
        "empty-topic", "create-without-resource"])
def test_the_response_schema_forbids_what_the_specification_forbids(bad: dict[str, Any]) -> None:
    validate("cds-hooks/response", {"cards": [CARD]})
    with pytest.raises(AssertionError):
        validate("cds-hooks/response", {"cards": [bad]})


@pytest.mark.parametrize(("body", "ok"), [
    ({"services": []}, True), ({"services": [{"hook": "h", "id": "i", "description": "d", "prefetch": {}}]}, False),
    ({"services": [{"hook": "h", "id": "i", "description": ""}]}, False), ({}, False),
])
def test_the_discovery_schema(body: dict[str, Any], ok: bool) -> None:
    if ok:
        validate("cds-hooks/discovery", body)
    else:
        with pytest.raises(AssertionError):
            validate("cds-hooks/discovery", body)


@pytest.mark.parametrize("name", ["request-patient-view", "request-with-extension"])
def test_the_example_requests_get_a_400_naming_the_hook(make_app: Callable[..., Flask], name: str) -> None:
    """They are patient-view calls, a hook this service does not offer: refused by name, not by a crash."""
    resp = Ehr(make_app(keys=False).test_client()).call("couples-attendance", example(name))
    assert resp.status_code == 400
    assert resp.json["detail"] == ("hook: this service answers org.attendance-policy.session-attendance and "
                                   "appointment-book, not 'patient-view'")


@pytest.mark.parametrize("name", ["feedback-accepted", "feedback-overridden", "feedback-overridden-reason"])
def test_the_example_feedback_names_cards_this_service_never_showed(make_app: Callable[..., Flask],
                                                                    name: str) -> None:
    resp = Ehr(make_app(keys=False).test_client()).feedback("couples-attendance", example(name)["feedback"])
    assert resp.status_code == 400
    assert resp.json["detail"].startswith("feedback[0].card: no card")
