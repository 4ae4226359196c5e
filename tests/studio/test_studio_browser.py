"""The studio end to end: headless Chromium (the distribution's) against a live `attendance-policy serve`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import expect

from support.lifecycle import version_text
from support.live import LiveServer
from support.studio import ABSENT_FOR_WORK, axe_violations, browser, serious

FORM = {"session id": "t-abs-02", "session type": "couples", "partners present": "1", "absence reason": "work"}
BROKEN = ("fact: clinical.safety_concern,", "fact: clinical.safety_concerns,")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser() as b:
        yield b


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context()
    yield context.new_page()
    context.close()


def fill(page: Any, values: dict[str, str]) -> None:
    """Fill the facts form by each field's label, as a person would."""
    for label, value in values.items():
        field = page.get_by_label(label, exact=True)
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def test_open_a_version_and_try_one_partner_absent_for_work(live: LiveServer, page: Any) -> None:
    page.goto(live.url + "/")
    assert page.url == live.url + "/studio/"
    page.get_by_role("link", name="1.0.0", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"1\.0\.0$"))
    assert page.locator("#rule-CA-011 .sentence").inner_text().startswith(
        "CA-011 When session type is couples, partners present is less than partners expected")
    page.get_by_role("link", name="Try a session on this version").click()
    fill(page, FORM)
    page.get_by_role("button", name="Decide").click()
    expect(page.locator("#decision-h")).to_have_text("Decision of couples-attendance@1.0.0")
    recs = page.locator("li.rec").evaluate_all("els => els.map(e => e.dataset.rec)")
    assert recs == ["no_attendance_penalty", "proceed_as_solo_session", "check_in_with_attending_partner",
                    "adjust_session_goals", "document_missed_session", "inform_both_partners",
                    "offer_flexible_scheduling"]
    assert "Document the missed session" in page.locator('li.rec[data-rec="document_missed_session"]').inner_text()
    assert page.locator('tr[data-rule="CA-022"] td').nth(1).inner_text() == (
        "makeup session requested: yes (makeup session requested was no)")
    link = page.locator("#share-link").input_value()
    assert dict(parse_qsl(urlsplit(link).query)) == {"policy": "couples-attendance", "version": "1.0.0",
                                                     **ABSENT_FOR_WORK}
    assert serious(axe_violations(page)) == []


def test_a_shared_link_opens_the_same_decision(live: LiveServer, page: Any) -> None:
    query = "&".join(f"{k}={v}" for k, v in ABSENT_FOR_WORK.items())
    page.goto(f"{live.url}/studio/try?policy=couples-attendance&version=1.1.0&{query}")
    recs = page.locator("li.rec").evaluate_all("els => els.map(e => e.dataset.rec)")
    assert "offer_flexible_scheduling" not in recs and "proceed_as_solo_session" in recs
    assert page.get_by_label("absence reason", exact=True).input_value() == "work"


def test_compare_two_versions(live: LiveServer, page: Any) -> None:
    page.goto(live.url + "/studio/")
    page.get_by_role("link", name="Compare versions").click()
    page.get_by_label("Old version").select_option("1.0.0")
    page.get_by_label("New version").select_option("1.1.0")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("#impact-h")).to_have_text("Impact: couples-attendance@1.0.0 → couples-attendance@1.1.0")
    row = page.locator('tr[data-rec="offer_flexible_scheduling"] td')
    assert [row.nth(i).inner_text() for i in (1, 2, 3)] == ["removed", "given by CA-030 (info)", "—"]
    page.get_by_role("link", name="Try it on 1.1.0").first.click()
    expect(page.locator("#decision-h")).to_have_text("Decision of couples-attendance@1.1.0")
    assert "offer_flexible_scheduling" not in page.locator("li.rec").evaluate_all("e => e.map(x => x.dataset.rec)")
    page.go_back()
    assert serious(axe_violations(page)) == []


def test_paste_a_broken_draft_and_see_the_error_at_its_line(live: LiveServer, page: Any) -> None:
    draft = version_text("1.2.0").replace(*BROKEN, 1)
    line = next(i for i, x in enumerate(draft.splitlines(), 1) if "clinical.safety_concerns" in x)
    page.goto(live.url + "/studio/draft")
    page.get_by_label("Draft YAML").fill(draft)
    page.get_by_role("button", name="Check the draft").click()
    expect(page.locator("#verdict-h")).to_have_text("1 problem in the draft")
    problem = page.locator("ol.problems li").first
    assert re.match(rf"draft\.yaml:{line}:18 unknown_fact: .*unknown fact 'clinical\.safety_concerns'; did you mean "
                    r"'clinical\.safety_concern'\?", problem.inner_text())
    problem.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"#L{line}$"))
    marked = page.locator("tr.problem-line")
    assert marked.count() == 1 and marked.get_attribute("id") == f"L{line}"
    assert "clinical.safety_concerns" in marked.locator("td code").inner_text()
    assert serious(axe_violations(page)) == []


def test_a_fixed_draft_is_tried_on_the_page(live: LiveServer, page: Any) -> None:
    page.goto(live.url + "/studio/draft?from=couples-attendance@1.1.0")
    text = page.get_by_label("Draft YAML").input_value()
    page.get_by_label("Draft YAML").fill(text.replace("version: 1.1.0\n", "version: 1.2.0\n", 1))
    page.get_by_role("button", name="Check the draft").click()
    expect(page.locator("ol.problems")).to_contain_text("the first changelog entry must describe version 1.2.0")
    page.get_by_label("Draft YAML").fill(text.replace("version: 1.1.0\n", "version: 1.2.0\n"))  # and its entry
    page.get_by_role("button", name="Check the draft").click()
    expect(page.locator("#verdict-h")).to_have_text("The draft passes the gate: couples-attendance@1.2.0")
    fill(page, FORM)
    page.get_by_role("button", name="Try this session on the draft").click()
    expect(page.locator("#decision-h")).to_have_text("Decision of couples-attendance@1.2.0")
    page.get_by_label("Loaded version").select_option("1.0.0")
    page.get_by_role("button", name="Compare with the draft").click()
    expect(page.locator("#impact-h")).to_have_text("Impact: couples-attendance@1.0.0 → couples-attendance@1.2.0")
    assert serious(axe_violations(page)) == []
    assert live.call("GET", "/v1/policies/couples-attendance")[1]["versions"][-1]["version"] == "1.1.0"


@pytest.mark.parametrize("path", ["/studio/", "/studio/policies/couples-attendance/1.1.0", "/studio/try",
                                  "/studio/draft?from=couples-attendance@1.0.0"])
def test_every_page_passes_axe(live: LiveServer, page: Any, path: str) -> None:
    page.goto(live.url + path)
    assert serious(axe_violations(page)) == []


def test_each_version_s_links_say_which_version(live: LiveServer, page: Any) -> None:
    page.goto(live.url + "/studio/")
    page.get_by_role("link", name="Try a session on 1.0.0").click()
    expect(page.get_by_label("Version")).to_have_value("1.0.0")


def test_keyboard_reaches_the_content_first(live: LiveServer, page: Any) -> None:
    page.goto(live.url + "/studio/try")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


@pytest.mark.parametrize(("role", "status"), [("studio", 200), ("audit", 200), ("evaluate", 403)])
def test_with_keys_the_browser_sends_the_key_it_is_asked_for(keyed_live: LiveServer, chromium: Any, role: str,
                                                             status: int) -> None:
    context = chromium.new_context(http_credentials={"username": "director", "password": keyed_live.tokens[role]})
    try:
        page = context.new_page()
        resp = page.goto(keyed_live.url + "/studio/")
        assert resp is not None and resp.status == status
        if status == 200:
            expect(page.get_by_role("heading", level=1)).to_have_text("Policies")
    finally:
        context.close()


def test_with_keys_no_key_gets_the_challenge(keyed_live: LiveServer) -> None:
    reply = keyed_live.request("GET", "/studio/")
    assert reply.status == 401 and reply.headers["www-authenticate"].startswith("Basic ")
