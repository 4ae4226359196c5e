"""A decision -> CDS Hooks cards: one card per recommendation shown, suppressed ones never (pure).

One card per recommendation, not one per decision: each has its own indicator, rationale and rule, and a
clinician accepts or overrides each on its own (feedback names one card). Suggestions exist where the
recommendation is an action the EHR can take: a makeup session (an Appointment to create) and a summary for
the absent partner (a draft CommunicationRequest, only while consent to share is on record).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from api.cdshooks.fhir import SESSION_TYPE_SYSTEM
from engine.decide.rationale import Decision, FiredRecommendation
from engine.facts.prepare import get_path
from engine.policy.model import SYMBOL

__all__ = ["OVERRIDE_REASONS", "OVERRIDE_SYSTEM", "TOPIC_SYSTEM", "CardContext", "card_uuid", "cards_for",
           "suggestion_uuid"]

CODE_SYSTEMS = "https://attendance-policy.example/fhir/CodeSystem/"
TOPIC_SYSTEM = CODE_SYSTEMS + "recommendation-category"
OVERRIDE_SYSTEM = CODE_SYSTEMS + "override-reason"
OVERRIDE_REASONS = (
    {"system": OVERRIDE_SYSTEM, "code": "already-addressed", "display": "Already addressed with the couple"},
    {"system": OVERRIDE_SYSTEM, "code": "clinical-judgement", "display": "Clinical judgement differs for this session"},
    {"system": OVERRIDE_SYSTEM, "code": "facts-incorrect", "display": "The session details behind this card are wrong"},
)
MAX_SUMMARY = 139  # the specification: under 140 characters
_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|~])")


@dataclass(frozen=True)
class CardContext:
    """What the cards need beyond the decision: the facts decided, who is who in FHIR, what was not known."""

    facts: dict[str, Any]
    patient_id: str
    partners: tuple[str, ...] = ()  # FHIR references of the partners
    absent: tuple[str, ...] = ()  # of the absent partners
    unknown: tuple[str, ...] = ()  # facts the EHR's data could not supply
    studio: str | None = None  # `<base>/studio/policies/<id>/<version>` when the studio is served
    appointment: str | None = None  # the Appointment the decision is about (appointment-book)


def card_uuid(decision_id: str, recommendation: str) -> str:
    """Stable per decision and recommendation: the same card is the same uuid in the log and in feedback."""
    return str(uuid.uuid5(uuid.UUID(decision_id), recommendation))


def suggestion_uuid(card: str, kind: str) -> str:
    return str(uuid.uuid5(uuid.UUID(card), kind))


def _md(text: str) -> str:
    return _MARKDOWN.sub(r"\\\1", text)


def _code(value: Any) -> str:
    shown = "yes" if value is True else "no" if value is False else "unknown" if value is None else str(value)
    return "`" + shown.replace("`", "'") + "`"


def _condition(m: dict[str, Any]) -> str:
    expected = f"{_code(m['other_fact'])} ({_code(m['expected'])})" if m.get("other_fact") else _code(m["expected"])
    return f"- {_code(m['fact'])} {SYMBOL.get(m['op'], m['op'])} {expected}: it is {_code(m['actual'])}"


def _detail(rec: FiredRecommendation, decision: Decision, ctx: CardContext) -> str:
    lines = [_md(rec.rationale), "", "**Conditions that matched**", "", *(_condition(m) for m in rec.matched)]
    if ctx.unknown:
        lines += ["", "**Not known from the EHR's data** (the policy's defaults apply)", "",
                  *(f"- {_md(u)}" for u in ctx.unknown)]
    p = decision.policy
    about = f"Appointment {_code(ctx.appointment)}; " if ctx.appointment else ""
    lines += ["", f"{about}rule {_code(rec.rule)} of policy {_code(p.id)} {_code(p.version)} "
                  f"(sha256 {_code(p.sha256[:12])}); source: {_md(rec.source)}; decision {_code(decision.decision_id)}"]
    return "\n".join(lines)


def _makeup(ctx: CardContext) -> dict[str, Any]:
    people = ctx.partners or (f"Patient/{ctx.patient_id}",)
    kind = get_path(ctx.facts, "session.type")[1]
    appointment = {"resourceType": "Appointment", "status": "proposed",
                   "serviceType": [{"coding": [{"system": SESSION_TYPE_SYSTEM, "code": kind}]}],
                   "participant": [{"actor": {"reference": ref}, "status": "needs-action"} for ref in people]}
    return {"label": "Propose a makeup session",
            "actions": [{"type": "create", "description": "Propose a makeup session with the same partners",
                         "resource": appointment}]}


def _summary(ctx: CardContext) -> dict[str, Any]:
    request: dict[str, Any] = {"resourceType": "CommunicationRequest", "status": "draft",
                               "subject": {"reference": f"Patient/{ctx.patient_id}"}}
    if ctx.absent:
        request["recipient"] = [{"reference": ref} for ref in ctx.absent]
    return {"label": "Draft a session summary for the absent partner",
            "actions": [{"type": "create", "description": "Draft a summary of the session for the absent partner "
                                                          "(consent to share is on record)", "resource": request}]}


def _suggestions(rec: FiredRecommendation, ctx: CardContext) -> list[dict[str, Any]]:
    if rec.id == "offer_makeup_session":
        return [_makeup(ctx)]
    consent = get_path(ctx.facts, "preferences.consent_to_share_summary")[1] is True
    if rec.id == "offer_absent_partner_summary" and consent:  # never without consent, whatever a policy says
        return [_summary(ctx)]
    return []


def _card(rec: FiredRecommendation, decision: Decision, ctx: CardContext) -> dict[str, Any]:
    uid = card_uuid(decision.decision_id, rec.id)
    title = rec.title if len(rec.title) <= MAX_SUMMARY else rec.title[: MAX_SUMMARY - 1] + "…"
    source: dict[str, Any] = {"label": f"{decision.policy.title} {decision.policy.version}"}
    if ctx.studio:
        source["url"] = f"{ctx.studio}#rule-{rec.rule}"  # the rule's anchor on the studio page
    source["topic"] = {"system": TOPIC_SYSTEM, "code": rec.category, "display": rec.category.replace("_", " ")}
    card: dict[str, Any] = {"uuid": uid, "summary": title, "indicator": rec.indicator,
                            "detail": _detail(rec, decision, ctx), "source": source}
    suggestions = _suggestions(rec, ctx)
    if suggestions:
        card["suggestions"] = [{**s, "uuid": suggestion_uuid(uid, s["label"])} for s in suggestions]
        card["selectionBehavior"] = "at-most-one"
    if rec.indicator in ("warning", "critical"):
        card["overrideReasons"] = [dict(r) for r in OVERRIDE_REASONS]
    return card


def cards_for(decision: Decision, ctx: CardContext) -> list[tuple[str, dict[str, Any]]]:
    """(recommendation id, card) of a decision, most urgent first (the decision's order within an indicator)."""
    rank = {"critical": 0, "warning": 1, "info": 2}
    ordered = sorted(decision.recommendations, key=lambda r: rank.get(r.indicator, 3))
    return [(r.id, _card(r, decision, ctx)) for r in ordered]
