"""Impact on real traffic: decisions the real service logged, re-decided by two versions (`diff --log`, the API)."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from engine.cli.main import main
from engine.core.schemas import load_schema
from support.lifecycle import version_text
from support.live import LiveServer, serving
from support.service import RULES

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gunicorn needs a POSIX system")

OLD, NEW = "couples-attendance@1.0.0", "couples-attendance@1.1.0"
REVIEW = "clinician_review_attendance"
REASON = "the decision log redacted preferences.makeup_session_requested, which both versions read"


def _facts(session: str, missed: int, makeup: bool | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"session": {"id": session, "type": "couples", "scheduled_start": "2026-12-01T18:00:00Z"},
                           "attendance": {"partners_present": 1},
                           "history": {"consecutive_joint_sessions_missed": missed}}
    if makeup is not None:
        out["preferences"] = {"makeup_session_requested": makeup}
    return out


# session -> (missed in a row, makeup requested); scheduled_start is redacted too, but no version reads it
SESSIONS = {
    "imp-a1": (2, None), "imp-a2": (2, None), "imp-a3": (2, None),  # 1.1.0 reviews from 2: review added
    "imp-b1": (3, None),  # reviewed by both; its rationale quotes the threshold: rationale changed
    "imp-c1": (0, None), "imp-c2": (1, None),  # decided alike
    "imp-d1": (2, True), "imp-d2": (0, False),  # the makeup request is redacted and read: not replayable
}


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Path, dict[str, str]]]:
    """A real service over 1.0.0 and a 1.1.0 that lowers the review threshold, and the decisions it logged."""
    root = tmp_path_factory.mktemp("impact")
    folder = root / "rules" / "couples-attendance"
    folder.mkdir(parents=True)
    shutil.copy(Path(RULES, "couples-attendance", "1.0.0.yaml"), folder)
    text = version_text("1.1.0").replace("review_after_consecutive_missed: 3", "review_after_consecutive_missed: 2")
    (folder / "1.1.0.yaml").write_text(text, encoding="utf-8")
    with serving(root / "serve", rules=[root / "rules"],
                 decision_log={"redact": ["session.scheduled_start", "preferences.makeup_session_requested"]}) as srv:
        ids = {}
        for session, (missed, reason) in SESSIONS.items():
            status, body = srv.call("POST", "/v1/decisions", {"facts": _facts(session, missed, reason),
                                                               "version": "1.0.0"}, role="evaluate")
            assert status == 200, body
            ids[session] = body["decision_id"]
        yield srv, root / "rules", ids


def _diff(capsys: pytest.CaptureFixture[str], rules: Path, db: Path, *extra: str) -> tuple[int, str]:
    code = main(["diff", OLD, NEW, "--rules", str(rules), "--log", str(db), *extra])
    return code, capsys.readouterr().out


def _traffic_groups(traffic: dict[str, Any]) -> list[tuple[str, str, int, list[str]]]:
    return [(g["kind"], g["recommendation"], g["cases"], sorted(g["decision_ids"])) for g in traffic["groups"]]


def _expected(ids: dict[str, str]) -> list[tuple[str, str, int, list[str]]]:
    return [("added", REVIEW, 3, sorted(ids[s] for s in ("imp-a1", "imp-a2", "imp-a3"))),
            ("rationale", REVIEW, 1, [ids["imp-b1"]])]


def test_diff_log_re_decides_the_logged_decisions(capsys, logged):
    srv, rules, ids = logged
    code, out = _diff(capsys, rules, srv.database, "--format", "json", "--fail-on-change")
    traffic = json.loads(out)["traffic"]
    assert code == 1
    assert (traffic["read"], traffic["replayed"], traffic["changed"], traffic["not_replayable"]) == (8, 6, 4, 2)
    assert _traffic_groups(traffic) == _expected(ids)
    assert traffic["unreplayable"] == [{"reason": REASON, "count": 2,
                                        "decision_ids": [ids["imp-d1"], ids["imp-d2"]]}]
    assert "imp-" not in out.replace(str(srv.database), "")  # ids and counts, never the logged facts


def test_the_markdown_has_a_traffic_section(capsys, logged):
    srv, rules, ids = logged
    code, out = _diff(capsys, rules, srv.database)
    assert code == 0
    lines = out.splitlines()
    assert lines[2].startswith("**Decisions change in ") and "4 of 6 replayed logged decisions" in lines[2]
    assert "### Decisions that change on logged traffic" in lines
    assert f"| {REASON} | 2 | {ids['imp-d1']}, {ids['imp-d2']} |" in lines
    assert "**Cannot be replayed: 2**" in lines


@pytest.mark.parametrize("window, read", [
    (("--since", "2000-01-01"), 8), (("--until", "2000-01-01"), 0), (("--since", "2999-01-01T00:00:00Z"), 0),
])
def test_since_and_until_choose_the_window(capsys, logged, window, read):
    srv, rules, _ = logged
    code, out = _diff(capsys, rules, srv.database, "--format", "json", *window)
    assert (code, json.loads(out)["traffic"]["read"]) == (0, read)


def test_a_bad_window_is_named(capsys, logged):
    srv, rules, _ = logged
    assert main(["diff", OLD, NEW, "--rules", str(rules), "--log", str(srv.database), "--since", "01/11/2026"]) == 2
    assert "--since must be a date (2026-11-01) or an RFC 3339 date-time" in capsys.readouterr().err


def test_the_service_gives_the_same_report_to_an_audit_key(capsys, logged):
    srv, rules, ids = logged
    path = f"/v1/audit/impact?old={OLD}&new={NEW}"
    status, body = srv.call("GET", path, role="audit")
    assert status == 200, body
    Draft202012Validator(load_schema("impact-report")).validate(body)
    assert _traffic_groups(body["traffic"]) == _expected(ids)
    assert body["traffic"]["unreplayable"][0]["reason"] == REASON
    _, out = _diff(capsys, rules, srv.database, "--format", "json")
    cli = json.loads(out)
    assert [(c["section"], c["subject"], c["old"], c["new"]) for c in body["policy_changes"]] == \
           [(c["section"], c["subject"], c["old"], c["new"]) for c in cli["policy_changes"]]
    assert body["generated"]["groups"] == cli["generated"]["groups"]


@pytest.mark.parametrize("query, role, status, code", [
    (f"old={OLD}&new={NEW}", "evaluate", 403, "forbidden"),
    (f"old={OLD}&new=couples-attendance@1.2.0", "audit", 404, "unknown_policy_version"),
    ("old=couples-attendance", "audit", 400, "invalid_query"),
    (f"old={OLD}&new={NEW}&since=yesterday", "audit", 400, "invalid_query"),
    (f"old={OLD}&new={NEW}&limit=0", "audit", 400, "invalid_query"),
    (f"old={OLD}&new={NEW}&olde=1", "audit", 400, "invalid_query"),
])
def test_the_service_refuses_bad_queries(logged, query, role, status, code):
    srv, _, _ = logged
    got, body = srv.call("GET", f"/v1/audit/impact?{query}", role=role)
    assert (got, body["code"]) == (status, code)


def test_new_defaults_to_the_newest_version_and_old_to_the_one_in_effect(logged):
    srv, _, ids = logged
    status, body = srv.call("GET", f"/v1/audit/impact?old={OLD}&generated=false", role="audit")
    assert (status, body["new"]["policy"], _traffic_groups(body["traffic"])) == (200, NEW, _expected(ids))
    status, body = srv.call("GET", "/v1/audit/impact?generated=false", role="audit")  # 1.1.0 is in effect
    assert (status, body["old"]["policy"], body["new"]["policy"], body["changed"]) == (200, NEW, NEW, False)


def test_a_limit_stops_the_replay_and_says_so(logged):
    srv, _, _ = logged
    status, body = srv.call("GET", f"/v1/audit/impact?old={OLD}&new={NEW}&limit=3&generated=false", role="audit")
    assert status == 200
    assert (body["traffic"]["read"], body["traffic"]["truncated"], body["generated"]) == (3, True, None)
