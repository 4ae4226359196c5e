"""The eight durable_rules failure modes (docs/engine-guards.md), at the service.

tests/test_engine_guards.py shows each guard at engine level. Here the facts or policy
that would trigger each mode go through the real service (gunicorn, 2 workers): facts are
refused or neutralised before the engine meets them, a policy that would trigger a mode is
refused before the service listens, and the workers that served everything are the same
processes afterwards (a segfault, SIGFPE or freeze would have replaced one).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.live import LiveServer, serve_command
from support.logdb import decision_count, logged_counts
from support.policies import minimal_policy
from support.rawhttp import http_request, raw_exchange, status_of
from support.service import TOKENS, facts

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads worker pids in /proc")

NOTHING = {"session": {"id": "c1-nothing", "type": "education"}}  # no rule of the default policy fires


def _batch(server: LiveServer, items: list[dict[str, Any]], policy: str | None = None) -> list[dict[str, Any]]:
    body = {"items": [{"facts": f, **({"policy": policy} if policy else {})} for f in items]}
    status, answer = server.call("POST", "/v1/decisions:batch", body, role="evaluate")
    assert status == 200, answer
    return list(answer["results"])


def test_c1_decisions_where_no_rule_fires(live: LiveServer, same_workers: list[int]) -> None:
    for _ in range(2):  # 1,200 no-match decisions; without the catch-all, delete_state would crash the worker
        results = _batch(live, [NOTHING] * 600)
        assert {r["status"] for r in results} == {200}
        assert all(r["decision"]["rules_fired"] == [] for r in results)
    status, decision = live.call("POST", "/v1/decisions", {"facts": NOTHING}, role="evaluate")
    assert (status, decision["recommendations"]) == (200, [])


def test_c2_concurrent_requests(live: LiveServer, same_workers: list[int]) -> None:
    sessions = [f"c2-{i}" for i in range(200)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(pool.map(live.decide, sessions))
    assert len(set(ids)) == 200
    assert set(logged_counts(live.database, ids).values()) == {1}


def test_c3_zero_in_every_number(live: LiveServer, same_workers: list[int]) -> None:
    zeros = {"session": {"id": "c3-zeros", "type": "couples"},
             "attendance": {"partners_expected": 1, "partners_present": 0},
             "history": {"consecutive_joint_sessions_missed": 0, "program_days_this_week": 0,
                         "program_hours_this_week": 0.0},
             "plan": {"discharge_in_days": 0}}
    status, decision = live.call("POST", "/v1/decisions", {"facts": zeros}, role="evaluate")
    assert status == 200, decision
    assert {"program_intensity_below_plan", "schedule_joint_discharge_planning"} <= \
        {r["id"] for r in decision["recommendations"]}


def test_c4_huge_ids_keys_and_nesting(live: LiveServer, same_workers: list[int]) -> None:
    logged = decision_count(live.database)
    big = json.dumps({"facts": {"session": {"id": "x" * 8_000_000, "type": "couples"}}}).encode()
    head = http_request("POST", "/v1/decisions", body=big, headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {TOKENS['evaluate']}"})
    assert status_of(raw_exchange(live.port, head)) == 413  # the 8 MB id never reaches a parser
    nested: Any = 1
    for i in range(60):
        nested = {f"{i}" + "k" * 5000: nested}
    items = [{"session": {"id": "y" * 3_000_000, "type": "couples"}},
             {"session": {"id": "s", "type": "couples"}, "attendance": nested},
             {"session": {"id": "s", "type": "couples", "k" * 5000: "v" * 100_000}}]
    results = _batch(live, items)
    assert [(r["status"], r["problem"]["code"]) for r in results] == [(400, "invalid_facts")] * 3
    assert decision_count(live.database) == logged


def test_c7_colliding_session_ids(live: LiveServer, same_workers: list[int]) -> None:
    """`req-991307` and `req-1971740` share a 32-bit FNV hash: each decision must stay its own."""
    safe = facts("req-991307")
    unsafe = facts("req-1971740", clinical={"safety_concern": True})

    def decide(i: int) -> tuple[str, set[str]]:
        status, d = live.call("POST", "/v1/decisions", {"facts": unsafe if i % 2 else safe}, role="evaluate")
        assert status == 200, d
        return d["session_id"], {r["id"] for r in d["recommendations"]}

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(decide, range(120)))
    for session_id, recommendations in answers:
        assert ("pause_couples_therapy" in recommendations) == (session_id == "req-1971740")


def test_c8_more_decisions_than_live_sessions(live: LiveServer, same_workers: list[int]) -> None:
    made: list[str] = []
    for i in range(3):  # 1,200 decisions, more than the 1,024 live sessions after which the engine fails
        results = _batch(live, [facts(f"c8-{i}-{j}") for j in range(400)])
        assert {r["status"] for r in results} == {200}
        made += [r["decision"]["decision_id"] for r in results]
    assert set(logged_counts(live.database, made).values()) == {1}


# -- policies that would trigger a failure mode -------------------------------------------------

RULE = {"title": "t", "priority": 1, "then": "rec_a", "rationale": "r", "source": "s"}


def _write(base: Path, policy_id: str, data: dict[str, Any]) -> None:
    folder = base / policy_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "1.0.0.yaml").write_text(yaml.safe_dump({**data, "policy": policy_id}, sort_keys=False))


@pytest.fixture(scope="module")
def guarded(serve_like_live: Callable[..., AbstractContextManager[LiveServer]],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with policies that would trigger C6 and error 303 if the compiler did not guard them."""
    directory = tmp_path_factory.mktemp("guarded")
    rules = directory / "rules"
    # (A rule that could match only the engine's own state fact, `not: {plan.discharge_in_days gte 0}`, never
    # reaches a server: the gate refuses it as unreachable_rule, tests/test_gate.py; the compiler's C6 guard
    # itself is tested in tests/test_engine_guards.py.)
    _write(rules, "absent", minimal_policy(rules=[
        {"id": "R-001", **RULE, "when": {"fact": "history.program_days_this_week", "op": "ne", "value": 3}}]))
    _write(rules, "wide", minimal_policy(rules=[
        {"id": f"R-{i:03d}", **RULE, "when": {"fact": "session.type", "op": "eq", "value": "couples"}}
        for i in range(150)]))
    with serve_like_live(directory, rules=[rules]) as server:
        yield server


def test_c6_rules_on_absent_facts_do_not_loop(guarded: LiveServer) -> None:
    before = guarded.worker_pids()
    for sent in ({}, {"history": {"program_days_this_week": 3}}, {"history": {"program_days_this_week": 5}}):
        body = {"facts": {"session": {"id": "c6", "type": "couples"}, **sent}, "policy": "absent"}
        status, decision = guarded.call("POST", "/v1/decisions", body, role="evaluate")
        assert status == 200, decision
        expected = ["R-001"] if sent.get("history", {}).get("program_days_this_week") == 5 else []
        assert decision["rules_fired"] == expected  # unknown is not "not 3", and never the state fact
    assert guarded.worker_pids() == before


def test_error_303_many_rules_firing_at_once(guarded: LiveServer) -> None:
    before = guarded.worker_pids()
    body = {"facts": {"session": {"id": "wide", "type": "couples"}}, "policy": "wide"}
    status, decision = guarded.call("POST", "/v1/decisions", body, role="evaluate")
    assert status == 200 and len(decision["rules_fired"]) == 150
    assert guarded.worker_pids() == before


def _serve_refuses(tmp_path: Path, policy: dict[str, Any]) -> str:
    rules = tmp_path / "rules"
    _write(rules, "hostile", policy)
    (tmp_path / "service.toml").write_text(f'[policies]\nrules = ["{rules}"]\n[decision_log]\npath = "log.sqlite3"\n')
    proc = subprocess.run([*serve_command(), "serve", "--port", "1", "--config", str(tmp_path / "service.toml")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stderr


LEAVES_64 = [{"fact": "history.consecutive_joint_sessions_missed", "op": "eq", "value": i} for i in range(64)]


@pytest.mark.parametrize(("when", "message"), [
    ({"fact": "attendance.absence_reason", "op": "in", "value": [f"r{i}" for i in range(600)]},
     "schema: rule R-001: the list is too long: 600 items, at most 64 allowed (at $.rules[0].when.value)"),
    ({"any": [{"fact": "history.consecutive_joint_sessions_missed", "op": "eq", "value": i} for i in range(600)]},
     "schema: rule R-001: the list is too long: 600 items, at most 64 allowed (at $.rules[0].when.any)"),
    ({"any": [{"any": LEAVES_64}] * 10},
     "too_many_conditions: rule R-001: 640 conditions after expanding lists; a rule may have at most 128"),
])
def test_c5_a_freezing_fan_out_is_refused_before_serving(tmp_path: Path, when: dict[str, Any], message: str) -> None:
    assert message in _serve_refuses(tmp_path, minimal_policy(rules=[{"id": "R-001", **RULE, "when": when}]))


@pytest.mark.parametrize("when", [
    {"fact": "attendance.partners_present", "op": "div", "value": 0},
    {"fact": "attendance.partners_present", "op": "eq", "value": {"$div": ["attendance.partners_expected", 0]}},
])
def test_c3_arithmetic_cannot_be_written(tmp_path: Path, when: dict[str, Any]) -> None:
    stderr = _serve_refuses(tmp_path, minimal_policy(rules=[{"id": "R-001", **RULE, "when": when}]))
    assert "schema:" in stderr and "$.rules[0].when" in stderr
