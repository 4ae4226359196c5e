"""Each studio page through the Flask test client: what it shows, and that it never writes to rules/."""

from __future__ import annotations

import io
import re
from html import unescape
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask.testing import FlaskClient

from api.log.store import Query
from support.lifecycle import version_text
from support.studio import ABSENT_FOR_WORK

POLICY = "couples-attendance"
BROKEN = ("fact: clinical.safety_concern,", "fact: clinical.safety_concerns,")


def text(resp) -> str:  # type: ignore[no-untyped-def]
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    assert resp.mimetype == "text/html"
    return unescape(resp.get_data(as_text=True))


def attrs(html: str, name: str) -> list[str]:
    return re.findall(rf'{name}="([^"]*)"', html)


def try_url(**values: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"policy": POLICY, **values}.items())
    return f"/studio/try?{query}"


def test_root_redirects_to_the_studio_and_keeps_a_link_to_the_api_description(studio: FlaskClient) -> None:
    resp = studio.get("/")
    assert (resp.status_code, resp.headers["Location"]) == (302, "/studio/")
    assert 'href="/openapi.json"' in resp.get_data(as_text=True)


def test_index_lists_every_version_with_its_status(studio: FlaskClient) -> None:
    html = text(studio.get("/studio/"))
    rows = re.findall(r'<tr>\s*<th scope="row"><a href="[^"]+">([\d.]+)</a></th>.*?</tr>', html, re.S)
    assert rows == ["1.1.0", "1.0.0"]
    assert re.search(r"1\.1\.0</a></th>\s*<td>2026-02-01</td>\s*<td><span class=\"tag tag-active\">active", html)
    assert "Compare 1.0.0 with 1.1.0" in html


@pytest.mark.parametrize(("needle"), [
    # each rule as a sentence, with its priority, rationale template and source
    "<strong>CA-011</strong> When session type is couples, partners present is less than partners expected, "
    "partners present is 1, and safety concern: no → Proceed as a solo session",
    "<strong>CA-002</strong> When either emotions too heightened: yes or therapist recommends a pause: yes "
    "→ Pause couples therapy",
    "discharge in days is at most 14 (parameter discharge_planning_window_days)",
    "priority 10",
    "Source: Are Couples Therapy Sessions Mandatory in Virtual IOP?",
    "{attendance.partners_present} of {attendance.partners_expected} expected",
    # the catalogue, parameters, must_decide, changelog
    "Offer flexible scheduling<br><code class=\"muted\">offer_flexible_scheduling</code>",
    "<code>review_after_consecutive_missed</code></th><td>3</td>",
    "<strong>Every safety concern gets a response</strong>: when safety concern: yes",
    "<strong>1.1.0</strong> (2026-02-01): Test version 1.1.0.",
])
def test_a_version_reads_as_a_document(studio: FlaskClient, needle: str) -> None:
    assert needle in text(studio.get(f"/studio/policies/{POLICY}/1.1.0"))


def test_an_unknown_version_is_a_problem_with_a_suggestion(studio: FlaskClient) -> None:
    resp = studio.get(f"/studio/policies/{POLICY}/1.2")
    assert resp.status_code == 404
    assert resp.get_json()["code"] == "unknown_policy_version"


def test_the_form_has_every_fact_grouped_by_section_with_its_meaning_and_default(studio: FlaskClient) -> None:
    html = text(studio.get("/studio/try"))
    legends = re.findall(r"<legend>([^<]+)</legend>", html)
    assert legends == ["Session", "Attendance", "Clinical", "History", "Plan", "Preferences", "Living situation"]
    names = attrs(html, "name")
    assert {"attendance.partners_present", "clinical.safety_concern", "history.program_hours_this_week"} <= set(names)
    assert "Partners who attended; defaults to the number expected." in html
    assert "Default: the value of attendance.partners_expected." in html
    assert "— not given (default: false)" in html  # a flag's default, shown
    # an unknown measure stays empty: no default, no value
    hours = re.search(r'<input id="f-history-program-hours-this-week"[^>]*>', html, re.S)
    assert hours and 'value=""' in hours.group(0) and "default: no default: unknown when not sent" in hours.group(0)
    # every field has a label
    assert sorted(attrs(html, "for")) >= sorted(i for i in attrs(html, "id") if i.startswith("f-"))


def test_one_partner_absent_for_work(studio: FlaskClient) -> None:
    html = text(studio.get(try_url(version="1.0.0", **ABSENT_FOR_WORK)))
    recs = re.findall(r'<li class="rec" data-rec="([^"]+)"', html)
    assert recs == ["no_attendance_penalty", "proceed_as_solo_session", "check_in_with_attending_partner",
                    "adjust_session_goals", "document_missed_session", "inform_both_partners",
                    "offer_flexible_scheduling"]
    assert "partners present is less than partners expected (partners present was 1, partners expected was 2)" in html
    assert '<span class="ind ind-warning">warning</span> <strong>Document the missed session</strong>' in html
    why = re.search(r'<tr data-rule="CA-022">.*?</tr>', html, re.S)
    assert why and "makeup session requested: yes (makeup session requested was no)" in why.group(0)
    assert "Link to this session" in html


def test_the_newer_version_decides_the_same_session_otherwise(studio: FlaskClient) -> None:
    html = text(studio.get(try_url(version="1.1.0", **ABSENT_FOR_WORK)))
    assert "offer_flexible_scheduling" not in re.findall(r'data-rec="([^"]+)"', html)
    why = re.search(r'<tr data-rule="CA-030">.*?</tr>', html, re.S)
    assert why and "absence reason is one of scheduling conflict, caregiving (absence reason was work)" in why.group(0)


def test_suppressed_recommendations_name_the_rule_that_suppressed_them(studio: FlaskClient) -> None:
    html = text(studio.get(try_url(**{**ABSENT_FOR_WORK, "clinical.safety_concern": "true",
                                      "preferences.makeup_session_requested": "true"})))
    assert re.search(r'<li data-rec="offer_makeup_session"><strong>Offer a makeup session</strong> '
                     r'\(offer_makeup_session, from rule CA-022\) was suppressed by rule CA-001', html)


def test_invalid_facts_are_shown_at_their_field(studio: FlaskClient) -> None:
    html = text(studio.get(try_url(**{"session.id": "s-1", "session.type": "couple",
                                      "attendance.partners_present": "abc"})))
    assert re.search(r'id="f-session-type-err" role="alert">\'couple\' is not one of: couples, individual, group, '
                     r"family, education; did you mean 'couples'\?<", html)
    assert "'abc' is not of type integer" in html
    assert "Decision of" not in html


def test_a_submitted_form_redirects_to_a_link_of_only_the_facts_entered(studio: FlaskClient) -> None:
    empties = "&".join(f"{k}=" for k in ("attendance.notice_given", "plan.discharge_in_days", "clinical.safety_concern"))
    resp = studio.get(try_url(version="1.0.0", **ABSENT_FOR_WORK) + "&" + empties)
    assert resp.status_code == 302
    query = dict(parse_qsl(urlsplit(resp.headers["Location"]).query))
    assert query == {"policy": POLICY, "version": "1.0.0", **ABSENT_FOR_WORK}


def test_a_scenario_of_the_policy_s_tests_fills_the_form(studio: FlaskClient) -> None:
    html = text(studio.get("/studio/try"))
    options = re.findall(r'<option value="(\d+)">([^<]+)</option>', html)
    index = next(i for i, name in options if name == "one partner absent for work gets the full absence response")
    resp = studio.get(f"/studio/try?policy={POLICY}&version=1.0.0&scenario={index}")
    assert resp.status_code == 302
    assert dict(parse_qsl(urlsplit(resp.headers["Location"]).query)) == {
        "policy": POLICY, "version": "1.0.0", **ABSENT_FOR_WORK}
    assert studio.get(f"/studio/try?policy={POLICY}&scenario=999").status_code == 404


def test_compare_renders_the_impact_report(studio: FlaskClient) -> None:
    html = text(studio.get(f"/studio/compare?policy={POLICY}&old=1.0.0&new=1.1.0"))
    assert "Impact: couples-attendance@1.0.0 → couples-attendance@1.1.0" in html
    # the condition of CA-030 narrowed: removed where it no longer holds, and its {matched} rationale reads otherwise
    assert re.search(r"<strong>2 kinds of change</strong>\s*in \d+ of [\d,]+ cases", html)
    row = re.search(r'<tr data-rec="offer_flexible_scheduling">(.*?)</tr>', html, re.S)
    assert row and re.findall(r"<td>([^<]*)</td>", row.group(1))[1:4] == ["removed", "given by CA-030 (info)", "—"]
    assert "one partner absent for work gets the full absence response" in html
    link = re.search(r'href="([^"]+)">Try it on 1.1.0', html)
    assert link and "attendance.absence_reason=work" in link.group(1)
    assert row and re.findall(r"<td>([^<]*)</td>", row.group(1))[-1] == "rule CA-030"  # what causes the change
    changes = re.findall(r'<tr data-section="([^"]+)"><td>[^<]*</td><th scope="row"><code>([^<]+)</code>\s*([^<]*)</th>'
                         r'\s*<td>([^<]*)</td><td>([^<]*)</td>', html)
    assert changes == [("effective_from", "effective_from", "", "changed", "2026-01-01"),
                       ("changelog", "1.1.0", "changes", "added", "—"),
                       ("rule", "CA-030", "when", "changed",
                        "session type is couples and (absence reason is one of scheduling conflict, work, caregiving or "
                        "evening sessions preferred)")]


@pytest.mark.parametrize(("query", "says"), [
    ("", "Impact: couples-attendance@1.0.0 → couples-attendance@1.1.0"),  # newest against the one before
    ("&old=1.1.0&new=1.1.0", "Pick two different versions."),
])
def test_compare_defaults(studio: FlaskClient, query: str, says: str) -> None:
    assert says in text(studio.get(f"/studio/compare?policy={POLICY}{query}"))


def test_a_broken_draft_shows_each_problem_at_its_line_and_column(studio: FlaskClient, studio_rules: Path) -> None:
    before = sorted((p.name, p.stat().st_mtime_ns) for p in studio_rules.rglob("*"))
    draft = version_text("1.2.0").replace(*BROKEN)
    line = next(i for i, x in enumerate(draft.splitlines(), 1) if "clinical.safety_concerns" in x)
    html = text(studio.post("/studio/draft", data={"draft": draft, "action": "check"}))
    assert f'<a href="#L{line}"><code class="where">draft.yaml:{line}:18</code></a> <code>unknown_fact</code>' in html
    assert re.search(rf'<tr id="L{line}" class="problem-line"><th scope="row">{line}</th>', html)
    assert "did you mean 'clinical.safety_concern'?" in html
    assert sorted((p.name, p.stat().st_mtime_ns) for p in studio_rules.rglob("*")) == before


def test_a_good_draft_is_admitted_and_tried_without_being_saved_or_served(studio: FlaskClient,
                                                                         studio_rules: Path) -> None:
    draft = version_text("1.2.0").replace("value: [scheduling_conflict, work, caregiving]", "value: [work]")
    html = text(studio.post("/studio/draft", data={"draft": draft, "action": "try", **ABSENT_FOR_WORK}))
    assert "The draft passes the gate: couples-attendance@1.2.0" in html
    assert "Decision of couples-attendance@1.2.0" in html
    assert "offer_flexible_scheduling" in re.findall(r'data-rec="([^"]+)"', html)
    assert not list(studio_rules.rglob("1.2.0*"))
    assert studio.get(f"/studio/policies/{POLICY}/1.2.0").status_code == 404


def test_a_draft_is_compared_with_a_loaded_version(studio: FlaskClient) -> None:
    draft = version_text("1.2.0").replace("value: [scheduling_conflict, work, caregiving]", "value: [caregiving]")
    html = text(studio.post("/studio/draft", data={"draft": draft, "action": "compare", "against": "1.0.0"}))
    assert "Impact: couples-attendance@1.0.0 → couples-attendance@1.2.0" in html
    rows = re.findall(r'<tr data-rec="([^"]+)">.*?<td>([^<]*)</td><th', html, re.S)  # and {matched} reads otherwise
    assert rows == [("offer_flexible_scheduling", "removed"), ("offer_flexible_scheduling", "rationale changed")]
    assert "Try this case on 1.0.0" in html and "Try it on 1.2.0" not in html  # the draft is served nowhere
    assert '<option value="1.1.0">1.1.0</option>' in html


def test_a_draft_can_start_from_a_loaded_version_or_come_as_a_file(studio: FlaskClient) -> None:
    html = text(studio.get(f"/studio/draft?from={POLICY}@1.0.0"))
    assert "version: 1.0.0" in html
    upload = (io.BytesIO(version_text("1.2.0").replace(*BROKEN).encode()), "next.yaml")
    html = text(studio.post("/studio/draft", data={"draft": "", "action": "check", "file": upload},
                            content_type="multipart/form-data"))
    assert "unknown_fact" in html


@pytest.mark.parametrize(("ref", "status"), [("couples-attendance", 400), ("couples-attendance@", 400),
                                            ("couples-attendance@9.9.9", 404), ("nobody@1.0.0", 404)])
def test_a_draft_starts_only_from_a_loaded_version(studio: FlaskClient, ref: str, status: int) -> None:
    assert studio.get(f"/studio/draft?from={ref}").status_code == status


def test_an_empty_draft_is_a_bad_request(studio: FlaskClient) -> None:
    resp = studio.post("/studio/draft", data={"draft": "  ", "action": "check"})
    assert (resp.status_code, resp.get_json()["code"]) == (400, "invalid_request")


def test_trying_a_session_writes_nothing_to_the_decision_log(make_studio) -> None:  # type: ignore[no-untyped-def]
    app = make_studio()
    client = app.test_client()
    assert "Decision of" in text(client.get(try_url(**ABSENT_FOR_WORK)))
    assert app.extensions["attendance_policy"].store.query(Query(session_id="t-abs-02")).records == []


def test_compare_with_a_broken_scenario_file_shows_the_report_and_the_problem(tmp_path: Path) -> None:
    """A broken test file costs the page its scenario cases, with the file:line why, never a 500."""
    from api import create_app
    from support.studio import two_versions

    rules = two_versions(tmp_path / "rules")
    broken = rules / POLICY / "tests" / "zz-broken.yaml"
    broken.parent.mkdir(exist_ok=True)
    broken.write_text("scenarios:\n  - name: half written\n    facts: {session: {id: s-1}\n", encoding="utf-8")
    app = create_app({"policies": {"rules": [str(rules)]}, "decision_log": {"path": str(tmp_path / "d.sqlite3")}})
    try:
        resp = app.test_client().get(f"/studio/compare?policy={POLICY}&old=1.0.0&new=1.1.0")
        html = text(resp)
        assert resp.status_code == 200
        assert "Impact: couples-attendance@1.0.0 → couples-attendance@1.1.0" in html
        assert "scenario tests could not be read" in html
        assert re.search(r"<li><code>couples-attendance/tests/zz-broken.yaml:\d+:\d+: ", html)
    finally:
        app.extensions["attendance_policy"].close()
