"""Reload preparation (engine/runtime/reload.py) and the live set (engine/runtime/live.py): checked before swapped, freed when safe."""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from engine import Engine, PolicySet, load_rules
from engine.core.errors import NoActiveVersionError, PinnedVersionUnavailableError, PolicyLoadError, Problem
from engine.runtime.live import LivePolicies
from engine.runtime.reload import ReloadError, fingerprint, load_sources, prepare, scan
from support.policies import couples, minimal_policy, write_policy

TODAY = dt.date(2026, 6, 1)
NEVER_FIRES = {"all": [{"fact": "attendance.partners_present", "op": "eq", "value": 1},
                       {"fact": "attendance.partners_present", "op": "eq", "value": 2}]}


def _version(version: str, effective: str | None = None, **changes: Any) -> dict[str, Any]:
    # A higher version takes effect later than the one before it: 1.0.0 on 1 January, 1.1.0 on the 2nd...
    effective = effective or f"2026-01-{int(version.split('.')[1]) + 1:02d}"
    return minimal_policy(version=version, effective_from=effective,
                          changelog=[{"version": version, "changes": "test"}], **changes)


def _build(rules: Path) -> PolicySet:
    return PolicySet.build(load_rules([rules]), isolate=False)


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    write_policy(tmp_path, _version("1.0.0"))
    return tmp_path


def _codes(e: pytest.ExceptionInfo[ReloadError]) -> list[tuple[str, str, int | None]]:
    return [(p.code, Path(p.file or "").name, p.line) for p in e.value.problems]


def test_a_new_version_is_compiled_and_unchanged_ones_are_reused(rules: Path) -> None:
    current = _build(rules)
    write_policy(rules, _version("1.1.0"), version="1.1.0")
    plan = prepare(current, load_rules([rules]), today=TODAY)
    assert (plan.added, plan.changed, plan.removed) == (["demo@1.1.0"], [], [])
    assert plan.policies.compiled["demo@1.0.0"] is current.compiled["demo@1.0.0"]  # not recompiled
    assert plan.policies.deciders["demo@1.0.0"] is current.deciders["demo@1.0.0"]  # memo kept
    assert plan.policies.active("demo", TODAY).version == "1.1.0"
    plan.abandon()
    assert plan.policies.compiled["demo@1.1.0"].shards == 0  # freed
    again = prepare(current, load_rules([rules])[:1], today=TODAY)
    assert again.unchanged and fingerprint(again.policies) == fingerprint(current)
    current.close()


def test_every_problem_is_reported_with_its_file_and_line(rules: Path) -> None:
    bad_fact = _version("1.1.0")
    bad_fact["rules"][0]["when"] = {"fact": "attendance.partners_presen", "op": "eq", "value": 1}
    write_policy(rules, bad_fact, version="1.1.0")
    write_policy(rules, "policy: demo\nversion: 1.2.0\nrules: [\n", version="1.2.0")
    with pytest.raises(PolicyLoadError) as e:  # the service's reload reports these as its problems
        load_rules([rules])
    found = [(p.code, Path(p.file or "").name, bool(p.line)) for p in e.value.problems]
    assert found == [("unknown_fact", "1.1.0.yaml", True), ("yaml_syntax", "1.2.0.yaml", True)]


def test_lint_errors_refuse_a_version(rules: Path) -> None:
    current = _build(rules)
    dead = _version("1.1.0")
    dead["rules"].append({"id": "R-002", "title": "never", "priority": 20, "when": NEVER_FIRES, "then": "rec_b",
                          "rationale": "never", "source": "s"})
    path = write_policy(rules, dead, version="1.1.0")
    with pytest.raises(ReloadError) as e:
        prepare(current, load_rules([rules]), today=TODAY)
    (problem,) = e.value.problems
    assert (problem.code, problem.file, problem.line is not None) == ("unreachable_rule", str(path), True)
    assert current.compiled["demo@1.0.0"].shards  # the set in service is untouched
    current.close()


def test_a_compile_that_does_not_finish_in_the_child_is_refused(rules: Path) -> None:
    current = _build(rules)
    write_policy(rules, _version("1.1.0"), version="1.1.0")
    with pytest.raises(ReloadError) as e:
        prepare(current, load_rules([rules]), today=TODAY, compile_timeout=0.0001)
    assert _codes(e) == [("compile_error", "1.1.0.yaml", None)]
    assert "did not finish within" in e.value.problems[0].message
    current.close()


@pytest.mark.parametrize(("pins", "remove", "code"), [
    ({}, "1.1.0", "active_version_removed"),  # in effect by date
    ({"demo": "1.0.0"}, "1.0.0", "pinned_version_removed"),
    ({"demo": "1.0.0"}, "1.1.0", None),  # pinned elsewhere: 1.1.0 is not active, it may go
    ({}, "1.0.0", None),  # superseded by 1.1.0
])
def test_removing_a_pinned_or_active_version_is_refused(rules: Path, pins: dict[str, str], remove: str,
                                                        code: str | None) -> None:
    write_policy(rules, _version("1.1.0"), version="1.1.0")
    current = _build(rules).with_pins(pins)
    (rules / "demo" / f"{remove}.yaml").unlink()
    if code is None:
        plan = prepare(current, load_rules([rules]), today=TODAY)
        assert plan.removed == [f"demo@{remove}"]
    else:
        with pytest.raises(ReloadError) as e:
            prepare(current, load_rules([rules]), today=TODAY)
        assert _codes(e) == [(code, f"{remove}.yaml", None)]
    current.close()


def test_a_version_lock_is_checked(tmp_path: Path) -> None:
    write_policy(tmp_path, _version("1.0.0"))
    current = _build(tmp_path)
    (tmp_path / "demo" / "versions.lock").write_text("1.0.0 sha256:" + "0" * 64 + "\n")
    with pytest.raises(ReloadError) as e:
        prepare(current, load_rules([tmp_path]), today=TODAY)
    assert _codes(e)[0][0] == "released_version_changed"
    current.close()


def test_scheduled_activation_follows_the_clock_without_a_reload(rules: Path) -> None:
    write_policy(rules, _version("1.1.0", effective="2026-07-01"), version="1.1.0")
    now = [dt.datetime(2026, 6, 30, 23, 59, tzinfo=dt.UTC)]
    engine = Engine(_build(rules), clock=lambda: now[0])
    facts = couples(attendance={"partners_present": 1})
    assert engine.evaluate(facts).policy.version == "1.0.0"
    now[0] = dt.datetime(2026, 7, 1, 0, 0, tzinfo=dt.UTC)
    assert engine.evaluate(facts).policy.version == "1.1.0"
    now[0] = dt.datetime(2025, 12, 31, tzinfo=dt.UTC)
    with pytest.raises(NoActiveVersionError):
        engine.evaluate(facts)
    engine.policies.close()


def test_a_pin_overrides_the_dates_and_refuses_when_its_version_is_missing(rules: Path) -> None:
    write_policy(rules, _version("1.1.0"), version="1.1.0")
    base = _build(rules)
    assert base.active("demo", TODAY).version == "1.1.0"
    assert base.with_pins({"demo": "1.0.0"}).active("demo", TODAY).version == "1.0.0"
    assert base.with_pins({"demo": "1.0.0"}).scheduled("demo", TODAY).version == "1.1.0"
    assert base.with_pins({"demo": "1.0.0"}).resolve("demo", "1.1.0", TODAY).policy.version == "1.1.0"
    with pytest.raises(PinnedVersionUnavailableError, match="pinned to version 9.9.9"):
        base.with_pins({"demo": "9.9.9"}).resolve(None, None, TODAY)
    base.close()


def test_a_swap_frees_a_version_only_after_the_last_request_that_could_use_it(rules: Path) -> None:
    live = LivePolicies(Engine(_build(rules)))
    old = live.current.compiled["demo@1.0.0"]
    gen = live.acquire()  # a request in flight on the old set
    path = write_policy(rules, _version("1.0.0", parameters={"limit": 4}))
    plan = prepare(live.current, load_rules([rules]), today=TODAY)
    assert plan.changed == ["demo@1.0.0"] and path.exists()
    live.swap(lambda cur: plan.policies)
    assert live.current.compiled["demo@1.0.0"] is not old
    assert old.shards and live.pending() == 1  # still usable by the request in flight
    later = live.acquire()  # began after the swap: cannot see the old set
    live.release(gen)
    assert old.shards == 0 and live.pending() == 0
    live.release(later)
    live.close()


def test_pins_swap_the_set_without_recompiling(rules: Path) -> None:
    live = LivePolicies(Engine(_build(rules)))
    before = live.current
    assert live.set_pins({}) is before  # no change, no swap
    pinned = live.set_pins({"demo": "1.0.0"})
    assert pinned is not before and pinned.compiled is before.compiled and live.generation == 1
    assert live.pending() == 0
    live.close()


def test_evaluations_during_swaps_always_finish_on_a_whole_set(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    write_policy(one, _version("1.0.0"))
    write_policy(two, _version("1.0.0"))
    write_policy(two, _version("1.1.0"), version="1.1.0")
    live = LivePolicies(Engine(_build(one), clock=lambda: dt.datetime(2026, 6, 1, tzinfo=dt.UTC)))
    errors: list[BaseException] = []
    seen: set[str] = set()
    stop = threading.Event()

    def evaluate() -> None:
        while not stop.is_set():
            try:
                gen = live.acquire()  # what each request does (api.app's before/teardown hooks)
                try:
                    decision = live.engine.evaluate(couples(attendance={"partners_present": 1}))
                finally:
                    live.release(gen)
                seen.add(decision.policy.version)
                assert [r.id for r in decision.recommendations] == ["rec_a"]
            except BaseException as e:  # any failure fails the test
                errors.append(e)

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(40):  # back and forth; each swap brings freshly compiled rulesets and retires the old ones
        fresh = _build(two if i % 2 == 0 else one)
        live.swap(lambda cur, fresh=fresh: fresh)
    stop.set()
    for t in threads:
        t.join()
    assert errors == [] and seen == {"1.0.0", "1.1.0"} and live.pending() == 0
    live.close()


def test_scan_sees_content_not_times(rules: Path) -> None:
    path = rules / "demo" / "1.0.0.yaml"
    first = scan([rules])
    assert scan([rules], first).same(first)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10_000_000_000))
    assert scan([rules], first).same(first)  # touched: no change
    text = path.read_text()
    path.write_text(text.replace("title: Demo", "title: Demx"))  # same size, within the same second
    assert not scan([rules], first).same(first)
    (rules / "demo" / "versions.lock").write_text("# nothing released\n")
    assert str(rules / "demo" / "versions.lock") in scan([rules]).files


def test_load_sources_reads_a_published_set(rules: Path) -> None:
    policies = load_rules([rules])
    again = load_sources({p.file: p.source_text for p in policies})
    assert [(p.key, p.sha256) for p in again] == [(p.key, p.sha256) for p in policies]
    with pytest.raises(PolicyLoadError) as e:
        load_sources({str(rules / "demo" / "1.1.0.yaml"): policies[0].source_text})
    assert [p.code for p in e.value.problems] == ["version_mismatch"]


def test_an_empty_rules_directory_is_refused(rules: Path) -> None:
    current = _build(rules)
    with pytest.raises(ReloadError) as e:
        prepare(current, [], today=TODAY)
    assert [p.code for p in e.value.problems][:1] == ["no_policies"]
    assert isinstance(e.value.problems[0], Problem)
    current.close()
