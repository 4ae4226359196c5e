"""An independent FHIR implementation (fhir.resources, its R4B models: Appointment, CommunicationRequest and Bundle
are R4's) reads the FHIR JSON of these tests and every resource a card suggests creating."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.communicationrequest import CommunicationRequest
from pydantic import ValidationError

from support.cdsclient import FHIR, SESSION_ATTENDANCE, Ehr, fhir, hook_request

MODELS: dict[str, Any] = {"Appointment": Appointment, "Bundle": Bundle, "CommunicationRequest": CommunicationRequest}


@pytest.mark.parametrize("name", sorted(p.stem for p in FHIR.glob("*.json")))
def test_the_test_fhir_files_are_fhir(name: str) -> None:
    resource = fhir(name)
    MODELS[resource["resourceType"]].model_validate(resource)


def test_the_model_is_not_a_rubber_stamp() -> None:
    with pytest.raises(ValidationError):
        Appointment.model_validate({"resourceType": "Appointment", "status": "proposed", "participant": "x"})


def test_suggested_resources_are_fhir(ehr: Ehr) -> None:
    facts = {"session": {"id": "sess-f1", "type": "couples"}, "attendance": {"partners_present": 1},
             "preferences": {"makeup_session_requested": True, "absent_partner_wants_summary": True,
                             "consent_to_share_summary": True}}
    body = hook_request(SESSION_ATTENDANCE, {"userId": "Practitioner/p", "patientId": "pat-a1", "facts": facts})
    created = [a["resource"] for c in ehr.call("couples-attendance", body).json["cards"]
               for s in c.get("suggestions", ()) for a in s["actions"]]
    assert sorted(r["resourceType"] for r in created) == ["Appointment", "CommunicationRequest"]
    for resource in created:
        MODELS[resource["resourceType"]].model_validate(resource)


